/*
 * mutator.h - mutators, MMRazor's model in C.
 *
 * A mutable is a choice point of the supernet: a choice block (module
 * mutable: which op runs) or a channel unit (channel mutable: how wide it
 * is). A mutator manages mutables of one kind. It arranges them in search
 * groups: the mutables of a group share one search space and one sampled
 * choice (MMRazor's custom groups). A subnet is the choice of every group of
 * every mutator of a search space (search_space.h).
 *
 * A mutator is a table of function pointers (mutator_ops) and its own state.
 * Mutators are found by name in a registry; the built-in ones are
 * OneShotModuleMutator, OneShotChannelMutator and SlimmableChannelMutator,
 * and a config may load more from shared objects (`plugins = [...]`): each
 * object exports `int mutatord_plugin_init(void)`, which calls
 * mutator_register for its mutators and returns 0.
 *
 * Choices live in the arch: set_choices writes an arch, current_choices
 * reads one, and a mutator's state only describes its search space, so one
 * mutator serves any number of archs (and threads) at once.
 */
#ifndef MUTATORD_MUTATOR_H
#define MUTATORD_MUTATOR_H

#include <libconfig.h>

#include "rng.h"
#include "status.h"
#include "supernet.h"

#define MUTATOR_MAX_CHOICES 32
#define MUTATOR_GROUP_NAME_MAX 64

/* Appended to only. */
enum mutable_kind {
    MUTABLE_MODULE,   /* a choice block: which op */
    MUTABLE_CHANNEL,  /* a channel unit: how many channels */
    MUTABLE_KIND_COUNT
};
const char *mutable_kind_name(enum mutable_kind kind);

enum sample_kind {
    SAMPLE_RANDOM,    /* uniform over each group's choices */
    SAMPLE_MAX,       /* the largest choice of each group */
    SAMPLE_MIN        /* the smallest */
};

struct choice {
    char label[32];   /* as written in subnet files: "shuffle_3x3", "0.5", "24" */
    double value;     /* the number, when numeric */
    int numeric;      /* written as a number rather than a string */
};

struct search_group {
    char name[MUTATOR_GROUP_NAME_MAX];  /* its first mutable's name (or alias) */
    int nmutables;
    int mutables[SUPERNET_MAX_UNITS];   /* block or unit indices */
    int nchoices;
    struct choice choices[MUTATOR_MAX_CHOICES];
};

struct mutator_ops {
    const char *name;                 /* "OneShotModuleMutator" */
    enum mutable_kind kind;

    /* Parses the mutator's config group (its `type` key aside) into a new
     * state. Errors name file and line. */
    enum mtd_status (*create)(void **state, const config_setting_t *cfg, struct mtd_error *err);

    /* Optional: how many switchable BN sets the supernet needs (1 if NULL). */
    int (*bn_sets)(const void *state);

    /* Finds the mutables in the supernet and forms the search groups. */
    enum mtd_status (*prepare_from_supernet)(void *state, const struct supernet *sn,
                                             struct mtd_error *err);

    /* The search groups; valid after prepare_from_supernet. */
    int (*search_groups)(const void *state, const struct search_group **groups);

    /* One choice index per search group into choices. */
    void (*sample_choices)(const void *state, enum sample_kind kind, struct rng *rng,
                           int *choices);

    /* Writes the choices into arch, and reads them back: current_choices
     * gives -1 for a group whose setting in arch is none of its choices
     * (an arch from outside this search space). */
    void (*set_choices)(const void *state, const int *choices, struct arch *arch);
    void (*current_choices)(const void *state, const struct arch *arch, int *choices);

    void (*destroy)(void *state);
};

/* Adds ops to the registry; returns 0, or -1 when the name is taken or the
 * registry is full. The table must outlive the program (static storage). */
int mutator_register(const struct mutator_ops *ops);

/* How many mutators are registered (the built-in ones included). */
int mutator_count(void);

/* The registered mutator called name, or NULL. The built-in mutators are
 * always registered. */
const struct mutator_ops *mutator_find(const char *name);

/* The names of all registered mutators, comma-separated, for messages. */
void mutator_names(char *buf, size_t size);

/* Helpers for mutator implementations. */

/* A uniform index in [0, n) (SAMPLE_RANDOM), else the given max or min. */
int mutator_pick(enum sample_kind kind, struct rng *rng, int n, int max_index, int min_index);

/* A search group holding one mutable. */
void search_group_single(struct search_group *g, const char *name, int mutable_index);

#endif
