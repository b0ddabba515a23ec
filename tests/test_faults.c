/*
 * test_faults.c - checkpoint writes that fail. The program is linked with
 * -Wl,--wrap for fwrite, fflush, fsync and rename, so that a test can make
 * the k-th call after arming fail like a full disk (ENOSPC), a short write,
 * an I/O error (EIO) or a failing rename (EXDEV). Checked: the previous
 * file stays intact and no temp file is left; the failure is logged with
 * the path and the reason; a search goes on and retries at its next
 * checkpoint, ending with the top-k of a run without faults; a failure that
 * persists stops the search cleanly (MTD_ERR_IO), and the run directory
 * then resumes to the same top-k. Damaged checkpoints (every truncation,
 * 300 bit flips) are reported and the previous one used; a newer format is
 * refused naming both versions.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <zlib.h>

#include "ckpt_io.h"
#include "ckpt_series.h"
#include "fixture.h"
#include "log.h"
#include "parallel.h"
#include "search_env.h"

/* --- Fault injection ---------------------------------------------------- */

enum fault { NO_FAULT, WRITE_ENOSPC, SHORT_WRITE, FLUSH_EIO, FSYNC_EIO, RENAME_EXDEV };

static enum fault armed;
static int skip;        /* calls of the armed kind let through first */
static int remaining;   /* failures still to inject; < 0: for ever */
static long injected;

static int take(enum fault kind)
{
    if (armed != kind || remaining == 0)
        return 0;
    if (skip > 0) {
        skip--;
        return 0;
    }
    if (remaining > 0)
        remaining--;
    injected++;
    return 1;
}

static void arm(enum fault kind, int skip_calls, int failures)
{
    armed = kind;
    skip = skip_calls;
    remaining = failures;
    injected = 0;
}

size_t __real_fwrite(const void *p, size_t size, size_t n, FILE *f);
int __real_fflush(FILE *f);
int __real_fsync(int fd);
int __real_rename(const char *from, const char *to);
size_t __wrap_fwrite(const void *p, size_t size, size_t n, FILE *f);
int __wrap_fflush(FILE *f);
int __wrap_fsync(int fd);
int __wrap_rename(const char *from, const char *to);

size_t __wrap_fwrite(const void *p, size_t size, size_t n, FILE *f)
{
    if (take(WRITE_ENOSPC)) {
        errno = ENOSPC;
        return 0;
    }
    if (size * n > 1 && take(SHORT_WRITE)) {
        /* Half of it reaches the file, then the disk is full. */
        __real_fwrite(p, 1, size * n / 2, f);
        errno = ENOSPC;
        return size == 1 ? n / 2 : 0;
    }
    return __real_fwrite(p, size, n, f);
}

/* Whether f writes a temp file (the checkpoint writer's), not the log. */
static int writes_temp_file(FILE *f)
{
    char link[64], target[512];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fileno(f));
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 4)
        return 0;
    target[n] = '\0';
    return strcmp(target + n - 4, ".tmp") == 0;
}

int __wrap_fflush(FILE *f)
{
    if (f != NULL && writes_temp_file(f) && take(FLUSH_EIO)) {
        errno = EIO;
        return EOF;
    }
    return __real_fflush(f);
}

int __wrap_fsync(int fd)
{
    if (take(FSYNC_EIO)) {
        errno = EIO;
        return -1;
    }
    return __real_fsync(fd);
}

int __wrap_rename(const char *from, const char *to)
{
    if (take(RENAME_EXDEV)) {
        errno = EXDEV;
        return -1;
    }
    return __real_rename(from, to);
}

/* --- Helpers ------------------------------------------------------------ */

static char log_path[512];

/* The log so far contains needle. */
static int log_has(const char *needle)
{
    FILE *f = fopen(log_path, "r");
    assert_non_null(f);
    char line[2048];
    int found = 0;
    while (!found && fgets(line, sizeof line, f) != NULL)
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static void assert_no_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0)
            fail_msg("%s/%s left behind", dir, e->d_name);
    }
    closedir(d);
}

static size_t slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, size, f);
    fclose(f);
    return n;
}

/* --- One file ------------------------------------------------------------ */

static const char magic[8] = {'M', 'T', 'D', 'T', 'E', 'S', 'T', '0'};

static enum mtd_status write_file(const char *path, const char *text, struct mtd_error *err)
{
    struct ckpt_writer *w;
    enum mtd_status st = ckpt_writer_open(&w, path, magic, 1, err);
    if (st != MTD_OK)
        return st;
    ckpt_write(w, text, strlen(text));
    return ckpt_writer_commit(w, err);
}

static void test_one_file(void **state)
{
    (void)state;
    const struct {
        enum fault kind;
        const char *step, *reason;
    } cases[] = {
        {WRITE_ENOSPC, "writing failed", "No space left on device"},
        {SHORT_WRITE, "writing failed", "No space left on device"},
        {FLUSH_EIO, "flushing failed", "Input/output error"},
        {FSYNC_EIO, "fsync failed", "Input/output error"},
        {RENAME_EXDEV, "rename failed", "Invalid cross-device link"},
    };
    char path[512], before[256], after[256];
    snprintf(path, sizeof path, "%s/one.ckpt", tmp_root);
    struct mtd_error err = {0};
    assert_int_equal(write_file(path, "the previous content", &err), MTD_OK);
    size_t len = slurp(path, before, sizeof before);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        arm(cases[i].kind, 0, 1);
        assert_int_equal(write_file(path, "new content that never lands", &err), MTD_ERR_IO);
        assert_int_equal(injected, 1);
        arm(NO_FAULT, 0, 0);
        if (strstr(err.msg, path) == NULL || strstr(err.msg, cases[i].step) == NULL ||
            strstr(err.msg, cases[i].reason) == NULL)
            fail_msg("case %zu: the message lacks the path, step or reason: %s", i, err.msg);
        assert_int_equal(slurp(path, after, sizeof after), len);
        assert_memory_equal(before, after, len);
        assert_no_temp_files(tmp_root);
    }
}

/* --- A search ------------------------------------------------------------ */

static const char *const search_keys =
    "generations = 4; population = 10; top_k = 4; num_mutation = 3; num_crossover = 3; "
    "checkpoint_every = 2;";

/* A search from dir's checkpoints, faults as armed; returns its status. */
static enum mtd_status run_search(struct env *e, struct search_entry *top, int *ntop,
                                  struct mtd_error *err)
{
    struct synth sy = {0};
    struct search *s;
    int resumed;
    assert_int_equal(search_create(&s, e->ss, &e->sc, synth_score, &sy, e->dir, err), MTD_OK);
    enum mtd_status st = search_resume(s, &resumed, err);
    if (st == MTD_OK)
        st = search_run(s, NULL, -1, err);
    *ntop = search_ntop(s);
    for (int i = 0; i < *ntop; i++)
        top[i] = *search_top(s, i);
    search_free(s);
    return st;
}

static void test_search_goes_on(void **state)
{
    (void)state;
    struct search_entry straight[8], top[8];
    long calls;
    int n = run_straight(wide_space, search_keys, "straight", straight, &calls);
    const enum fault kinds[] = {WRITE_ENOSPC, SHORT_WRITE, FLUSH_EIO, FSYNC_EIO, RENAME_EXDEV};
    const char *reasons[] = {"No space left on device", "No space left on device",
                             "Input/output error", "Input/output error",
                             "Invalid cross-device link"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        char name[32];
        snprintf(name, sizeof name, "transient%zu", k);
        struct env e;
        env_open(&e, wide_space, search_keys, name);
        /* The first checkpoints land; then two failures in a row, each
         * logged, and the search goes on. */
        arm(kinds[k], 3, 2);
        struct mtd_error err = {0};
        int nt;
        if (run_search(&e, top, &nt, &err) != MTD_OK)
            fail_msg("fault %zu: %s", k, err.msg);
        assert_int_equal(injected, 2);
        arm(NO_FAULT, 0, 0);
        assert_same_top(straight, n, top, nt);
        assert_true(log_has(e.dir));
        assert_true(log_has(reasons[k]));
        assert_true(log_has("the next checkpoint tries again"));
        assert_no_temp_files(e.dir);
        env_close(&e);
    }
}

static void test_search_stops_when_failures_persist(void **state)
{
    (void)state;
    struct search_entry straight[8], top[8];
    long calls;
    int n = run_straight(wide_space, search_keys, "straight2", straight, &calls);
    struct env e;
    env_open(&e, wide_space, search_keys, "persistent");
    arm(FSYNC_EIO, 4, -1);
    struct mtd_error err = {0};
    int nt;
    assert_int_equal(run_search(&e, top, &nt, &err), MTD_ERR_IO);
    assert_true(injected >= 3);
    assert_non_null(strstr(err.msg, "Input/output error"));
    assert_true(log_has("checkpoints failed in a row: stopping"));
    arm(NO_FAULT, 0, 0);
    assert_no_temp_files(e.dir);
    /* What was saved before the faults is intact: the same command ends
     * where a run without faults ends. */
    assert_int_equal(run_search(&e, top, &nt, &err), MTD_OK);
    assert_same_top(straight, n, top, nt);
    env_close(&e);
}

/* --- Damaged checkpoints -------------------------------------------------- */

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*n);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void write_all(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(__real_fwrite(b, 1, n, f), n);
    fclose(f);
}

/* Resumes the search of e; returns the subnets scored so far. */
static long resume_progress(struct env *e, enum mtd_status want, struct mtd_error *err)
{
    struct synth sy = {0};
    struct search *s;
    int resumed = 0;
    assert_int_equal(search_create(&s, e->ss, &e->sc, synth_score, &sy, e->dir, err), MTD_OK);
    enum mtd_status st = search_resume(s, &resumed, err);
    if (st != want)
        fail_msg("resume: status %d, not %d: %s", st, want, err->msg);
    struct search_progress p;
    search_get_progress(s, &p);
    search_free(s);
    return st == MTD_OK && resumed ? p.scored : -1;
}

static long log_size(void)
{
    struct stat sb;
    return stat(log_path, &sb) == 0 ? (long)sb.st_size : 0;
}

/* Every truncation and 300 random bit flips of the newest checkpoint: each
 * is reported in the log naming the file, and the checkpoint before it is
 * used. An intact file of a newer format stops the resume, naming both
 * versions. */
static void test_damaged_checkpoints(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, wide_space, "generations = 3; population = 6; top_k = 3; num_mutation = 2; "
             "num_crossover = 2; checkpoint_every = 2; keep_checkpoints = 5;", "damaged");
    struct synth sy = {0};
    struct search *s;
    struct mtd_error err = {0};
    assert_int_equal(search_create(&s, e.ss, &e.sc, synth_score, &sy, e.dir, &err), MTD_OK);
    assert_int_equal(search_run(s, NULL, 7, &err), MTD_OK);
    search_free(s);
    long counters[8];
    assert_true(ckpt_series_list(e.dir, "search", counters, 8) >= 2);
    char newest[512], aside[600];
    ckpt_series_path(e.dir, "search", counters[0], newest, sizeof newest);
    const long full = resume_progress(&e, MTD_OK, &err);
    snprintf(aside, sizeof aside, "%s.aside", newest);
    assert_int_equal(rename(newest, aside), 0);
    const long previous = resume_progress(&e, MTD_OK, &err);
    assert_int_equal(rename(aside, newest), 0);
    assert_true(previous >= 0 && previous < full);

    size_t n;
    unsigned char *bytes = read_all(newest, &n);
    const char *name = strrchr(newest, '/') + 1;
    /* Under valgrind (MUTATORD_TEST_QUICK) every 17th length and 30 flips:
     * make check tries them all. */
    const int quick = getenv("MUTATORD_TEST_QUICK") != NULL;
    const size_t stride = quick ? 17 : 1;
    const int flips = quick ? 30 : 300;
    for (size_t len = 0; len < n; len += stride) {
        write_all(newest, bytes, len);
        long at = log_size();
        assert_int_equal(resume_progress(&e, MTD_OK, &err), previous);
        FILE *f = fopen(log_path, "r");
        fseek(f, at, SEEK_SET);
        char line[1024];
        int named = 0;
        while (!named && fgets(line, sizeof line, f) != NULL)
            named = strstr(line, name) != NULL;
        fclose(f);
        if (!named)
            fail_msg("truncated to %zu bytes: no log line names %s", len, name);
    }
    uint64_t x = 12345;
    for (int flip = 0; flip < flips; flip++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t bit = (size_t)(x >> 33) % (8 * n);
        bytes[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        write_all(newest, bytes, n);
        bytes[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        assert_int_equal(resume_progress(&e, MTD_OK, &err), previous);
    }
    write_all(newest, bytes, n);
    assert_int_equal(resume_progress(&e, MTD_OK, &err), full);

    /* Intact (checksum right) but inconsistent: a generation past the
     * range (found by make fuzz: it overflowed the progress arithmetic). */
    unsigned char *odd = malloc(n);
    memcpy(odd, bytes, n);
    const size_t generation_at = 12 + 16 * 8 + 4;   /* header, settings, groups */
    const uint32_t huge = 0x80000000u;
    memcpy(odd + generation_at, &huge, 4);
    uint32_t odd_crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), odd, (uInt)(n - 4));
    memcpy(odd + n - 4, &odd_crc, 4);
    write_all(newest, odd, n);
    assert_int_equal(resume_progress(&e, MTD_OK, &err), previous);
    free(odd);

    /* The same file as a newer format would write it: refused. */
    uint32_t version;
    memcpy(&version, bytes + 8, 4);
    uint32_t newer = version + 1;
    memcpy(bytes + 8, &newer, 4);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), bytes, (uInt)(n - 4));
    memcpy(bytes + n - 4, &crc, 4);
    write_all(newest, bytes, n);
    resume_progress(&e, MTD_ERR_CONFIG, &err);
    char expect[128];
    snprintf(expect, sizeof expect, "format version %u is newer than this program reads (%u)",
             newer, version);
    if (strstr(err.msg, expect) == NULL || strstr(err.msg, name) == NULL)
        fail_msg("expected '%s' and the file in: %s", expect, err.msg);
    free(bytes);
    env_close(&e);
}

int main(void)
{
    parallel_init(1);
    if (search_env_init("faults") != 0)
        return 1;
    snprintf(log_path, sizeof log_path, "%s/test.log", tmp_root);
    if (log_open(log_path) != 0)
        return 1;
    log_set_stderr_level(LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_file),
        cmocka_unit_test(test_search_goes_on),
        cmocka_unit_test(test_search_stops_when_failures_persist),
        cmocka_unit_test(test_damaged_checkpoints),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    log_close();
    remove_tree(tmp_root);
    return failed;
}
