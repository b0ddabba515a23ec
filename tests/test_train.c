/*
 * test_train.c - the data pipeline and supernet training on the bundled
 * Fashion-MNIST subset (data/): IDX validation, epoch orders and
 * augmentation, the learning-rate schedule, checkpoint files (atomic,
 * damaged, newer version) and the promise that an interrupted and resumed
 * training ends with the same bits as an uninterrupted one.
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
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ckpt_io.h"
#include "conf.h"
#include "data.h"
#include "fixture.h"
#include "idx.h"
#include "log.h"
#include "parallel.h"
#include "train.h"

/* --- Helpers --------------------------------------------------------------- */

static char tmp_root[] = "/tmp/mutatord-test-train-XXXXXX";

static void tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmp_root, name);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void expect_idx_error(const char *path, int ndims, enum mtd_status want, const char *needle)
{
    struct idx_array a;
    struct mtd_error err = {0};
    assert_int_equal(idx_load(path, ndims, &a, &err), want);
    if (strstr(err.msg, needle) == NULL || strstr(err.msg, path) == NULL)
        fail_msg("message \"%s\" lacks \"%s\" or the path", err.msg, needle);
    assert_null(a.data);
}

/* --- IDX --------------------------------------------------------------------- */

static void test_idx_subset(void **state)
{
    (void)state;
    struct idx_array a;
    struct mtd_error err = {0};
    if (idx_load(DATA_DIR "/train-images-idx3-ubyte.gz", 3, &a, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(a.dims[0], 4000);
    assert_int_equal(a.dims[1], 28);
    assert_int_equal(a.dims[2], 28);
    assert_int_equal(a.size, 4000u * 784u);
    idx_free(&a);
    expect_idx_error(DATA_DIR "/train-labels-idx1-ubyte.gz", 3, MTD_ERR_DATA,
                     "1 dimensions, expected 3");
    expect_idx_error(DATA_DIR "/no-such-file.gz", 1, MTD_ERR_NOINPUT, "cannot open");
}

static void test_idx_damaged(void **state)
{
    (void)state;
    /* A valid uncompressed label file of 10 entries, then damaged copies. */
    unsigned char good[8 + 10] = {0, 0, 8, 1, 0, 0, 0, 10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    char path[256];
    tmp_path(path, sizeof path, "labels");
    write_bytes(path, good, sizeof good);
    struct idx_array a;
    struct mtd_error err = {0};
    assert_int_equal(idx_load(path, 1, &a, &err), MTD_OK);
    assert_int_equal(a.data[9], 9);
    idx_free(&a);

    /* A header that announces almost 4 GB over a few bytes of data (found
     * by make fuzz): truncated, without allocating what it announces. */
    unsigned char huge[16 + 4] = {0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 1, 0, 0, 0, 1, 0, 1, 2, 3, 4};
    char huge_path[256];
    tmp_path(huge_path, sizeof huge_path, "huge");
    write_bytes(huge_path, huge, sizeof huge);
    expect_idx_error(huge_path, 3, MTD_ERR_DATA, "truncated: the header announces 3932160000 bytes");

    write_bytes(path, good, sizeof good - 3);
    expect_idx_error(path, 1, MTD_ERR_DATA, "truncated: the header announces 10 bytes of data, the file holds 7");
    write_bytes(path, good, 6);
    expect_idx_error(path, 1, MTD_ERR_DATA, "truncated header");
    unsigned char longer[sizeof good + 1];
    memcpy(longer, good, sizeof good);
    longer[sizeof good] = 0;
    write_bytes(path, longer, sizeof longer);
    expect_idx_error(path, 1, MTD_ERR_DATA, "more data than the header announces");
    unsigned char magic[sizeof good];
    memcpy(magic, good, sizeof good);
    magic[2] = 0x0D;   /* float data */
    write_bytes(path, magic, sizeof magic);
    expect_idx_error(path, 1, MTD_ERR_DATA, "bad magic");
    memcpy(magic, good, sizeof good);
    magic[4] = 0x7f;   /* two billion entries */
    write_bytes(path, magic, sizeof magic);
    expect_idx_error(path, 1, MTD_ERR_DATA, "truncated");

    /* A gzip stream cut in the middle. */
    gzFile gz = gzopen(path, "wb");
    unsigned char big[8 + 5000] = {0, 0, 8, 1, 0, 0, 0x13, 0x88};
    for (int i = 8; i < (int)sizeof big; i++)
        big[i] = (unsigned char)(i * 7919 % 251);
    assert_int_equal(gzwrite(gz, big, sizeof big), (int)sizeof big);
    assert_int_equal(gzclose(gz), Z_OK);
    FILE *f = fopen(path, "rb");
    unsigned char comp[16384];
    size_t n = fread(comp, 1, sizeof comp, f);
    fclose(f);
    write_bytes(path, comp, n / 2);
    expect_idx_error(path, 1, MTD_ERR_DATA, "truncated");
}

/* --- Data ------------------------------------------------------------------- */

/* Small splits keep the training tests quick (also under valgrind). */
static const char *const subset_data =
    "data = { dir = \"" DATA_DIR "\"; train_images = 256; val_images = 128; calib_images = 64;\n"
    "  augment = { crop_padding = 2; flip = true; }; };\n";
static const char *const learning_data =
    "data = { dir = \"" DATA_DIR "\"; train_images = 3000; val_images = 1000; calib_images = 500; };\n";

static void load_subset(struct data *d, const char *data_conf)
{
    config_t cfg;
    struct mtd_error err = {0};
    struct data_config dc;
    assert_int_equal(conf_read_string(&cfg, data_conf, "data.conf", &err), MTD_OK);
    const config_setting_t *g = conf_child(config_root_setting(&cfg), "data");
    if (data_config_parse(g, &dc, &err) != MTD_OK || data_load(d, &dc, 10, 28, 28, 1, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    config_destroy(&cfg);
}

static void test_data_splits_and_errors(void **state)
{
    (void)state;
    struct data d;
    load_subset(&d, subset_data);
    struct data_split val = data_split(&d, SPLIT_VAL), test = data_split(&d, SPLIT_TEST);
    assert_int_equal(val.first, 4000 - 128);
    assert_int_equal(val.count, 128);
    assert_int_equal(test.count, 1000);
    data_free(&d);

    struct data_config dc;
    struct mtd_error err = {0};
    assert_int_equal(data_config_parse(NULL, &dc, &err), MTD_OK);
    assert_string_equal(dc.dir, "/usr/share/datasets/fashion-mnist");
    assert_int_equal(dc.train_images, 50000);
    dc.train_images = 3900;
    snprintf(dc.dir, sizeof dc.dir, "%s", DATA_DIR);
    assert_int_equal(data_load(&d, &dc, 10, 28, 28, 0, &err), MTD_ERR_DATA);
    assert_non_null(strstr(err.msg, "holds 4000 images, fewer than train_images + val_images = 3900 + 10000"));
    dc.train_images = 100;
    dc.val_images = 100;
    assert_int_equal(data_load(&d, &dc, 10, 32, 32, 0, &err), MTD_ERR_DATA);
    assert_non_null(strstr(err.msg, "images of 28x28, the supernet's input is 32x32"));
    assert_int_equal(data_load(&d, &dc, 5, 28, 28, 0, &err), MTD_ERR_DATA);
    assert_non_null(strstr(err.msg, "not below the 5 classes"));

    config_t cfg;
    assert_int_equal(conf_read_string(&cfg, "data = { augment = { crop = 2; }; };", "d.conf", &err), MTD_OK);
    assert_int_equal(data_config_parse(conf_child(config_root_setting(&cfg), "data"), &dc, &err),
                     MTD_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "d.conf:1"));
    config_destroy(&cfg);
}

static void test_epoch_order(void **state)
{
    (void)state;
    enum { N = 1000 };
    int a[N], b[N], c[N], seen[N] = {0};
    data_epoch_order(7, 3, N, a);
    data_epoch_order(7, 3, N, b);
    data_epoch_order(7, 4, N, c);
    assert_memory_equal(a, b, sizeof a);
    int same = 0;
    for (int i = 0; i < N; i++) {
        seen[a[i]]++;
        same += a[i] == c[i];
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    assert_true(same < 20);   /* another epoch, another order */
}

static void test_batch_augmentation(void **state)
{
    (void)state;
    struct data d;
    load_subset(&d, subset_data);
    struct data_split s = data_split(&d, SPLIT_TRAIN);
    enum { B = 16 };
    int idx[B], labels[B], labels2[B];
    for (int i = 0; i < B; i++)
        idx[i] = 3 * i;
    static float plain[B * 784], aug[B * 784], aug2[B * 784];
    data_batch(&d, &s, idx, B, 0, 1, 0, 0, plain, labels);
    /* Normalisation as REFERENCE.md: (p / 255 - mean) / std. */
    const unsigned char *px = d.train.pixels + (size_t)idx[5] * 784;
    for (int j = 0; j < 784; j++)
        assert_true(plain[5 * 784 + j] == ((float)px[j] / 255.0f - 0.2860f) / 0.3530f);
    assert_int_equal(labels[5], d.train.labels[idx[5]]);

    data_batch(&d, &s, idx, B, 1, 1, 2, 100, aug, labels);
    data_batch(&d, &s, idx, B, 1, 1, 2, 100, aug2, labels2);
    assert_memory_equal(aug, aug2, sizeof aug);
    assert_memory_equal(labels, labels2, sizeof labels);
    /* Every augmented image is its original shifted by at most 2 pixels,
     * maybe mirrored, with zero pixels moved in at the border. */
    const float zero = (0.0f - 0.2860f) / 0.3530f;
    int flips = 0, shifted = 0;
    for (int i = 0; i < B; i++) {
        int found = 0;
        for (int flip = 0; flip < 2 && !found; flip++)
            for (int dy = -2; dy <= 2 && !found; dy++)
                for (int dx = -2; dx <= 2 && !found; dx++) {
                    int ok = 1;
                    for (int y = 0; y < 28 && ok; y++)
                        for (int x = 0; x < 28 && ok; x++) {
                            int sy = y + dy, sx = (flip ? 27 - x : x) + dx;
                            float want = sy >= 0 && sy < 28 && sx >= 0 && sx < 28
                                             ? plain[i * 784 + sy * 28 + sx] : zero;
                            ok = aug[i * 784 + y * 28 + x] == want;
                        }
                    if (ok) {
                        found = 1;
                        flips += flip;
                        shifted += dy != 0 || dx != 0;
                    }
                }
        assert_true(found);
    }
    assert_true(flips > 0 && flips < B);
    assert_true(shifted > B / 2);
    /* Another position in the epoch draws other crops. */
    data_batch(&d, &s, idx, B, 1, 1, 2, 101, aug2, labels2);
    assert_memory_not_equal(aug, aug2, sizeof aug);
    data_free(&d);
}

/* --- Schedule ------------------------------------------------------------------ */

static void test_lr_schedule(void **state)
{
    (void)state;
    struct train_config c;
    struct mtd_error err = {0};
    assert_int_equal(train_config_parse(NULL, &c, &err), MTD_OK);
    c.min_lr = 0.001;
    assert_true(fabs(train_lr(&c, 0, 100, 10) - 0.01) < 1e-7);
    assert_true(fabs(train_lr(&c, 9, 100, 10) - 0.1) < 1e-7);
    assert_true(fabs(train_lr(&c, 10, 100, 10) - 0.1) < 1e-7);
    assert_true(fabs(train_lr(&c, 55, 100, 10) - (0.001 + 0.099 * 0.5)) < 1e-7);
    assert_true(fabs(train_lr(&c, 100, 100, 10) - 0.001) < 1e-7);
    c.schedule = SCHEDULE_POLY;
    c.power = 2.0;
    assert_true(fabs(train_lr(&c, 55, 100, 10) - (0.001 + 0.099 * 0.25)) < 1e-7);

    config_t cfg;
    assert_int_equal(conf_read_string(&cfg, "train = { sampler = \"sandwhich\"; };", "t.conf", &err), MTD_OK);
    assert_int_equal(train_config_parse(conf_child(config_root_setting(&cfg), "train"), &c, &err),
                     MTD_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "t.conf:1: train.sampler: unknown value \"sandwhich\""));
    config_destroy(&cfg);
    assert_int_equal(conf_read_string(&cfg, "train = { epochs = 2; schedule = { warmup_epochs = 3.0; }; };", "t.conf", &err), MTD_OK);
    assert_int_equal(train_config_parse(conf_child(config_root_setting(&cfg), "train"), &c, &err),
                     MTD_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "longer than the training"));
    config_destroy(&cfg);
}

/* --- Checkpoint files ------------------------------------------------------------ */

static const char test_magic[8] = {'T', 'E', 'S', 'T', 'C', 'K', 'P', 'T'};

static void test_ckpt_io(void **state)
{
    (void)state;
    char path[256];
    tmp_path(path, sizeof path, "io.ckpt");
    struct mtd_error err = {0};
    struct ckpt_writer *w;
    assert_int_equal(ckpt_writer_open(&w, path, test_magic, 2, &err), MTD_OK);
    ckpt_write_u64(w, 0x1122334455667788ULL);
    ckpt_write_u32(w, 42);
    assert_int_equal(ckpt_writer_commit(w, &err), MTD_OK);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_not_equal(access(tmp, F_OK), 0);

    struct ckpt_reader r;
    assert_int_equal(ckpt_reader_open(&r, path, test_magic, 2, &err), MTD_OK);
    uint64_t a;
    uint32_t b;
    assert_int_equal(ckpt_read_u64(&r, &a), 0);
    assert_int_equal(ckpt_read_u32(&r, &b), 0);
    assert_true(a == 0x1122334455667788ULL && b == 42);
    assert_int_equal(ckpt_read_u32(&r, &b), -1);   /* past the end */
    ckpt_reader_close(&r);

    /* Every truncation and every single-bit flip is refused. */
    FILE *f = fopen(path, "rb");
    unsigned char bytes[64];
    size_t n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    char bad[300];
    snprintf(bad, sizeof bad, "%s.bad", path);
    for (size_t len = 0; len < n; len++) {
        write_bytes(bad, bytes, len);
        assert_int_equal(ckpt_reader_open(&r, bad, test_magic, 2, &err), MTD_ERR_DATA);
        assert_non_null(strstr(err.msg, bad));
    }
    for (size_t bit = 0; bit < 8 * n; bit++) {
        bytes[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        write_bytes(bad, bytes, n);
        bytes[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        assert_int_equal(ckpt_reader_open(&r, bad, test_magic, 2, &err), MTD_ERR_DATA);
    }
    /* A newer format is refused naming both versions. */
    assert_int_equal(ckpt_writer_open(&w, path, test_magic, 3, &err), MTD_OK);
    assert_int_equal(ckpt_writer_commit(w, &err), MTD_OK);
    assert_int_equal(ckpt_reader_open(&r, path, test_magic, 2, &err), MTD_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "format version 3 is newer than this program reads (2)"));
    /* A write into a directory that does not exist keeps nothing behind. */
    assert_int_equal(ckpt_writer_open(&w, "/nonexistent-dir/x.ckpt", test_magic, 1, &err), MTD_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.ckpt: creating the temp file failed"));
    unlink(bad);
    unlink(path);
}

/* --- Training ------------------------------------------------------------------- */

static const char *const tiny_space =
    "supernet = { input = { channels = 1; height = 28; width = 28; }; classes = 10;\n"
    "  stem = { channels = 8; stride = 2; };\n"
    "  stages = (\n"
    "    { blocks = 2; channels = 16; stride = 2; ops = [\"shuffle_3x3\", \"shuffle_xception\"]; },\n"
    "    { blocks = 1; channels = 16; stride = 1; ops = [\"mb_k3_e3\", \"identity\"]; } );\n"
    "  last = { channels = 32; }; };\n";

struct run {
    config_t cfg;
    struct search_space *ss;
    struct data data;
    struct trainer *t;
    char dir[256];
};

static void run_open_data(struct run *r, const char *mutators, const char *data,
                          const char *train, const char *dir)
{
    char text[4096];
    snprintf(text, sizeof text, "%s%s%s\ntrain = { %s };\n", tiny_space, mutators, data, train);
    struct mtd_error err = {0};
    struct train_config tc;
    struct data_config dc;
    const config_setting_t *root;
    assert_int_equal(conf_read_string(&r->cfg, text, "run.conf", &err), MTD_OK);
    root = config_root_setting(&r->cfg);
    if (train_config_parse(conf_child(root, "train"), &tc, &err) != MTD_OK ||
        data_config_parse(conf_child(root, "data"), &dc, &err) != MTD_OK ||
        search_space_create(&r->ss, root, tc.seed, &err) != MTD_OK ||
        data_load(&r->data, &dc, 10, 28, 28, 0, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    tmp_path(r->dir, sizeof r->dir, dir);
    mkdir(r->dir, 0700);
    if (trainer_create(&r->t, r->ss, &r->data, &tc, r->dir, &err) != MTD_OK)
        fail_msg("%s", err.msg);
}

static void run_open(struct run *r, const char *mutators, const char *train, const char *dir)
{
    run_open_data(r, mutators, subset_data, train, dir);
}

static void run_close(struct run *r)
{
    trainer_free(r->t);
    data_free(&r->data);
    search_space_free(r->ss);
    config_destroy(&r->cfg);
}

/* Trains uninterrupted in one directory, and in another with stops after
 * each of `stops` steps of a run (a new process each time: everything is
 * rebuilt and resumed from the checkpoint); compares the final state. */
static void expect_exact_resume(const char *mutators, const char *train, const long *stops,
                                int nstops)
{
    struct run a, b;
    struct mtd_error err = {0};
    int resumed;
    run_open(&a, mutators, train, "straight");
    assert_int_equal(trainer_resume(a.t, &resumed, &err), MTD_OK);
    assert_false(resumed);
    assert_int_equal(trainer_run(a.t, NULL, -1, &err), MTD_OK);
    assert_true(trainer_done(a.t));

    for (int i = 0; i <= nstops; i++) {
        run_open(&b, mutators, train, "interrupted");
        assert_int_equal(trainer_resume(b.t, &resumed, &err), MTD_OK);
        assert_int_equal(resumed, i > 0);
        assert_int_equal(trainer_run(b.t, NULL, i < nstops ? stops[i] : -1, &err), MTD_OK);
        if (i < nstops) {
            assert_false(trainer_done(b.t));
            run_close(&b);
        }
    }
    assert_true(trainer_done(b.t));
    struct supernet *sa = search_space_supernet(a.ss), *sb = search_space_supernet(b.ss);
    size_t n = supernet_weights_size(sa);
    assert_memory_equal(supernet_weights(sa), supernet_weights(sb), n * sizeof(float));
    assert_memory_equal(supernet_velocity(sa), supernet_velocity(sb), n * sizeof(float));
    assert_memory_equal(supernet_buffers(sa), supernet_buffers(sb),
                        supernet_buffers_size(sa) * sizeof(float));
    /* And training moved the weights at all. */
    struct run fresh;
    run_open(&fresh, mutators, train, "fresh-unused");
    assert_memory_not_equal(supernet_weights(search_space_supernet(fresh.ss)),
                            supernet_weights(sa), n * sizeof(float));
    run_close(&fresh);
    remove_tree(a.dir);
    remove_tree(b.dir);
    remove_tree(fresh.dir);
    run_close(&a);
    run_close(&b);
}

static const char *const module_only = "mutators = ( { type = \"OneShotModuleMutator\"; } );\n";

static void test_resume_uniform(void **state)
{
    (void)state;
    /* 8 steps per epoch; stops inside the first epoch, exactly at the end
     * of it, and inside the second, with checkpoints in between too. */
    const long stops[] = {3, 5, 2};
    expect_exact_resume(module_only,
                        "epochs = 2; batch_size = 32; checkpoint_every = 3; "
                        "schedule = { warmup_epochs = 0.5; };",
                        stops, 3);
}

static void test_resume_sandwich(void **state)
{
    (void)state;
    const long stops[] = {5, 6};
    expect_exact_resume("mutators = ( { type = \"OneShotModuleMutator\"; },\n"
                        "  { type = \"OneShotChannelMutator\"; candidates = [0.5, 0.75, 1.0]; divisor = 2;\n"
                        "    units = [\"stage1.block0.mid\", \"last\"]; } );\n",
                        "epochs = 2; batch_size = 32; sampler = \"sandwich\"; random = 1; "
                        "label_smoothing = 0.1; checkpoint_every = 0;",
                        stops, 2);
}

static void test_resume_slimmable(void **state)
{
    (void)state;
    const long stops[] = {4};
    expect_exact_resume("mutators = ( { type = \"SlimmableChannelMutator\"; multipliers = [0.5, 1.0]; divisor = 2; } );\n",
                        "epochs = 1; batch_size = 32; sampler = \"slimmable\"; "
                        "schedule = { type = \"poly\"; };",
                        stops, 1);
}

static void test_training_learns(void **state)
{
    (void)state;
    /* Two epochs of 3,000 images: the max subnet must be far above chance
     * (10%); a broken gradient or update stays near it. Numerics, not
     * memory: skipped under valgrind (MUTATORD_TEST_QUICK). */
    if (getenv("MUTATORD_TEST_QUICK") != NULL)
        skip();
    struct run r;
    struct mtd_error err = {0};
    run_open_data(&r, module_only, learning_data, "epochs = 2; batch_size = 32; "
                  "checkpoint_every = 0; optimizer = { lr = 0.05; };", "learns");
    assert_int_equal(trainer_run(r.t, NULL, -1, &err), MTD_OK);
    int c[SEARCH_SPACE_MAX_GROUPS];
    struct arch arch;
    search_space_sample(r.ss, SAMPLE_MAX, NULL, c);
    search_space_to_arch(r.ss, c, &arch);
    struct supernet *sn = search_space_supernet(r.ss);
    assert_int_equal(supernet_set_arch(sn, &arch, &err), MTD_OK);
    struct data_split calib = data_split(&r.data, SPLIT_CALIB), val = data_split(&r.data, SPLIT_VAL);
    double acc;
    assert_int_equal(evaluate_arch(sn, &r.data, &calib, &val, 100, NULL, &acc, &err), MTD_OK);
    if (acc < 0.35)
        fail_msg("validation accuracy %.3f after 2 epochs", acc);
    remove_tree(r.dir);
    run_close(&r);
}

static void test_damaged_checkpoint_falls_back(void **state)
{
    (void)state;
    struct run r;
    struct mtd_error err = {0};
    int resumed;
    run_open(&r, module_only, "epochs = 1; batch_size = 32; checkpoint_every = 2;", "damaged");
    assert_int_equal(trainer_run(r.t, NULL, 4, &err), MTD_OK);
    run_close(&r);
    /* Checkpoints at steps 2 and 4; damage the newest. */
    char path[512];
    snprintf(path, sizeof path, "%s/train-0000000004.ckpt", r.dir);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 1000, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    run_open(&r, module_only, "epochs = 1; batch_size = 32; checkpoint_every = 2;", "damaged");
    assert_int_equal(trainer_resume(r.t, &resumed, &err), MTD_OK);
    assert_true(resumed);
    assert_int_equal(trainer_global_step(r.t), 2);
    run_close(&r);
    /* Another training setup is refused, saying what differs. */
    run_open(&r, module_only, "epochs = 1; batch_size = 16; checkpoint_every = 2;", "damaged");
    assert_int_equal(trainer_resume(r.t, &resumed, &err), MTD_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "train.batch_size = 32, the config now gives 16"));
    run_close(&r);
    remove_tree(r.dir);
}

int main(void)
{
    parallel_init(0);
    log_set_stderr_level(LOG_WARN);
    if (mkdtemp(tmp_root) == NULL)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_subset),
        cmocka_unit_test(test_idx_damaged),
        cmocka_unit_test(test_data_splits_and_errors),
        cmocka_unit_test(test_epoch_order),
        cmocka_unit_test(test_batch_augmentation),
        cmocka_unit_test(test_lr_schedule),
        cmocka_unit_test(test_ckpt_io),
        cmocka_unit_test(test_resume_uniform),
        cmocka_unit_test(test_resume_sandwich),
        cmocka_unit_test(test_resume_slimmable),
        cmocka_unit_test(test_damaged_checkpoint_falls_back),
        cmocka_unit_test(test_training_learns),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(tmp_root);
    return failed;
}
