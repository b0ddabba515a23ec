/*
 * test_spos_counts.c - the estimator on conf/spos-fmnist.conf against MACs
 * and params counted independently on a PyTorch model of REFERENCE.md's
 * space (tests/reference/spos_fmnist.py, fixture written by
 * tests/fixtures/make_spos_counts.py). Rows 4 and 5 of the fixture are the
 * subnets of fewest and most MACs, which the module mutator's min and max
 * sampling must find.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "conf.h"
#include "search_space.h"

static void estimator_matches_pytorch_counts(void **state)
{
    (void)state;
    config_t cfg;
    struct mtd_error err = {0};
    struct search_space *ss;
    if (conf_read_file(&cfg, CONF_DIR "/spos-fmnist.conf", &err) != MTD_OK ||
        search_space_create(&ss, config_root_setting(&cfg), 1, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(search_space_ngroups(ss), 12);

    FILE *f = fopen(FIXTURE_DIR "/spos_counts.txt", "r");
    assert_non_null(f);
    char line[512];
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        int c[12];
        long long macs, params;
        int n = sscanf(line, "%d %d %d %d %d %d %d %d %d %d %d %d %lld %lld", &c[0], &c[1], &c[2],
                       &c[3], &c[4], &c[5], &c[6], &c[7], &c[8], &c[9], &c[10], &c[11], &macs,
                       &params);
        assert_int_equal(n, 14);
        if (rows == 4 || rows == 5) {
            int extreme[SEARCH_SPACE_MAX_GROUPS];
            search_space_sample(ss, rows == 4 ? SAMPLE_MIN : SAMPLE_MAX, NULL, extreme);
            assert_memory_equal(extreme, c, sizeof c);
        }
        struct arch arch;
        struct resources r;
        search_space_to_arch(ss, c, &arch);
        supernet_estimate(search_space_supernet(ss), &arch, &r);
        if ((long long)r.macs != macs || (long long)r.params != params)
            fail_msg("row %d (%s): C %.0f MACs %.0f params, PyTorch %lld MACs %lld params", rows,
                     line, r.macs, r.params, macs, params);
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, 32);
    search_space_free(ss);
    config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(estimator_matches_pytorch_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
