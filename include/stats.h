/*
 * stats.h - small statistics over score lists.
 */
#ifndef MUTATORD_STATS_H
#define MUTATORD_STATS_H

/* Kendall's tau-b of two lists of n scores: (concordant - discordant) /
 * sqrt((pairs not tied in a) * (pairs not tied in b)), in [-1, 1]; 0 when
 * either list is constant. */
double kendall_tau(const double *a, const double *b, int n);

/* The median of v[0..n) (n >= 1; the mean of the middle two when n is
 * even: few repetitions, and the upper one alone leans one way). Sorts v. */
double median(double *v, int n);

#endif
