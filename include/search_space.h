/*
 * search_space.h - a supernet and the mutators acting on it together, as a
 * config describes them:
 *
 *   plugins  = ["./libmymutators.so"];        # optional: more mutators
 *   supernet = { ... };                        # space.h
 *   mutators = ( { type = "OneShotModuleMutator"; ... },
 *                { type = "OneShotChannelMutator"; ... } );
 *
 * The search groups of all mutators, in config order, are the coordinates
 * of a subnet (subnet.h). A unit or block is managed by one mutator at
 * most.
 */
#ifndef MUTATORD_SEARCH_SPACE_H
#define MUTATORD_SEARCH_SPACE_H

#include <libconfig.h>
#include <stdint.h>

#include "mutator.h"

#define SEARCH_SPACE_MAX_MUTATORS 8
#define SEARCH_SPACE_MAX_GROUPS (SPACE_MAX_BLOCKS + SUPERNET_MAX_UNITS)

struct search_space;

/* Builds the supernet (weights from seed) and prepares every mutator.
 * `root` is the config's root setting; the config must outlive the search
 * space. Errors name the file and line. */
enum mtd_status search_space_create(struct search_space **out, const config_setting_t *root,
                                    uint64_t seed, struct mtd_error *err);
void search_space_free(struct search_space *ss);

struct supernet *search_space_supernet(const struct search_space *ss);

int search_space_nmutators(const struct search_space *ss);
const struct mutator_ops *search_space_mutator(const struct search_space *ss, int i);

/* The groups of mutator m: first, first + 1, ..., first + n - 1. */
void search_space_mutator_groups(const struct search_space *ss, int m, int *first, int *n);

/* All search groups, numbered across mutators. */
int search_space_ngroups(const struct search_space *ss);
const struct search_group *search_space_group(const struct search_space *ss, int g);
/* The kind of mutable group g holds. */
enum mutable_kind search_space_group_kind(const struct search_space *ss, int g);
/* The group called name, or -1. */
int search_space_group_find(const struct search_space *ss, const char *name);

/* The plugins loaded (their paths as the config names them), for logs
 * opened after the config was read. */
int search_space_nplugins(const struct search_space *ss);
const char *search_space_plugin(const struct search_space *ss, int i);

/* The number of subnets: the product of the groups' choice counts. */
double search_space_size(const struct search_space *ss);

/* choices: one index per group. sample asks every mutator; to_arch starts
 * from the maximum arch and lets every mutator set its choices; from_arch
 * reads them back and returns 0, or -1 when some group's setting in arch
 * is none of its choices (that group's index is then -1). */
void search_space_sample(const struct search_space *ss, enum sample_kind kind, struct rng *rng,
                         int *choices);
void search_space_to_arch(const struct search_space *ss, const int *choices, struct arch *arch);
int search_space_from_arch(const struct search_space *ss, const struct arch *arch, int *choices);

#endif
