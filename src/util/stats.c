/*
 * stats.c - statistics over score lists (stats.h).
 */
#include <math.h>
#include <stdlib.h>

#include "stats.h"

static int sign(double x)
{
    return (x > 0.0) - (x < 0.0);
}

double kendall_tau(const double *a, const double *b, int n)
{
    long concordant = 0, discordant = 0, ties_a = 0, ties_b = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            int sa = sign(a[i] - a[j]), sb = sign(b[i] - b[j]);
            if (sa == 0 && sb == 0)
                continue;
            if (sa == 0)
                ties_a++;
            else if (sb == 0)
                ties_b++;
            else if (sa == sb)
                concordant++;
            else
                discordant++;
        }
    double denom = sqrt((double)(concordant + discordant + ties_a) *
                        (double)(concordant + discordant + ties_b));
    return denom > 0.0 ? (double)(concordant - discordant) / denom : 0.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
