/*
 * spaces.c - the small search spaces the supernet tests share (their
 * PyTorch fixtures are made for them too: make_supernet_fixtures.py).
 */
#include "spaces.h"

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
