/* test_programs.c — the "programs" check suite: the on-disk program cache (hits, every kind of
 * damaged file, no_cache, where a default context puts its cache) and kernels read from a
 * directory (CLNN_KERNEL_DIR / options.kernel_dir: build errors with the compiler's log, a
 * working copy, missing files). Version, devices, logging and profiling live in test_core.c;
 * the helpers both suites use live in core_util.h. Every test makes its own OpenCL context:
 * check forks each test, and OpenCL must not be initialised before the fork. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clnn.h"
#include "core_util.h"
#include "test_util.h"

/* The size of the file at path in bytes; -1 if it is not there. */
static long file_size(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 ? (long)s.st_size : -1;
}

/* ---- the program cache ------------------------------------------------------------------- */
/* What a context does in the cache tests: build every program, also run the small graph, or
 * only run the graph (which builds just the programs it needs: cheaper as kernels grow). */
typedef enum work { BUILD_ALL, BUILD_ALL_AND_RUN, RUN_ONLY } work;

/* A context on cache_dir (NULL: the default) that does `what`; returns its stats. */
static clnn_ctx_stats context_in(const char *cache_dir, int no_cache, work what)
{
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.cache_dir = cache_dir;
    o.no_cache = no_cache;
    clnn_ctx *ctx = test_ctx(&o);
    if (what != RUN_ONLY)
        EXPECT_ST(ctx, clnn_ctx_build_all(ctx), CLNN_OK);
    if (what != BUILD_ALL)
        check_small_graph(ctx);
    clnn_ctx_stats s = stats_of(ctx);
    clnn_ctx_destroy(ctx);
    return s;
}

START_TEST(test_cache_hit)
{
    clean_env();
    char dir[512];
    temp_dir(dir, sizeof dir);
    clnn_ctx_stats s = context_in(dir, 0, BUILD_ALL);
    ck_assert_msg(s.programs_from_source > 0, "first context from source: got %u, expected > 0",
                  s.programs_from_source);
    ck_assert_msg(s.programs_from_cache == 0, "first context from cache: got %u, expected 0",
                  s.programs_from_cache);
    ck_assert_msg(s.cache_writes == s.programs_from_source,
                  "first context cache writes: got %u, expected %u", s.cache_writes,
                  s.programs_from_source);
    static char names[64][256];
    int files = list_files(dir, "", names, 64);
    ck_assert_msg(files == (int)s.cache_writes, "files in %s: got %d, expected %u", dir, files,
                  s.cache_writes);
    unsigned programs = s.programs_from_source;

    s = context_in(dir, 0, BUILD_ALL_AND_RUN);
    ck_assert_msg(s.programs_from_cache == programs,
                  "second context from cache: got %u, expected %u", s.programs_from_cache,
                  programs);
    ck_assert_msg(s.programs_from_source == 0, "second context from source: got %u, expected 0",
                  s.programs_from_source);
    ck_assert_msg(s.cache_writes == 0 && s.cache_entries_rejected == 0,
                  "second context: got %u writes and %u rejected, expected 0 and 0", s.cache_writes,
                  s.cache_entries_rejected);
    remove_dir(dir);
}
END_TEST

/* Ways to damage a cache file; the cache must notice each one. */
typedef enum damage {
    DAMAGE_MIDDLE,   /* bytes overwritten in the middle (the binary) */
    DAMAGE_TRUNCATE, /* cut to half its size */
    DAMAGE_HEADER,   /* cut inside the header */
    DAMAGE_EMPTY,    /* zero bytes */
    DAMAGE_MAGIC,    /* first byte changed */
    DAMAGE_KEY,      /* a byte of the key changed: a stale entry */
    DAMAGE_APPEND,   /* extra bytes at the end */
    DAMAGE_COUNT
} damage;
static const char *const damage_names[DAMAGE_COUNT] = {"middle", "truncate", "header", "empty",
                                                       "magic",  "key",      "append"};

static void damage_file(const char *path, damage how)
{
    long size = file_size(path);
    ck_assert_msg(size > 64, "cache file %s: got %ld bytes, expected a binary", path, size);
    if (how == DAMAGE_TRUNCATE || how == DAMAGE_HEADER || how == DAMAGE_EMPTY) {
        long to = how == DAMAGE_TRUNCATE ? size / 2 : how == DAMAGE_HEADER ? 10 : 0;
        ck_assert_msg(truncate(path, to) == 0, "truncate %s: got %s", path, strerror(errno));
        return;
    }
    FILE *f = fopen(path, how == DAMAGE_APPEND ? "ab" : "r+b");
    ck_assert_msg(f != NULL, "open %s: got %s, expected success", path, strerror(errno));
    long at = how == DAMAGE_MIDDLE ? size / 2 : how == DAMAGE_MAGIC ? 0 : 13;
    if (how != DAMAGE_APPEND)
        ck_assert_msg(fseek(f, at, SEEK_SET) == 0, "seek in %s failed", path);
    static const char junk[16] = "#clnn-damage-16#";
    ck_assert_msg(fwrite(junk, 1, how == DAMAGE_MIDDLE || how == DAMAGE_APPEND ? 16 : 1, f) > 0,
                  "writing into %s failed", path);
    ck_assert_msg(fclose(f) == 0, "closing %s failed", path);
}

/* Every kind of damage, spread over the cache files in rounds (each file takes the next kind):
 * a round's context rejects exactly the damaged entries, rebuilds and rewrites them and runs a
 * graph correctly; after the last round a context loads everything from the cache again. */
START_TEST(test_cache_damaged)
{
    clean_env();
    char dir[512], path[1024], done[256];
    temp_dir(dir, sizeof dir);
    unsigned programs = context_in(dir, 0, BUILD_ALL).programs_from_source;
    static char names[64][256];
    int files = list_files(dir, ".bin", names, 64);
    ck_assert_msg(files == (int)programs && files >= 1, "cache files: got %d, expected %u", files,
                  programs);
    for (int next = 0; next < DAMAGE_COUNT;) {
        unsigned damaged = 0;
        done[0] = 0;
        for (int i = 0; i < files && next < DAMAGE_COUNT; i++, next++, damaged++) {
            path_join(path, sizeof path, dir, names[i]);
            damage_file(path, (damage)next);
            size_t used = strlen(done);
            snprintf(done + used, sizeof done - used, " %s", damage_names[next]);
        }
        clnn_ctx_stats s = context_in(dir, 0, BUILD_ALL_AND_RUN);
        ck_assert_msg(s.cache_entries_rejected == damaged && s.programs_from_source == damaged &&
                          s.cache_writes == damaged && s.programs_from_cache == programs - damaged,
                      "damage%s: got %u rejected, %u from source, %u writes, %u from cache, "
                      "expected %u, %u, %u, %u",
                      done, s.cache_entries_rejected, s.programs_from_source, s.cache_writes,
                      s.programs_from_cache, damaged, damaged, damaged, programs - damaged);
    }
    clnn_ctx_stats s = context_in(dir, 0, BUILD_ALL);
    ck_assert_msg(
        s.programs_from_cache == programs && s.programs_from_source == 0 &&
            s.cache_entries_rejected == 0,
        "after the rewrites: got %u from cache, %u from source, %u rejected, expected %u, 0, 0",
        s.programs_from_cache, s.programs_from_source, s.cache_entries_rejected, programs);
    remove_dir(dir);
}
END_TEST

START_TEST(test_no_cache)
{
    clean_env();
    char dir[512];
    static char names[64][256];
    temp_dir(dir, sizeof dir);
    clnn_ctx_stats s = context_in(dir, 1, RUN_ONLY);
    ck_assert_msg(s.programs_from_source > 0 && s.cache_writes == 0 && s.programs_from_cache == 0,
                  "no_cache=1: got %u from source, %u writes, %u from cache, expected >0, 0, 0",
                  s.programs_from_source, s.cache_writes, s.programs_from_cache);
    int files = list_files(dir, "", names, 64);
    ck_assert_msg(files == 0, "files with no_cache=1: got %d (%s), expected 0", files, names[0]);

    setenv("CLNN_NO_CACHE", "1", 1);
    s = context_in(dir, 0, RUN_ONLY);
    ck_assert_msg(s.cache_writes == 0 && s.programs_from_cache == 0,
                  "CLNN_NO_CACHE=1: got %u writes and %u from cache, expected 0 and 0",
                  s.cache_writes, s.programs_from_cache);
    files = list_files(dir, "", names, 64);
    ck_assert_msg(files == 0, "files with CLNN_NO_CACHE=1: got %d (%s), expected 0", files,
                  names[0]);

    setenv("CLNN_NO_CACHE", "0", 1); /* "0" leaves the cache on */
    s = context_in(dir, 0, RUN_ONLY);
    ck_assert_msg(s.cache_writes > 0, "CLNN_NO_CACHE=0: got %u writes, expected > 0",
                  s.cache_writes);
    unsetenv("CLNN_NO_CACHE");
    remove_dir(dir);
}
END_TEST

/* POCL finds its own kernel cache through the same variables (XDG_CACHE_HOME, HOME); pins it
 * with POCL_CACHE_DIR so that moving them does not make POCL compile cold (or write in /tmp). */
static void pin_pocl_cache(void)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[4096];
    if (getenv("POCL_CACHE_DIR"))
        return;
    if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/pocl", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.cache/pocl", home);
    else
        return;
    setenv("POCL_CACHE_DIR", dir, 1);
}

/* Where a default context puts its cache: $CLNN_CACHE_DIR, $XDG_CACHE_HOME/clnn,
 * $HOME/.cache/clnn. */
START_TEST(test_cache_dir_from_env)
{
    clean_env();
    pin_pocl_cache();
    char dir[512], sub[1024];
    static char names[64][256];
    temp_dir(dir, sizeof dir);
    static const char *const vars[3] = {"CLNN_CACHE_DIR", "XDG_CACHE_HOME", "HOME"};
    static const char *const where[3] = {"", "/clnn", "/.cache/clnn"};
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++)
            unsetenv(vars[j]);
        setenv(vars[i], dir, 1);
        snprintf(sub, sizeof sub, "%s%s", dir, where[i]);
        clnn_ctx_stats s = context_in(NULL, 0, RUN_ONLY);
        int files = list_files(sub, ".bin", names, 64);
        ck_assert_msg(files > 0 && files == (int)(s.cache_writes + s.programs_from_cache),
                      "with %s=%s: got %d files in %s, expected %u", vars[i], dir, files, sub,
                      s.cache_writes + s.programs_from_cache);
        if (i > 0) {
            remove_dir(sub);
            if (i == 2) {
                snprintf(sub, sizeof sub, "%s/.cache", dir);
                rmdir(sub);
            }
        }
    }
    remove_dir(dir);
}
END_TEST

/* ---- kernels from a directory ------------------------------------------------------------ */
START_TEST(test_kernel_dir_build_error)
{
    clean_env();
    kernel_src();
    char dir[512], broken[256];
    temp_dir(dir, sizeof dir);
    copy_kernels(dir, BROKEN_KERNEL, broken, sizeof broken);
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.no_cache = 1;
    o.kernel_dir = dir;
    clnn_ctx *ctx = test_ctx(&o);
    expect_broken_build(ctx, broken);
    clnn_ctx_destroy(ctx);

    setenv("CLNN_KERNEL_DIR", dir, 1);
    setenv("CLNN_NO_CACHE", "1", 1);
    ctx = test_ctx(NULL);
    expect_broken_build(ctx, broken);
    clnn_ctx_destroy(ctx);
    remove_dir(dir);
}
END_TEST

START_TEST(test_kernel_dir_copy_works)
{
    clean_env();
    kernel_src();
    char good[512], bad[512], name[256];
    temp_dir(good, sizeof good);
    temp_dir(bad, sizeof bad);
    copy_kernels(good, NULL, name, sizeof name);
    copy_kernels(bad, BROKEN_KERNEL, name, sizeof name);
    setenv("CLNN_NO_CACHE", "1", 1);
    setenv("CLNN_KERNEL_DIR", good, 1);
    clnn_ctx *ctx = test_ctx(NULL);
    EXPECT_ST(ctx, clnn_ctx_build_all(ctx), CLNN_OK);
    check_small_graph(ctx);
    clnn_ctx_destroy(ctx);
    /* options.kernel_dir wins over CLNN_KERNEL_DIR */
    setenv("CLNN_KERNEL_DIR", bad, 1);
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.kernel_dir = good;
    ctx = test_ctx(&o);
    check_small_graph(ctx);
    clnn_ctx_destroy(ctx);
    remove_dir(good);
    remove_dir(bad);
}
END_TEST

START_TEST(test_kernel_dir_missing_files)
{
    clean_env();
    char dir[512], missing[600];
    temp_dir(dir, sizeof dir);
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.no_cache = 1;
    o.kernel_dir = dir; /* exists, but empty */
    clnn_ctx *ctx = test_ctx(&o);
    EXPECT_ST(ctx, clnn_ctx_build_all(ctx), CLNN_ERR_IO);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), dir);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), ".cl");
    clnn_ctx_destroy(ctx);
    /* a directory that does not exist, through the environment; a graph run fails the same */
    snprintf(missing, sizeof missing, "%s/no-such-dir", dir);
    setenv("CLNN_KERNEL_DIR", missing, 1);
    ctx = test_ctx(NULL);
    clnn_graph *g;
    EXPECT_ST(ctx, clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_relu(g, clnn_input(g, "x", 1, (int64_t[]){4}));
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_ERR_IO);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), missing);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    remove_dir(dir);
}
END_TEST

static Suite *programs_suite(void)
{
    Suite *s = suite_create("programs");
    TCase *tc = new_tcase("programs");
    tcase_add_test(tc, test_cache_hit);
    tcase_add_test(tc, test_cache_damaged);
    tcase_add_test(tc, test_no_cache);
    tcase_add_test(tc, test_cache_dir_from_env);
    tcase_add_test(tc, test_kernel_dir_build_error);
    tcase_add_test(tc, test_kernel_dir_copy_works);
    tcase_add_test(tc, test_kernel_dir_missing_files);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* no OpenCL here: check forks every test, and each test makes its own context */
    return test_run_suite(programs_suite());
}
