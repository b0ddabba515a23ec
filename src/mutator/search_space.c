/*
 * search_space.c - loading plugins, creating and preparing the mutators of
 * a config, and numbering their search groups.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "search_space.h"

#define MAX_PLUGINS 8

struct mutator_slot {
    const struct mutator_ops *ops;
    void *state;
    int first_group, ngroups;
    const struct search_group *groups;
};

struct search_space {
    struct supernet *sn;
    int nmutators;
    struct mutator_slot m[SEARCH_SPACE_MAX_MUTATORS];
    int ngroups;
    const struct search_group *group[SEARCH_SPACE_MAX_GROUPS];
    enum mutable_kind kind[SEARCH_SPACE_MAX_GROUPS];
    void *plugins[MAX_PLUGINS];
    char plugin_paths[MAX_PLUGINS][PATH_MAX];
    int nplugins;
};

static enum mtd_status load_plugins(struct search_space *ss, const config_setting_t *root,
                                    struct mtd_error *err)
{
    const config_setting_t *list;
    enum mtd_status st = conf_get_list(root, "plugins", 0, 0, MAX_PLUGINS, &list, err);
    for (int i = 0; st == MTD_OK && list && i < config_setting_length(list); i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        const char *path = config_setting_get_string(e);
        if (path == NULL)
            return conf_error(err, e, "expected the path of a shared object");
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (h == NULL)
            return conf_error(err, e, "cannot load plugin: %s", dlerror());
        snprintf(ss->plugin_paths[ss->nplugins], sizeof ss->plugin_paths[0], "%s", path);
        ss->plugins[ss->nplugins++] = h;
        int (*init)(void);
        *(void **)&init = dlsym(h, "mutatord_plugin_init");
        if (init == NULL)
            return conf_error(err, e, "%s exports no mutatord_plugin_init", path);
        int before = mutator_count();
        if (init() != 0)
            return conf_error(err, e, "%s: mutatord_plugin_init failed (a mutator name taken?)", path);
        if (mutator_count() == before)
            return conf_error(err, e, "%s: mutatord_plugin_init registered no mutator", path);
        log_msg(LOG_INFO, "plugin %s loaded", path);
    }
    return st;
}

static enum mtd_status create_mutators(struct search_space *ss, const config_setting_t *list,
                                       struct mtd_error *err)
{
    for (int i = 0; i < config_setting_length(list); i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        const char *type = NULL;
        if (config_setting_type(e) != CONFIG_TYPE_GROUP)
            return conf_error(err, e, "expected a mutator group { type = \"...\"; ... }");
        enum mtd_status st = conf_get_string(e, "type", 1, &type, err);
        if (st != MTD_OK)
            return st;
        const struct mutator_ops *ops = mutator_find(type);
        if (ops == NULL) {
            char names[512];
            mutator_names(names, sizeof names);
            return conf_error(err, conf_child(e, "type"), "unknown mutator '%s' (known: %s)", type, names);
        }
        struct mutator_slot *m = &ss->m[ss->nmutators];
        st = ops->create(&m->state, e, err);
        if (st != MTD_OK)
            return st;
        m->ops = ops;
        ss->nmutators++;
    }
    return MTD_OK;
}

/* Every block and unit in one group of one mutator at most. */
static enum mtd_status check_overlap(const struct search_space *ss, struct mtd_error *err)
{
    for (int a = 0; a < ss->ngroups; a++)
        for (int b = a + 1; b < ss->ngroups; b++) {
            if (ss->kind[a] != ss->kind[b])
                continue;
            const struct search_group *x = ss->group[a], *y = ss->group[b];
            for (int i = 0; i < x->nmutables; i++)
                for (int j = 0; j < y->nmutables; j++)
                    if (x->mutables[i] == y->mutables[j])
                        return mtd_error_set(err, MTD_ERR_CONFIG,
                                             "search groups '%s' and '%s' both manage %s %d: "
                                             "give each %s to one mutator",
                                             x->name, y->name, mutable_kind_name(ss->kind[a]),
                                             x->mutables[i], mutable_kind_name(ss->kind[a]));
        }
    return MTD_OK;
}

/* The extreme archs must be valid networks: every branch of every op at
 * least one channel wide (a stride-2 shuffle block needs more output than
 * input channels whatever the widths chosen). */
static enum mtd_status check_extremes(const struct search_space *ss, struct mtd_error *err)
{
    int choices[SEARCH_SPACE_MAX_GROUPS];
    struct arch arch;
    int max_ops = 1;
    for (int g = 0; g < ss->ngroups; g++)
        if (ss->kind[g] == MUTABLE_MODULE && ss->group[g]->nchoices > max_ops)
            max_ops = ss->group[g]->nchoices;
    for (int flip = -1; flip < ss->ngroups; flip++)
        for (int op = 0; op < max_ops; op++)
            for (int low = 0; low < 2; low++) {
                for (int g = 0; g < ss->ngroups; g++) {
                    int n = ss->group[g]->nchoices;
                    if (ss->kind[g] == MUTABLE_MODULE)
                        choices[g] = op < n ? op : n - 1;
                    else
                        choices[g] = (low ^ (g == flip)) ? 0 : n - 1;
                }
                search_space_to_arch(ss, choices, &arch);
                struct mtd_error why;
                if (supernet_arch_check(ss->sn, &arch, &why) != MTD_OK)
                    return mtd_error_set(err, MTD_ERR_CONFIG,
                                         "the width choices allow an invalid network: %s", why.msg);
            }
    return MTD_OK;
}

enum mtd_status search_space_create(struct search_space **out, const config_setting_t *root,
                                    uint64_t seed, struct mtd_error *err)
{
    *out = NULL;
    struct search_space *ss = calloc(1, sizeof *ss);
    if (ss == NULL)
        return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory");
    const config_setting_t *sn_cfg, *mutators;
    struct space_def *def = malloc(sizeof *def);
    enum mtd_status st = def ? MTD_OK : mtd_error_set(err, MTD_ERR_NOMEM, "out of memory");
    if (st == MTD_OK) st = load_plugins(ss, root, err);
    if (st == MTD_OK) st = conf_get_group(root, "supernet", 1, &sn_cfg, err);
    if (st == MTD_OK) st = space_def_parse(sn_cfg, def, err);
    if (st == MTD_OK) st = conf_get_list(root, "mutators", 1, 1, SEARCH_SPACE_MAX_MUTATORS, &mutators, err);
    if (st == MTD_OK) st = create_mutators(ss, mutators, err);
    int bn_sets = 1;
    for (int i = 0; st == MTD_OK && i < ss->nmutators; i++) {
        int n = ss->m[i].ops->bn_sets ? ss->m[i].ops->bn_sets(ss->m[i].state) : 1;
        if (n > 1 && bn_sets > 1)
            st = mtd_error_set(err, MTD_ERR_CONFIG, "two mutators want switchable BN");
        if (n > bn_sets)
            bn_sets = n;
    }
    if (st == MTD_OK) st = supernet_create(&ss->sn, def, bn_sets, seed, err);
    for (int i = 0; st == MTD_OK && i < ss->nmutators; i++) {
        struct mutator_slot *m = &ss->m[i];
        st = m->ops->prepare_from_supernet(m->state, ss->sn, err);
        if (st != MTD_OK)
            break;
        m->first_group = ss->ngroups;
        m->ngroups = m->ops->search_groups(m->state, &m->groups);
        if (ss->ngroups + m->ngroups > SEARCH_SPACE_MAX_GROUPS) {
            st = mtd_error_set(err, MTD_ERR_CONFIG, "more than %d search groups", SEARCH_SPACE_MAX_GROUPS);
            break;
        }
        for (int g = 0; g < m->ngroups; g++) {
            ss->group[ss->ngroups] = &m->groups[g];
            ss->kind[ss->ngroups++] = m->ops->kind;
        }
    }
    if (st == MTD_OK) st = check_overlap(ss, err);
    if (st == MTD_OK) st = check_extremes(ss, err);
    free(def);
    if (st != MTD_OK) {
        search_space_free(ss);
        return st;
    }
    *out = ss;
    return MTD_OK;
}

void search_space_free(struct search_space *ss)
{
    if (ss == NULL)
        return;
    for (int i = 0; i < ss->nmutators; i++)
        ss->m[i].ops->destroy(ss->m[i].state);
    supernet_free(ss->sn);
    /* Plugins stay loaded: their mutators remain in the registry. */
    free(ss);
}

struct supernet *search_space_supernet(const struct search_space *ss) { return ss->sn; }
int search_space_nmutators(const struct search_space *ss) { return ss->nmutators; }
const struct mutator_ops *search_space_mutator(const struct search_space *ss, int i) { return ss->m[i].ops; }
int search_space_ngroups(const struct search_space *ss) { return ss->ngroups; }

void search_space_mutator_groups(const struct search_space *ss, int m, int *first, int *n)
{
    *first = ss->m[m].first_group;
    *n = ss->m[m].ngroups;
}
const struct search_group *search_space_group(const struct search_space *ss, int g) { return ss->group[g]; }
enum mutable_kind search_space_group_kind(const struct search_space *ss, int g) { return ss->kind[g]; }

int search_space_group_find(const struct search_space *ss, const char *name)
{
    for (int g = 0; g < ss->ngroups; g++)
        if (strcmp(ss->group[g]->name, name) == 0)
            return g;
    return -1;
}

double search_space_size(const struct search_space *ss)
{
    double n = 1.0;
    for (int g = 0; g < ss->ngroups; g++)
        n *= ss->group[g]->nchoices;
    return n;
}

void search_space_sample(const struct search_space *ss, enum sample_kind kind, struct rng *rng,
                         int *choices)
{
    for (int i = 0; i < ss->nmutators; i++)
        ss->m[i].ops->sample_choices(ss->m[i].state, kind, rng, choices + ss->m[i].first_group);
}

void search_space_to_arch(const struct search_space *ss, const int *choices, struct arch *arch)
{
    supernet_arch_max(ss->sn, arch);
    for (int i = 0; i < ss->nmutators; i++)
        ss->m[i].ops->set_choices(ss->m[i].state, choices + ss->m[i].first_group, arch);
}

int search_space_from_arch(const struct search_space *ss, const struct arch *arch, int *choices)
{
    for (int i = 0; i < ss->nmutators; i++)
        ss->m[i].ops->current_choices(ss->m[i].state, arch, choices + ss->m[i].first_group);
    for (int g = 0; g < ss->ngroups; g++)
        if (choices[g] < 0)
            return -1;
    return 0;
}

int search_space_nplugins(const struct search_space *ss)
{
    return ss->nplugins;
}

const char *search_space_plugin(const struct search_space *ss, int i)
{
    return ss->plugin_paths[i];
}
