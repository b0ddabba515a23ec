/*
 * plugin_shared_op.c - a mutator built as a plugin, for test_mutator:
 * SharedOpMutator puts every choice block that offers both shuffle_3x3 and
 * shuffle_xception in one search group with those two choices.
 */
#include <stdlib.h>
#include <string.h>

#include "mutator.h"

static const char *const ops[] = {"shuffle_3x3", "shuffle_xception"};

struct shared_op {
    const struct supernet *sn;
    struct search_group group;
};

static int op_index(const struct block_def *b, const char *name)
{
    for (int o = 0; o < b->nops; o++)
        if (strcmp(b->ops[o].name, name) == 0)
            return o;
    return -1;
}

static enum mtd_status create(void **state, const config_setting_t *cfg, struct mtd_error *err)
{
    (void)cfg;
    *state = calloc(1, sizeof(struct shared_op));
    return *state ? MTD_OK : mtd_error_set(err, MTD_ERR_NOMEM, "out of memory");
}

static enum mtd_status prepare(void *state, const struct supernet *sn, struct mtd_error *err)
{
    struct shared_op *m = state;
    const struct space_def *def = supernet_space(sn);
    m->sn = sn;
    for (int b = 0; b < def->nblocks; b++) {
        if (op_index(&def->blocks[b], ops[0]) < 0 || op_index(&def->blocks[b], ops[1]) < 0)
            continue;
        if (m->group.nmutables == 0)
            search_group_single(&m->group, "shared_op", b);
        else
            m->group.mutables[m->group.nmutables++] = b;
    }
    if (m->group.nmutables == 0)
        return mtd_error_set(err, MTD_ERR_CONFIG, "SharedOpMutator: no block offers both ops");
    m->group.nchoices = 2;
    for (int c = 0; c < 2; c++)
        strcpy(m->group.choices[c].label, ops[c]);
    return MTD_OK;
}

static int groups(const void *state, const struct search_group **out)
{
    *out = &((const struct shared_op *)state)->group;
    return 1;
}

static void sample(const void *state, enum sample_kind kind, struct rng *rng, int *choices)
{
    (void)state;
    choices[0] = mutator_pick(kind, rng, 2, 1, 0);
}

static void set_choices(const void *state, const int *choices, struct arch *arch)
{
    const struct shared_op *m = state;
    const struct space_def *def = supernet_space(m->sn);
    for (int i = 0; i < m->group.nmutables; i++) {
        int b = m->group.mutables[i];
        arch->op[b + 1] = op_index(&def->blocks[b], ops[choices[0]]);
    }
}

static void current_choices(const void *state, const struct arch *arch, int *choices)
{
    const struct shared_op *m = state;
    const struct space_def *def = supernet_space(m->sn);
    int b = m->group.mutables[0];
    choices[0] = arch->op[b + 1] == op_index(&def->blocks[b], ops[1]);
}

static const struct mutator_ops shared_op_mutator = {
    .name = "SharedOpMutator",
    .kind = MUTABLE_MODULE,
    .create = create,
    .prepare_from_supernet = prepare,
    .search_groups = groups,
    .sample_choices = sample,
    .set_choices = set_choices,
    .current_choices = current_choices,
    .destroy = free,
};

int mutatord_plugin_init(void);

int mutatord_plugin_init(void)
{
    return mutator_register(&shared_op_mutator);
}
