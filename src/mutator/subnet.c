/*
 * subnet.c - subnet hashing and the libconfig text form.
 */
#include "subnet.h"

#include <errno.h>
#include <string.h>

#include "conf.h"

uint64_t subnet_hash(const struct subnet *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    uint32_t words[1 + SEARCH_SPACE_MAX_GROUPS];
    words[0] = (uint32_t)s->n;
    for (int i = 0; i < s->n; i++)
        words[i + 1] = (uint32_t)s->choice[i];
    for (int i = 0; i <= s->n; i++)
        for (int b = 0; b < 4; b++) {
            h ^= (words[i] >> (8 * b)) & 0xffu;
            h *= 0x100000001b3ULL;
        }
    return h;
}

int subnet_equal(const struct subnet *a, const struct subnet *b)
{
    return a->n == b->n && memcmp(a->choice, b->choice, (size_t)a->n * sizeof a->choice[0]) == 0;
}

void subnet_metrics_set(struct subnet_metrics *m, const char *name, double value)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->name[i], name) == 0) {
            m->value[i] = value;
            return;
        }
    if (m->n == SUBNET_MAX_METRICS)
        return;
    snprintf(m->name[m->n], sizeof m->name[m->n], "%s", name);
    m->value[m->n++] = value;
}

enum mtd_status subnet_write(const struct search_space *ss, const struct subnet *s,
                             const struct subnet_metrics *metrics, FILE *f, const char *what,
                             struct mtd_error *err)
{
    fprintf(f, "# mutatord subnet %016llx\nsubnet = (\n", (unsigned long long)subnet_hash(s));
    for (int g = 0; g < s->n; g++) {
        const struct search_group *grp = search_space_group(ss, g);
        const struct choice *c = &grp->choices[s->choice[g]];
        /* Numeric labels are libconfig literals already: a ratio has a
         * point ("1.0"), a channel count none ("24"). */
        const char *quote = c->numeric ? "" : "\"";
        fprintf(f, "  { group = \"%s\"; choice = %s%s%s; }%s\n", grp->name, quote, c->label, quote,
                g + 1 < s->n ? "," : "");
    }
    fprintf(f, ");\n");
    if (metrics && metrics->n) {
        fprintf(f, "metrics = {");
        for (int i = 0; i < metrics->n; i++)
            fprintf(f, " %s = %.17g;", metrics->name[i], metrics->value[i]);
        fprintf(f, " };\n");
    }
    if (fflush(f) != 0 || ferror(f))
        return mtd_error_set(err, MTD_ERR_IO, "%s: write failed: %s", what, strerror(errno));
    return MTD_OK;
}

/* The index of the choice setting e names in group g, or -1: a string
 * names a label, a float a ratio, an integer a channel count. */
static int match_choice(const struct search_group *g, const config_setting_t *e)
{
    int type = config_setting_type(e);
    for (int c = 0; c < g->nchoices; c++) {
        const struct choice *ch = &g->choices[c];
        int ratio = strchr(ch->label, '.') != NULL;
        if (type == CONFIG_TYPE_STRING && strcmp(config_setting_get_string(e), ch->label) == 0)
            return c;
        if (ch->numeric && ratio && type == CONFIG_TYPE_FLOAT && config_setting_get_float(e) == ch->value)
            return c;
        if (ch->numeric && !ratio && type == CONFIG_TYPE_INT && config_setting_get_int(e) == ch->value)
            return c;
    }
    return -1;
}

static enum mtd_status parse(const struct search_space *ss, const config_setting_t *root,
                             struct subnet *s, struct subnet_metrics *metrics,
                             struct mtd_error *err)
{
    static const char *const top[] = {"subnet", "metrics", NULL};
    static const char *const keys[] = {"group", "choice", NULL};
    const config_setting_t *list;
    enum mtd_status st = conf_check_keys(root, top, err);
    if (st == MTD_OK) st = conf_get_list(root, "subnet", 1, 1, SEARCH_SPACE_MAX_GROUPS, &list, err);
    if (st != MTD_OK)
        return st;
    int n = search_space_ngroups(ss);
    int seen[SEARCH_SPACE_MAX_GROUPS] = {0};
    s->n = n;
    for (int i = 0; i < config_setting_length(list); i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        const char *name;
        if (config_setting_type(e) != CONFIG_TYPE_GROUP)
            return conf_error(err, e, "expected { group = \"...\"; choice = ...; }");
        st = conf_check_keys(e, keys, err);
        if (st == MTD_OK) st = conf_get_string(e, "group", 1, &name, err);
        if (st != MTD_OK)
            return st;
        int g = search_space_group_find(ss, name);
        if (g < 0)
            return conf_error(err, e, "this search space has no group '%s'", name);
        if (seen[g])
            return conf_error(err, e, "group '%s' given twice", name);
        const config_setting_t *choice = conf_child(e, "choice");
        if (choice == NULL)
            return conf_error(err, e, "missing required key 'choice'");
        const struct search_group *grp = search_space_group(ss, g);
        int c = match_choice(grp, choice);
        if (c < 0) {
            char list_buf[256] = "";
            size_t used = 0;
            for (int k = 0; k < grp->nchoices && used < sizeof list_buf; k++) {
                int w = snprintf(list_buf + used, sizeof list_buf - used, "%s%s", k ? ", " : "",
                                 grp->choices[k].label);
                if (w < 0)
                    break;
                used += (size_t)w;
            }
            char given[64];
            if (config_setting_type(choice) == CONFIG_TYPE_STRING)
                snprintf(given, sizeof given, "'%s'", config_setting_get_string(choice));
            else if (config_setting_type(choice) == CONFIG_TYPE_FLOAT)
                snprintf(given, sizeof given, "%g", config_setting_get_float(choice));
            else if (config_setting_is_number(choice))
                snprintf(given, sizeof given, "%lld", config_setting_get_int64(choice));
            else
                snprintf(given, sizeof given, "this value");
            return conf_error(err, choice, "%s is not a choice of group '%s' (choices: %s)", given,
                              name, list_buf);
        }
        seen[g] = 1;
        s->choice[g] = c;
    }
    for (int g = 0; g < n; g++)
        if (!seen[g])
            return conf_error(err, list, "group '%s' has no choice", search_space_group(ss, g)->name);
    if (metrics) {
        const config_setting_t *m;
        metrics->n = 0;
        st = conf_get_group(root, "metrics", 0, &m, err);
        for (int i = 0; st == MTD_OK && m && i < config_setting_length(m); i++) {
            const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
            int t = config_setting_type(e);
            if (t != CONFIG_TYPE_FLOAT && t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
                return conf_error(err, e, "expected a number");
            subnet_metrics_set(metrics, config_setting_name(e),
                               t == CONFIG_TYPE_FLOAT ? config_setting_get_float(e)
                                                      : (double)config_setting_get_int64(e));
        }
    }
    return st;
}

enum mtd_status subnet_load(const struct search_space *ss, const char *path, struct subnet *s,
                            struct subnet_metrics *metrics, struct mtd_error *err)
{
    config_t cfg;
    enum mtd_status st = conf_read_file(&cfg, path, err);
    if (st == MTD_OK)
        st = parse(ss, config_root_setting(&cfg), s, metrics, err);
    config_destroy(&cfg);
    return st;
}

enum mtd_status subnet_load_string(const struct search_space *ss, const char *text,
                                   const char *name, struct subnet *s,
                                   struct subnet_metrics *metrics, struct mtd_error *err)
{
    config_t cfg;
    enum mtd_status st = conf_read_string(&cfg, text, name, err);
    if (st == MTD_OK)
        st = parse(ss, config_root_setting(&cfg), s, metrics, err);
    config_destroy(&cfg);
    return st;
}
