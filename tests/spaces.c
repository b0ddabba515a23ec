/*
 * spaces.c - the small search spaces the supernet tests share (their
 * PyTorch fixtures are made for them too: make_supernet_fixtures.py).
 */
#include "spaces.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "conf.h"
#include "space.h"
#include "supernet.h"

/* A small ShuffleNetV2 space: a stride-2 stage of two blocks (the second
 * tied to the first) and a stride-1 block that widens (not tied). */
const char *const test_shuffle_space =
    "supernet = { input = { channels = 1; height = 8; width = 8; }; classes = 3;\n"
    "  stem = { channels = 4; kernel = 3; stride = 1; };\n"
    "  stages = (\n"
    "    { blocks = 2; channels = 8; stride = 2;\n"
    "      ops = [\"shuffle_3x3\", \"shuffle_5x5\", \"shuffle_7x7\", \"shuffle_xception\"]; },\n"
    "    { blocks = 1; channels = 12; stride = 1;\n"
    "      ops = [\"shuffle_3x3\", \"shuffle_xception\"]; } );\n"
    "  last = { channels = 16; }; };\n";

/* Inverted residuals with depth search, and a plain conv block. */
const char *const test_mb_space =
    "supernet = { input = { channels = 1; height = 6; width = 6; }; classes = 4;\n"
    "  stem = { channels = 4; kernel = 3; stride = 1; };\n"
    "  stages = (\n"
    "    { blocks = 1; channels = 6; stride = 2; ops = [\"mb_k3_e3\", \"mb_k5_e4\", \"conv_3x3\"]; },\n"
    "    { blocks = 2; channels = 6; stride = 1; ops = [\"mb_k3_e3\", \"mb_k5_e4\", \"identity\"]; } );\n"
    "};\n";

/* REFERENCE.md's spos-fmnist at a quarter of its channels and half of its
 * blocks: 28 x 28 images, 14 x 14 and 7 x 7 planes, every kernel size. */
const char *const test_spos_small_space =
    "supernet = { input = { channels = 1; height = 28; width = 28; }; classes = 10;\n"
    "  stem = { channels = 8; kernel = 3; stride = 1; };\n"
    "  stages = (\n"
    "    { blocks = 2; channels = 12; stride = 2;\n"
    "      ops = [\"shuffle_3x3\", \"shuffle_5x5\", \"shuffle_7x7\", \"shuffle_xception\"]; },\n"
    "    { blocks = 2; channels = 24; stride = 2;\n"
    "      ops = [\"shuffle_3x3\", \"shuffle_5x5\", \"shuffle_7x7\", \"shuffle_xception\"]; },\n"
    "    { blocks = 2; channels = 48; stride = 1;\n"
    "      ops = [\"shuffle_3x3\", \"shuffle_5x5\", \"shuffle_7x7\", \"shuffle_xception\"]; } );\n"
    "  last = { channels = 64; }; };\n";

struct supernet *test_space_build(const char *text, int bn_sets, struct space_def *def)
{
    config_t cfg;
    struct mtd_error err = {0};
    assert_int_equal(conf_read_string(&cfg, text, "test.conf", &err), MTD_OK);
    const config_setting_t *sn = config_lookup(&cfg, "supernet");
    assert_non_null(sn);
    if (space_def_parse(sn, def, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    config_destroy(&cfg);
    struct supernet *net;
    assert_int_equal(supernet_create(&net, def, bn_sets, 42, &err), MTD_OK);
    return net;
}
