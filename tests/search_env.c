/*
 * search_env.c - the search tests' shared setup (search_env.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "conf.h"
#include "search_env.h"

char tmp_root[256];

int search_env_init(const char *name)
{
    if (snprintf(tmp_root, sizeof tmp_root, "/tmp/mutatord-test-%.64s-XXXXXX", name) >=
        (int)sizeof tmp_root)
        return -1;
    return mkdtemp(tmp_root) == NULL ? -1 : 0;
}

void env_open(struct env *e, const char *space, const char *search, const char *dir)
{
    char text[4096];
    snprintf(text, sizeof text, "%s\nmutators = ( { type = \"OneShotModuleMutator\"; } );\n"
             "search = { %s };\n", space, search);
    struct mtd_error err = {0};
    assert_int_equal(conf_read_string(&e->cfg, text, "search.conf", &err), MTD_OK);
    const config_setting_t *root = config_root_setting(&e->cfg);
    if (search_config_parse(conf_child(root, "search"), &e->sc, &err) != MTD_OK ||
        search_space_create(&e->ss, root, 1, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    snprintf(e->dir, sizeof e->dir, "%s/%s", tmp_root, dir);
    mkdir(e->dir, 0700);
}

void env_close(struct env *e)
{
    search_space_free(e->ss);
    config_destroy(&e->cfg);
}

enum mtd_status synth_score(void *ctx, const struct subnet *s, double *score,
                            struct mtd_error *err)
{
    (void)err;
    struct synth *sy = ctx;
    if (sy->kill_after > 0 && sy->calls == sy->kill_after)
        raise(SIGKILL);
    sy->calls++;
    uint64_t h = subnet_hash(s) * 0x9e3779b97f4a7c15ULL;
    *score = (double)(h >> 11) / 9007199254740992.0;
    return MTD_OK;
}

const char *const wide_space =
    "supernet = { input = { channels = 1; height = 8; width = 8; }; classes = 3;\n"
    "  stem = { channels = 4; kernel = 3; stride = 1; };\n"
    "  stages = (\n"
    "    { blocks = 3; channels = 8; stride = 2;\n"
    "      ops = [\"shuffle_3x3\", \"shuffle_5x5\", \"shuffle_7x7\", \"shuffle_xception\"]; },\n"
    "    { blocks = 3; channels = 8; stride = 1;\n"
    "      ops = [\"shuffle_3x3\", \"shuffle_5x5\", \"shuffle_7x7\", \"shuffle_xception\"]; } );\n"
    "  last = { channels = 16; }; };\n";

int run_straight(const char *space, const char *search, const char *dir,
                 struct search_entry *top, long *calls)
{
    struct env e;
    env_open(&e, space, search, dir);
    struct synth sy = {0};
    struct search *s;
    struct mtd_error err = {0};
    int resumed;
    assert_int_equal(search_create(&s, e.ss, &e.sc, synth_score, &sy, e.dir, &err), MTD_OK);
    assert_int_equal(search_resume(s, &resumed, &err), MTD_OK);
    assert_false(resumed);
    if (search_run(s, NULL, -1, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    assert_true(search_done(s));
    int n = search_ntop(s);
    for (int i = 0; i < n; i++)
        top[i] = *search_top(s, i);
    *calls = sy.calls;
    search_free(s);
    env_close(&e);
    return n;
}

void assert_same_top(const struct search_entry *a, int na, const struct search_entry *b,
                     int nb)
{
    assert_int_equal(na, nb);
    for (int i = 0; i < na; i++) {
        assert_true(subnet_equal(&a[i].subnet, &b[i].subnet));
        assert_memory_equal(&a[i].score, &b[i].score, sizeof a[i].score);
        assert_memory_equal(&a[i].macs, &b[i].macs, sizeof a[i].macs);
    }
}

