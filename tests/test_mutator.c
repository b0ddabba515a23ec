/*
 * test_mutator.c - mutator semantics (custom groups and aliases share one
 * choice, max and min, set/current round trip, uniform sampling), channel
 * and slimmable mutators, the subnet file round trip and its errors, and a
 * mutator loaded from a plugin.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "parallel.h"
#include "search_space.h"
#include "subnet.h"

#define SPACE_HEAD                                                                              \
    "supernet = { input = { channels = 1; height = 8; width = 8; }; classes = 3;\n"             \
    "  stem = { channels = 8; };\n"                                                            \
    "  stages = (\n"                                                                           \
    "    { blocks = 3; channels = 16; stride = 2; aliases = [\"\", \"twin\", \"twin\"];\n"     \
    "      ops = [\"shuffle_3x3\", \"shuffle_5x5\", \"shuffle_7x7\", \"shuffle_xception\"]; },\n" \
    "    { blocks = 2; channels = 16; stride = 1;\n"                                           \
    "      ops = [\"mb_k3_e3\", \"mb_k5_e6\", \"identity\"]; } );\n"                           \
    "  last = { channels = 32; }; };\n"

struct loaded {
    config_t cfg;
    struct search_space *ss;
};

static struct loaded *load(const char *text)
{
    struct loaded *l = calloc(1, sizeof *l);
    struct mtd_error err = {0};
    assert_int_equal(conf_read_string(&l->cfg, text, "test.conf", &err), MTD_OK);
    if (search_space_create(&l->ss, config_root_setting(&l->cfg), 1, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    return l;
}

static void unload(struct loaded *l)
{
    search_space_free(l->ss);
    config_destroy(&l->cfg);
    free(l);
}

static void expect_error(const char *text, const char *needle)
{
    config_t cfg;
    struct mtd_error err = {0};
    struct search_space *ss = NULL;
    assert_int_equal(conf_read_string(&cfg, text, "bad.conf", &err), MTD_OK);
    enum mtd_status st = search_space_create(&ss, config_root_setting(&cfg), 1, &err);
    config_destroy(&cfg);
    assert_null(ss);
    assert_int_equal(st, MTD_ERR_CONFIG);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("error '%s' does not mention '%s'", err.msg, needle);
}

static const char *module_conf =
    SPACE_HEAD "mutators = ( { type = \"OneShotModuleMutator\";\n"
               "  custom_groups = ( [\"stage2.block0\", \"stage2.block1\"] ); } );\n";

static void test_groups(void **state)
{
    (void)state;
    struct loaded *l = load(module_conf);
    /* stage1.block0; the alias "twin" (blocks 1 and 2); the custom group. */
    assert_int_equal(search_space_ngroups(l->ss), 3);
    assert_string_equal(search_space_group(l->ss, 0)->name, "stage1.block0");
    assert_string_equal(search_space_group(l->ss, 1)->name, "twin");
    assert_int_equal(search_space_group(l->ss, 1)->nmutables, 2);
    assert_string_equal(search_space_group(l->ss, 2)->name, "stage2.block0");
    assert_int_equal(search_space_group(l->ss, 2)->nmutables, 2);
    assert_true(search_space_size(l->ss) == 4.0 * 4.0 * 3.0);

    /* Members of a group share the sampled choice. */
    struct rng rng;
    rng_seed(&rng, 3);
    for (int i = 0; i < 50; i++) {
        int c[SEARCH_SPACE_MAX_GROUPS], back[SEARCH_SPACE_MAX_GROUPS];
        struct arch a;
        search_space_sample(l->ss, SAMPLE_RANDOM, &rng, c);
        search_space_to_arch(l->ss, c, &a);
        assert_int_equal(a.op[1], c[0]);
        assert_int_equal(a.op[2], c[1]);
        assert_int_equal(a.op[3], c[1]);
        assert_int_equal(a.op[4], c[2]);
        assert_int_equal(a.op[5], c[2]);
        assert_int_equal(search_space_from_arch(l->ss, &a, back), 0);
        assert_memory_equal(c, back, 3 * sizeof c[0]);
        /* Blocks of one group with different ops: no choice of the space. */
        a.op[3] = (a.op[2] + 1) % 4;
        assert_int_equal(search_space_from_arch(l->ss, &a, back), -1);
        assert_int_equal(back[1], -1);
        assert_int_equal(back[0], c[0]);
    }
    unload(l);
}

static void test_max_min(void **state)
{
    (void)state;
    struct loaded *l = load(module_conf);
    int c[SEARCH_SPACE_MAX_GROUPS];
    search_space_sample(l->ss, SAMPLE_MAX, NULL, c);
    /* Most MACs at these widths: shuffle_7x7 (49 taps per channel, against
     * xception's 3 x 9 taps and one more 1x1 of 8 x 8) and the widest
     * inverted residual; fewest: shuffle_3x3 and identity. */
    assert_int_equal(c[0], 2);
    assert_int_equal(c[1], 2);
    assert_int_equal(c[2], 1);
    search_space_sample(l->ss, SAMPLE_MIN, NULL, c);
    assert_int_equal(c[0], 0);
    assert_int_equal(c[1], 0);
    assert_int_equal(c[2], 2);
    unload(l);
}

static void test_uniform_sampling(void **state)
{
    (void)state;
    struct loaded *l = load(module_conf);
    struct rng rng;
    rng_seed(&rng, 2024);
    int counts[3][4] = {{0}};
    const int draws = 40000;
    for (int i = 0; i < draws; i++) {
        int c[SEARCH_SPACE_MAX_GROUPS];
        search_space_sample(l->ss, SAMPLE_RANDOM, &rng, c);
        for (int g = 0; g < 3; g++)
            counts[g][c[g]]++;
    }
    for (int g = 0; g < 3; g++) {
        int n = search_space_group(l->ss, g)->nchoices;
        double expect = (double)draws / n;
        /* Five standard deviations of a binomial count. */
        double tol = 5.0 * sqrt(expect * (1.0 - 1.0 / n));
        for (int k = 0; k < n; k++)
            if (fabs(counts[g][k] - expect) > tol)
                fail_msg("group %d choice %d drawn %d times, expected %.0f +- %.0f", g, k,
                         counts[g][k], expect, tol);
        if (n < 4)
            assert_int_equal(counts[g][3], 0);
    }
    unload(l);
}

static void test_channel_mutator(void **state)
{
    (void)state;
    struct loaded *l = load(
        SPACE_HEAD "mutators = ( { type = \"OneShotModuleMutator\"; },\n"
                   "  { type = \"OneShotChannelMutator\"; candidates = [0.5, 0.75, 1.0]; divisor = 4;\n"
                   "    units = [\"stage1.block0.mid\", \"stage2.block0.mid\", \"last\"];\n"
                   "    overrides = ( { unit = \"last\"; candidates = [16, 24, 32]; } ); } );\n");
    assert_int_equal(search_space_ngroups(l->ss), 4 + 3);
    int g = search_space_group_find(l->ss, "last");
    assert_true(g >= 0);
    assert_int_equal(search_space_group_kind(l->ss, g), MUTABLE_CHANNEL);
    assert_string_equal(search_space_group(l->ss, g)->choices[1].label, "24");
    int mid = search_space_group_find(l->ss, "stage2.block0.mid");
    assert_string_equal(search_space_group(l->ss, mid)->choices[2].label, "1.0");

    struct rng rng;
    rng_seed(&rng, 9);
    for (int i = 0; i < 30; i++) {
        int c[SEARCH_SPACE_MAX_GROUPS], back[SEARCH_SPACE_MAX_GROUPS];
        struct arch a;
        search_space_sample(l->ss, SAMPLE_RANDOM, &rng, c);
        search_space_to_arch(l->ss, c, &a);
        assert_int_equal(search_space_from_arch(l->ss, &a, back), 0);
        assert_memory_equal(c, back, (size_t)search_space_ngroups(l->ss) * sizeof c[0]);
        const struct supernet *sn = search_space_supernet(l->ss);
        int u = supernet_unit_find(sn, "last");
        int want[] = {16, 24, 32};
        assert_int_equal(unit_width_resolve(&a.width[u], 32, 1), want[c[g]]);
        /* A width that is none of the candidates is reported, not rounded. */
        a.width[u].channels = 20;
        assert_int_equal(search_space_from_arch(l->ss, &a, back), -1);
        assert_int_equal(back[g], -1);
    }
    unload(l);
}

static void test_slimmable(void **state)
{
    (void)state;
    struct loaded *l = load(
        SPACE_HEAD "mutators = ( { type = \"SlimmableChannelMutator\"; multipliers = [0.5, 1.0]; divisor = 2; } );\n");
    const struct supernet *sn = search_space_supernet(l->ss);
    assert_int_equal(supernet_bn_sets(sn), 2);
    assert_int_equal(search_space_ngroups(l->ss), 1);
    int c[1] = {0};
    struct arch a;
    search_space_to_arch(l->ss, c, &a);
    assert_int_equal(a.bn_set, 0);
    int u = supernet_unit_find(sn, "stage1.block0");
    assert_int_equal(unit_width_resolve(&a.width[u], 16, 2), 8);
    /* Each configuration has its own BN affine parameters. */
    assert_true(supernet_param_find(sn, "stem.n1.s1.weight") >= 0);
    c[0] = 1;
    search_space_to_arch(l->ss, c, &a);
    assert_int_equal(a.bn_set, 1);
    assert_int_equal(unit_width_resolve(&a.width[u], 16, 2), 16);
    int back[1];
    assert_int_equal(search_space_from_arch(l->ss, &a, back), 0);
    assert_int_equal(back[0], 1);
    /* Full widths with the half-width BN set are no configuration. */
    a.bn_set = 0;
    assert_int_equal(search_space_from_arch(l->ss, &a, back), -1);
    unload(l);
}

static void test_config_errors(void **state)
{
    (void)state;
    expect_error(SPACE_HEAD "mutators = ( { type = \"OneShotModuleMutatr\"; } );",
                 "bad.conf:9: mutators[0].type: unknown mutator 'OneShotModuleMutatr'");
    expect_error(SPACE_HEAD "mutators = ( { type = \"OneShotModuleMutator\"; custom_groups = ( [\"stage9.block0\"] ); } );",
                 "no choice block is named 'stage9.block0'");
    expect_error(SPACE_HEAD "mutators = ( { type = \"OneShotModuleMutator\"; custom_groups = ( [\"stage1.block0\", \"stage2.block0\"] ); } );",
                 "other candidate ops");
    expect_error(SPACE_HEAD "mutators = ( { type = \"OneShotChannelMutator\"; candidates = [0.5, 1.5]; } );",
                 "a width ratio lies in (0, 1]");
    expect_error(SPACE_HEAD "mutators = ( { type = \"OneShotChannelMutator\"; candidates = [0.5]; units = [\"nope\"]; } );",
                 "no channel unit is named 'nope'");
    expect_error(SPACE_HEAD "mutators = ( { type = \"OneShotChannelMutator\"; candidates = [40]; units = [\"last\"]; } );",
                 "40 channels do not fit unit last");
    /* The stage-1 blocks' shuffle branch is 16 - 8 wide; narrowing the
     * output to 0.25 while the stem stays full leaves it no channels. */
    expect_error(SPACE_HEAD "mutators = ( { type = \"OneShotChannelMutator\"; candidates = [0.25, 1.0]; divisor = 2; units = [\"stage1.block0\"]; } );",
                 "invalid network");
    expect_error(SPACE_HEAD "mutators = ( { type = \"OneShotChannelMutator\"; candidates = [0.5]; units = [\"last\"]; },\n"
                            "  { type = \"OneShotChannelMutator\"; candidates = [1.0]; units = [\"last\"]; } );",
                 "both manage");
}

/* --- Subnet files ---------------------------------------------------------- */

static const char *mixed_conf =
    SPACE_HEAD "mutators = ( { type = \"OneShotModuleMutator\"; },\n"
               "  { type = \"OneShotChannelMutator\"; candidates = [0.5, 1.0]; divisor = 2;\n"
               "    units = [\"stage1.block0.mid\", \"last\"];\n"
               "    overrides = ( { unit = \"last\"; candidates = [16, 32]; } ); } );\n";

static void test_subnet_round_trip(void **state)
{
    (void)state;
    struct loaded *l = load(mixed_conf);
    struct rng rng;
    rng_seed(&rng, 77);
    for (int i = 0; i < 20; i++) {
        struct subnet s = {.n = search_space_ngroups(l->ss)}, back;
        struct subnet_metrics m = {0}, mback;
        search_space_sample(l->ss, SAMPLE_RANDOM, &rng, s.choice);
        subnet_metrics_set(&m, "macs", 1234567.0);
        subnet_metrics_set(&m, "score", 0.1 + 0.01 * i);
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        struct mtd_error err = {0};
        assert_int_equal(subnet_write(l->ss, &s, &m, f, "memory", &err), MTD_OK);
        fclose(f);
        if (subnet_load_string(l->ss, text, "round.conf", &back, &mback, &err) != MTD_OK)
            fail_msg("%s\n%s", err.msg, text);
        assert_true(subnet_equal(&s, &back));
        assert_true(subnet_hash(&s) == subnet_hash(&back));
        assert_int_equal(mback.n, 2);
        assert_true(mback.value[1] == m.value[1]);
        free(text);
    }
    /* Different subnets, different hashes (for these samples). */
    struct subnet a = {.n = 3, .choice = {0, 1, 2}}, b = {.n = 3, .choice = {0, 2, 1}};
    assert_true(subnet_hash(&a) != subnet_hash(&b));
    unload(l);
}

static void expect_subnet_error(const struct search_space *ss, const char *text, const char *needle)
{
    struct subnet s;
    struct mtd_error err = {0};
    assert_int_equal(subnet_load_string(ss, text, "sub.conf", &s, NULL, &err), MTD_ERR_CONFIG);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("error '%s' does not mention '%s'", err.msg, needle);
}

static void test_subnet_errors(void **state)
{
    (void)state;
    struct loaded *l = load(mixed_conf);
    const char *rest =
        "  { group = \"twin\"; choice = \"shuffle_5x5\"; },\n"
        "  { group = \"stage2.block0\"; choice = \"identity\"; },\n"
        "  { group = \"stage2.block1\"; choice = \"mb_k3_e3\"; },\n"
        "  { group = \"stage1.block0.mid\"; choice = 0.5; },\n";
    char text[2048];
    snprintf(text, sizeof text, "subnet = (\n%s  { group = \"last\"; choice = 16; },\n"
             "  { group = \"stage1.block0\"; choice = \"shuffle_3x3\"; } );\n", rest);
    struct subnet s;
    struct mtd_error err = {0};
    if (subnet_load_string(l->ss, text, "sub.conf", &s, NULL, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    snprintf(text, sizeof text, "subnet = (\n%s  { group = \"last\"; choice = 17; },\n"
             "  { group = \"stage1.block0\"; choice = \"shuffle_3x3\"; } );\n", rest);
    expect_subnet_error(l->ss, text, "sub.conf:6: subnet[4].choice: 17 is not a choice of group 'last' (choices: 16, 32)");
    snprintf(text, sizeof text, "subnet = (\n%s  { group = \"last\"; choice = 16; },\n"
             "  { group = \"stage1.blok0\"; choice = \"shuffle_3x3\"; } );\n", rest);
    expect_subnet_error(l->ss, text, "no group 'stage1.blok0'");
    snprintf(text, sizeof text, "subnet = (\n%s  { group = \"last\"; choice = 16; } );\n", rest);
    expect_subnet_error(l->ss, text, "group 'stage1.block0' has no choice");
    snprintf(text, sizeof text, "subnet = (\n%s  { group = \"last\"; choice = 16; },\n"
             "  { group = \"last\"; choice = 32; } );\n", rest);
    expect_subnet_error(l->ss, text, "group 'last' given twice");
    /* A ratio is not a channel count: 1.0 of "last" is not 32. */
    snprintf(text, sizeof text, "subnet = (\n%s  { group = \"last\"; choice = 1.0; },\n"
             "  { group = \"stage1.block0\"; choice = \"shuffle_3x3\"; } );\n", rest);
    expect_subnet_error(l->ss, text, "not a choice of group 'last'");
    unload(l);
}

/* --- Plugin -------------------------------------------------------------------- */

static void test_plugin(void **state)
{
    (void)state;
    char text[2048];
    snprintf(text, sizeof text, "plugins = [\"%s\"];\n" SPACE_HEAD
             "mutators = ( { type = \"SharedOpMutator\"; } );\n", PLUGIN_PATH);
    struct loaded *l = load(text);
    /* The plugin's mutator puts every block offering shuffle_3x3 in one
     * group restricted to two ops. */
    assert_int_equal(search_space_ngroups(l->ss), 1);
    assert_string_equal(search_space_mutator(l->ss, 0)->name, "SharedOpMutator");
    assert_int_equal(search_space_group(l->ss, 0)->nmutables, 3);
    int c[1] = {1};
    struct arch a;
    search_space_to_arch(l->ss, c, &a);
    assert_int_equal(a.op[1], 3);
    assert_int_equal(a.op[2], 3);
    assert_int_equal(a.op[3], 3);
    assert_int_equal(a.op[4], 0);
    int back[1];
    search_space_from_arch(l->ss, &a, back);
    assert_int_equal(back[0], 1);
    unload(l);
}

int main(void)
{
    parallel_init(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_max_min),
        cmocka_unit_test(test_uniform_sampling),
        cmocka_unit_test(test_channel_mutator),
        cmocka_unit_test(test_slimmable),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_subnet_round_trip),
        cmocka_unit_test(test_subnet_errors),
        cmocka_unit_test(test_plugin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
