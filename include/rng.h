/*
 * rng.h - the project's seeded random number generator (xoshiro256**,
 * seeded through splitmix64). Its whole state is the public struct below,
 * so a checkpoint can save and restore it and a resumed run draws exactly
 * the numbers an uninterrupted one would. Not thread-safe: one generator
 * per thread of use.
 */
#ifndef MUTATORD_RNG_H
#define MUTATORD_RNG_H

#include <stdint.h>

struct rng {
    uint64_t s[4];
};

/* Seeds the generator; every seed, 0 included, gives a valid state. */
void rng_seed(struct rng *rng, uint64_t seed);

/* A seed for an independent stream, derived from a seed and a stream
 * number (e.g. the epoch, or an image's position): streams that a resumed
 * run can recreate from counters instead of saving generator states. */
uint64_t rng_derive(uint64_t seed, uint64_t stream);

/* The next 64 random bits. */
uint64_t rng_next(struct rng *rng);

/* A uniform integer in [0, bound), without modulo bias; bound > 0. */
uint64_t rng_below(struct rng *rng, uint64_t bound);

/* A uniform float in [0, 1) with 24 random bits. */
float rng_uniform(struct rng *rng);

/* A standard normal value (Box-Muller; consumes two draws). */
float rng_normal(struct rng *rng);

/* Fills x[0..n) with uniform values in [lo, hi). */
void rng_fill_uniform(struct rng *rng, float *x, long n, float lo, float hi);

/* Fills x[0..n) with normal values of the given mean and standard deviation. */
void rng_fill_normal(struct rng *rng, float *x, long n, float mean, float std);

#endif
