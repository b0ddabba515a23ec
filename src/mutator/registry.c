/*
 * registry.c - mutators by name: the built-in ones and those registered by
 * plugins; helpers shared by mutator implementations.
 */
#include <stdio.h>
#include <string.h>

#include "mutator.h"

#define REGISTRY_MAX 64

extern const struct mutator_ops one_shot_module_mutator;
extern const struct mutator_ops one_shot_channel_mutator;
extern const struct mutator_ops slimmable_channel_mutator;

static const struct mutator_ops *registry[REGISTRY_MAX];
static int registered;

static void register_builtins(void)
{
    if (registered)
        return;
    registry[registered++] = &one_shot_module_mutator;
    registry[registered++] = &one_shot_channel_mutator;
    registry[registered++] = &slimmable_channel_mutator;
}

const struct mutator_ops *mutator_find(const char *name)
{
    register_builtins();
    for (int i = 0; i < registered; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

int mutator_register(const struct mutator_ops *ops)
{
    if (mutator_find(ops->name) != NULL || registered == REGISTRY_MAX)
        return -1;
    registry[registered++] = ops;
    return 0;
}

void mutator_names(char *buf, size_t size)
{
    register_builtins();
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < registered && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", registry[i]->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

const char *mutable_kind_name(enum mutable_kind kind)
{
    switch (kind) {
    case MUTABLE_MODULE: return "module";
    case MUTABLE_CHANNEL: return "channel";
    default: return "unknown";
    }
}

int mutator_pick(enum sample_kind kind, struct rng *rng, int n, int max_index, int min_index)
{
    switch (kind) {
    case SAMPLE_MAX: return max_index;
    case SAMPLE_MIN: return min_index;
    default: return (int)rng_below(rng, (uint64_t)n);
    }
}

void search_group_single(struct search_group *g, const char *name, int mutable_index)
{
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    g->nmutables = 1;
    g->mutables[0] = mutable_index;
}

int mutator_count(void)
{
    register_builtins();
    return registered;
}
