/*
 * fixture.c - fixture files, comparisons and random data for the tests.
 */
#include "fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "alloc.h"
#include "rng.h"

struct fixture_array {
    char name[64];
    uint32_t dtype;  /* 0 float32, 1 int32 */
    size_t count;
    void *data;
};

struct fixture {
    char path[512];
    int count;
    struct fixture_array *arrays;
};

static uint32_t read_u32(FILE *f, const char *path)
{
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4)
        fail_msg("%s: truncated fixture", path);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

struct fixture *fixture_load(const char *name)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->path, sizeof fx->path, "%s/%s.fx", FIXTURE_DIR, name);
    FILE *f = fopen(fx->path, "rb");
    if (f == NULL)
        fail_msg("%s: cannot open fixture", fx->path);
    char magic[8];
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "MTDFIX01", 8) != 0)
        fail_msg("%s: not a fixture file", fx->path);
    uint32_t count = read_u32(f, fx->path);
    fx->arrays = calloc((size_t)count + 1, sizeof *fx->arrays);
    assert_non_null(fx->arrays);
    for (uint32_t i = 0; i < count; i++) {
        struct fixture_array *a = &fx->arrays[i];
        uint32_t len = read_u32(f, fx->path);
        if (len >= sizeof a->name || fread(a->name, 1, len, f) != len)
            fail_msg("%s: bad array name", fx->path);
        a->name[len] = '\0';
        a->dtype = read_u32(f, fx->path);
        uint32_t ndim = read_u32(f, fx->path);
        a->count = 1;
        for (uint32_t d = 0; d < ndim; d++)
            a->count *= read_u32(f, fx->path);
        a->data = malloc(a->count * 4 + 4);
        assert_non_null(a->data);
        /* The files are little-endian, as is every machine this runs on. */
        if (fread(a->data, 4, a->count, f) != a->count)
            fail_msg("%s: truncated array %s", fx->path, a->name);
        fx->count++;
    }
    fclose(f);
    return fx;
}

void fixture_free(struct fixture *fx)
{
    for (int i = 0; i < fx->count; i++)
        free(fx->arrays[i].data);
    free(fx->arrays);
    free(fx);
}

int fixture_count(const struct fixture *fx)
{
    return fx->count;
}

const char *fixture_name(const struct fixture *fx, int i)
{
    return fx->arrays[i].name;
}

static const struct fixture_array *find(const struct fixture *fx, const char *key,
                                        uint32_t dtype)
{
    for (int i = 0; i < fx->count; i++) {
        if (strcmp(fx->arrays[i].name, key) == 0) {
            if (fx->arrays[i].dtype != dtype)
                fail_msg("%s: array %s has the wrong type", fx->path, key);
            return &fx->arrays[i];
        }
    }
    fail_msg("%s: no array %s", fx->path, key);
    return NULL;
}

const float *fixture_floats(const struct fixture *fx, const char *key, size_t *count)
{
    const struct fixture_array *a = find(fx, key, 0);
    if (count)
        *count = a->count;
    return a->data;
}

const int32_t *fixture_ints(const struct fixture *fx, const char *key, size_t *count)
{
    const struct fixture_array *a = find(fx, key, 1);
    if (count)
        *count = a->count;
    return a->data;
}

float *fixture_copy(const struct fixture *fx, const char *key, size_t min_count)
{
    size_t n;
    const float *src = fixture_floats(fx, key, &n);
    float *dst = floats_alloc(n > min_count ? n : min_count);
    assert_non_null(dst);
    memcpy(dst, src, n * sizeof *dst);
    return dst;
}

void assert_close(const float *got, const float *want, size_t n, double atol,
                  double rtol, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double diff = (double)got[i] - (double)want[i];
        double lim = atol + rtol * (want[i] < 0 ? -(double)want[i] : (double)want[i]);
        if (!(diff <= lim && -diff <= lim))
            fail_msg("%s[%zu]: got %.9g, want %.9g (|diff| %.3g > %.3g)", what, i,
                     (double)got[i], (double)want[i], diff < 0 ? -diff : diff, lim);
    }
}

void assert_all_zero(const float *x, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] != 0.0f)
            fail_msg("%s[%zu] = %.9g, want exactly 0", what, i, (double)x[i]);
}

float *random_floats(size_t n, uint64_t seed, float std)
{
    float *x = floats_alloc(n);
    assert_non_null(x);
    struct rng rng;
    rng_seed(&rng, seed);
    rng_fill_normal(&rng, x, (long)n, 0.0f, std);
    return x;
}

void remove_tree(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}
