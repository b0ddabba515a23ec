/*
 * test_search.c - the evolutionary search: its config, the score cache and
 * the top-k, constraints (and constraints too tight to meet), and exact
 * resume: a search stopped, or killed with SIGKILL, at several points and
 * restarted ends with the same top-k, bit for bit, as one run straight
 * through; damaged checkpoints fall back, foreign ones are refused. Most
 * tests score subnets with a synthetic function (fast, and a pure function
 * of the subnet as the real score is); one runs the real scorer (BN
 * calibration and validation accuracy) on the bundled data.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "data.h"
#include "fixture.h"
#include "log.h"
#include "parallel.h"
#include "search.h"
#include "search_env.h"
#include "spaces.h"
#include "train.h"

static void expect_config_error(const char *search, const char *message)
{
    char text[1024];
    snprintf(text, sizeof text, "search = { %s };\n", search);
    config_t cfg;
    struct search_config sc;
    struct mtd_error err = {0};
    assert_int_equal(conf_read_string(&cfg, text, "s.conf", &err), MTD_OK);
    assert_int_equal(search_config_parse(conf_child(config_root_setting(&cfg), "search"), &sc,
                                         &err), MTD_ERR_CONFIG);
    if (strstr(err.msg, message) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", message, err.msg);
    config_destroy(&cfg);
}

static void test_config(void **state)
{
    (void)state;
    struct search_config sc;
    struct mtd_error err = {0};
    assert_int_equal(search_config_parse(NULL, &sc, &err), MTD_OK);
    /* MMRazor's defaults */
    assert_int_equal(sc.generations, 20);
    assert_int_equal(sc.population, 50);
    assert_int_equal(sc.top_k, 10);
    assert_int_equal(sc.num_mutation, 25);
    assert_int_equal(sc.num_crossover, 25);
    assert_true(sc.mutate_prob == 0.1 && sc.crossover_prob == 0.5);
    assert_int_equal(sc.strategy, STRATEGY_TOPK);

    expect_config_error("generationz = 3;", "s.conf:1: search.generationz: unknown key");
    expect_config_error("population = 0;", "population");
    expect_config_error("population = 10; num_mutation = 6; num_crossover = 6;",
                        "num_mutation + num_crossover (12) exceeds the population (10)");
    expect_config_error("constraints = { macs = [2e6, 1e6]; };", "0 <= min <= max");
    expect_config_error("constraints = { macs = [1e6]; };", "macs");
    expect_config_error("strategy = \"random\";", "expected one of \"topk\", \"regularized\"");
    expect_config_error("mutate_prob = 1.5;", "mutate_prob");
}

static void test_cache_and_top(void **state)
{
    (void)state;
    struct search_entry top[16];
    long calls;
    int n = run_straight(test_shuffle_space,
                         "generations = 6; population = 10; top_k = 5; num_mutation = 4; "
                         "num_crossover = 4; mutate_prob = 0.5;", "cache", top, &calls);
    assert_int_equal(n, 5);
    /* 60 candidates over a space of 32: each subnet scored once at most. */
    assert_true(calls <= 32);
    assert_true(calls >= 10);
    for (int i = 0; i < n; i++) {
        if (i > 0)
            assert_true(top[i - 1].score >= top[i].score);
        for (int j = 0; j < i; j++)
            assert_true(top[i].hash != top[j].hash);
    }

    /* The outputs: a row per scored subnet, and the best subnet's file. */
    char path[512], line[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/cache/history.csv", tmp_root);
    f = fopen(path, "r");
    assert_non_null(f);
    long rows = -1;
    while (fgets(line, sizeof line, f))
        rows++;
    fclose(f);
    assert_int_equal(rows, calls);
    snprintf(path, sizeof path, "%s/cache/best/subnet-01.conf", tmp_root);
    struct env e;
    env_open(&e, test_shuffle_space, "", "cache");
    struct subnet best;
    struct subnet_metrics m = {0};
    struct mtd_error err = {0};
    assert_int_equal(subnet_load(e.ss, path, &best, &m, &err), MTD_OK);
    assert_true(subnet_equal(&best, &top[0].subnet));
    env_close(&e);
    snprintf(path, sizeof path, "%s/cache/pareto.svg", tmp_root);
    assert_int_equal(access(path, R_OK), 0);
    remove_tree(e.dir);
}

static void test_constraints(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, wide_space, "", "cons");
    /* The range the space reaches, from its smallest and largest subnets. */
    struct arch lo, hi;
    int choices[SEARCH_SPACE_MAX_GROUPS];
    struct resources rlo, rhi;
    search_space_sample(e.ss, SAMPLE_MIN, NULL, choices);
    search_space_to_arch(e.ss, choices, &lo);
    search_space_sample(e.ss, SAMPLE_MAX, NULL, choices);
    search_space_to_arch(e.ss, choices, &hi);
    supernet_estimate(search_space_supernet(e.ss), &lo, &rlo);
    supernet_estimate(search_space_supernet(e.ss), &hi, &rhi);
    double mid = 0.5 * (rlo.macs + rhi.macs);
    env_close(&e);

    char search[512];
    snprintf(search, sizeof search, "generations = 3; population = 12; top_k = 4; "
             "num_mutation = 4; num_crossover = 4; constraints = { macs = [0.0, %.1f]; };", mid);
    struct search_entry top[8];
    long calls;
    run_straight(wide_space, search, "cons", top, &calls);
    /* Every scored subnet met the constraint: history.csv has them all. */
    char path[512], line[4096];
    snprintf(path, sizeof path, "%s/cons/history.csv", tmp_root);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    long rows = 0;
    while (fgets(line, sizeof line, f)) {
        double score, macs;
        assert_int_equal(sscanf(line, "%*d,%*d,%*16[0-9a-f],%lf,%lf", &score, &macs), 2);
        assert_true(macs <= mid);
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, calls);

    /* Too tight: reported with what the draws reached, not a hang. */
    env_open(&e, wide_space, "constraints = { macs = [1.0, 2.0]; }; max_attempts = 500;", "tight");
    struct synth sy = {0};
    struct search *s;
    struct mtd_error err = {0};
    assert_int_equal(search_create(&s, e.ss, &e.sc, synth_score, &sy, e.dir, &err), MTD_OK);
    assert_int_equal(search_run(s, NULL, -1, &err), MTD_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "no subnet in 500 random draws has macs in [1, 2]"));
    assert_non_null(strstr(err.msg, "the draws reached macs ["));
    assert_int_equal(sy.calls, 0);
    search_free(s);
    remove_tree(e.dir);
    env_close(&e);
    snprintf(path, sizeof path, "%s/cons", tmp_root);
    remove_tree(path);
}

/* Stops (max_scored) and kills (SIGKILL in a child process) at several
 * points, each time restarting from the run directory with everything
 * rebuilt; the end must equal the straight run. */
static void expect_exact_resume(const char *search)
{
    struct search_entry straight[16], resumed_top[16];
    long calls;
    int n = run_straight(wide_space, search, "straight", straight, &calls);
    assert_true(calls > 20);

    const long stops[] = {1, 4, 9};        /* scored per call, then run out */
    const long kills[] = {3, 7, 12};       /* SIGKILL at these calls */
    for (int mode = 0; mode < 2; mode++) {
        struct env e;
        env_open(&e, wide_space, search, mode ? "killed" : "stopped");
        for (int round = 0;; round++) {
            if (mode == 1 && round < 3) {
                fflush(NULL);
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                    struct synth sy = {.kill_after = kills[round]};
                    struct search *s;
                    struct mtd_error err = {0};
                    int resumed;
                    if (search_create(&s, e.ss, &e.sc, synth_score, &sy, e.dir, &err) != MTD_OK ||
                        search_resume(s, &resumed, &err) != MTD_OK ||
                        search_run(s, NULL, -1, &err) != MTD_OK)
                        _exit(2);
                    _exit(search_done(s) ? 0 : 3);
                }
                int status;
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
                continue;
            }
            struct synth sy = {0};
            struct search *s;
            struct mtd_error err = {0};
            int resumed;
            assert_int_equal(search_create(&s, e.ss, &e.sc, synth_score, &sy, e.dir, &err),
                             MTD_OK);
            assert_int_equal(search_resume(s, &resumed, &err), MTD_OK);
            if (round > 0)
                assert_true(resumed);
            long max = mode == 0 && round < 3 ? stops[round] : -1;
            if (search_run(s, NULL, max, &err) != MTD_OK)
                fail_msg("%s", err.msg);
            int done = search_done(s);
            if (done) {
                int m = search_ntop(s);
                for (int i = 0; i < m; i++)
                    resumed_top[i] = *search_top(s, i);
                assert_same_top(straight, n, resumed_top, m);
            }
            search_free(s);
            if (done)
                break;
        }
        remove_tree(e.dir);
        env_close(&e);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/straight", tmp_root);
    remove_tree(path);
}

static void test_resume_topk(void **state)
{
    (void)state;
    expect_exact_resume("generations = 4; population = 10; top_k = 4; num_mutation = 4; "
                        "num_crossover = 4; checkpoint_every = 2;");
}

static void test_resume_regularized(void **state)
{
    (void)state;
    expect_exact_resume("strategy = \"regularized\"; generations = 4; population = 10; "
                        "top_k = 4; num_mutation = 0; num_crossover = 0; tournament = 3; "
                        "mutate_prob = 0.3; checkpoint_every = 3;");
}

static void test_checkpoints_damaged_and_foreign(void **state)
{
    (void)state;
    const char *search = "generations = 2; population = 6; top_k = 3; num_mutation = 2; "
                         "num_crossover = 2; checkpoint_every = 2; keep_checkpoints = 5;";
    struct env e;
    env_open(&e, wide_space, search, "damaged");
    struct synth sy = {0};
    struct search *s;
    struct mtd_error err = {0};
    int resumed;
    assert_int_equal(search_create(&s, e.ss, &e.sc, synth_score, &sy, e.dir, &err), MTD_OK);
    assert_int_equal(search_run(s, NULL, 5, &err), MTD_OK);
    search_free(s);
    /* Flip a byte in the middle of the newest checkpoint. */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "f=$(ls '%s'/search-*.ckpt | sort | tail -1); "
             "printf 'X' | dd of=\"$f\" bs=1 seek=40 conv=notrunc status=none", e.dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(search_create(&s, e.ss, &e.sc, synth_score, &sy, e.dir, &err), MTD_OK);
    assert_int_equal(search_resume(s, &resumed, &err), MTD_OK);
    assert_true(resumed);
    struct search_progress p;
    search_get_progress(s, &p);
    assert_true(p.scored < 5 && p.scored > 0);
    search_free(s);
    env_close(&e);

    /* Another seed: refused, naming the setting. */
    char other[512];
    snprintf(other, sizeof other, "%s seed = 2;", search);
    env_open(&e, wide_space, other, "damaged");
    assert_int_equal(search_create(&s, e.ss, &e.sc, synth_score, &sy, e.dir, &err), MTD_OK);
    assert_int_equal(search_resume(s, &resumed, &err), MTD_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "search.seed = 1, the config now gives 2"));
    search_free(s);
    remove_tree(e.dir);
    env_close(&e);
}

/* The real scorer on a supernet trained for a few steps, on the bundled
 * data: scores are accuracies, and a resumed search ends the same. */
static void test_real_scores(void **state)
{
    (void)state;
    static const char *const text =
        "supernet = { input = { channels = 1; height = 28; width = 28; }; classes = 10;\n"
        "  stem = { channels = 4; stride = 2; };\n"
        "  stages = ( { blocks = 2; channels = 8; stride = 2;\n"
        "      ops = [\"shuffle_3x3\", \"shuffle_xception\"]; } );\n"
        "  last = { channels = 16; }; };\n"
        "mutators = ( { type = \"OneShotModuleMutator\"; } );\n"
        "data = { dir = \"" DATA_DIR "\"; train_images = 512; val_images = 200; "
        "calib_images = 100; };\n"
        "train = { epochs = 1; batch_size = 64; };\n"
        "search = { generations = 2; population = 3; top_k = 2; num_mutation = 1; "
        "num_crossover = 1; batch_size = 64; };\n";
    config_t cfg;
    struct mtd_error err = {0};
    struct data_config dc;
    struct train_config tc;
    struct search_config sc;
    struct search_space *ss;
    struct data d;
    struct trainer *t;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/real", tmp_root);
    mkdir(dir, 0700);
    assert_int_equal(conf_read_string(&cfg, text, "real.conf", &err), MTD_OK);
    const config_setting_t *root = config_root_setting(&cfg);
    if (data_config_parse(conf_child(root, "data"), &dc, &err) != MTD_OK ||
        train_config_parse(conf_child(root, "train"), &tc, &err) != MTD_OK ||
        search_config_parse(conf_child(root, "search"), &sc, &err) != MTD_OK ||
        search_space_create(&ss, root, tc.seed, &err) != MTD_OK ||
        data_load(&d, &dc, 10, 28, 28, 0, &err) != MTD_OK ||
        trainer_create(&t, ss, &d, &tc, dir, &err) != MTD_OK ||
        trainer_run(t, NULL, -1, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    struct data_split calib = data_split(&d, SPLIT_CALIB), val = data_split(&d, SPLIT_VAL);
    struct search_eval_ctx ctx = {.ss = ss, .d = &d, .calib = &calib, .val = &val, .batch = 64};
    struct search_entry first[4];
    int n = 0;
    for (int pass = 0; pass < 2; pass++) {
        struct search *s;
        int resumed;
        assert_int_equal(search_create(&s, ss, &sc, search_score_accuracy, &ctx, dir, &err), MTD_OK);
        assert_int_equal(search_resume(s, &resumed, &err), MTD_OK);
        /* pass 0: candidates scored in groups (their scores are each
         * one's own), stopped after 2 scores, then finished; pass 1: again
         * from scratch, one at a time, straight through. */
        if (pass == 0) {
            search_set_group_scorer(s, search_score_accuracy_group);
            assert_int_equal(search_run(s, NULL, 2, &err), MTD_OK);
        }
        search_free(s);
        assert_int_equal(search_create(&s, ss, &sc, search_score_accuracy, &ctx, dir, &err), MTD_OK);
        if (pass == 0)
            search_set_group_scorer(s, search_score_accuracy_group);
        assert_int_equal(search_resume(s, &resumed, &err), MTD_OK);
        if (search_run(s, NULL, -1, &err) != MTD_OK)
            fail_msg("%s", err.msg);
        assert_true(search_done(s));
        if (pass == 0) {
            n = search_ntop(s);
            for (int i = 0; i < n; i++) {
                first[i] = *search_top(s, i);
                /* an accuracy over 200 images */
                double k = first[i].score * 200.0;
                assert_true(first[i].score > 0.0 && first[i].score <= 1.0);
                assert_true(fabs(k - round(k)) < 1e-9);
            }
        } else {
            struct search_entry again[4];
            for (int i = 0; i < search_ntop(s); i++)
                again[i] = *search_top(s, i);
            assert_same_top(first, n, again, search_ntop(s));
        }
        search_free(s);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -f '%s'/search-*.ckpt", dir);
        assert_int_equal(system(cmd), 0);
    }
    trainer_free(t);
    data_free(&d);
    search_space_free(ss);
    config_destroy(&cfg);
    remove_tree(dir);
}

int main(void)
{
    parallel_init(0);
    log_set_stderr_level(LOG_ERROR);
    if (search_env_init("search") != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_cache_and_top),
        cmocka_unit_test(test_constraints),
        cmocka_unit_test(test_resume_topk),
        cmocka_unit_test(test_resume_regularized),
        cmocka_unit_test(test_checkpoints_damaged_and_foreign),
        cmocka_unit_test(test_real_scores),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    remove_tree(tmp_root);
    return failed;
}
