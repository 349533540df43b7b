/* test_tune.c — the "tune" check suite: CLBlast GEMM parameter sets (format, parse, constraints),
 * the per-device tuning file in the cache directory (a valid file is applied before the first
 * GEMM and matmuls stay correct; damaged, truncated, foreign, stale or nonsensical files and
 * CLNN_NO_TUNE=1 leave CLBlast's own parameters, with a warning and never an error), a tiny
 * search with one candidate that writes the file a new context then loads, and bad arguments.
 * CLBlast keeps parameters per device for the whole process, so every test that applies a set
 * runs in its own forked process (check's default) and makes its own context there. The sets
 * used are CLBlast 1.5.3's generic CPU parameters: on POCL they compile to the very programs
 * the other suites already built (a cache hit), which keeps this suite fast. */
#include <check.h>
#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clnn.h"
#include "core_util.h"
#include "test_util.h"

/* CLBlast 1.5.3's generic parameters for CPUs (its database entry for POCL): the same
 * programs as CLBlast's own on this device, so nothing new to compile. */
#define GENERIC_CPU                                                                                \
    "GEMMK=0 KREG=1 KWG=32 KWI=2 MDIMA=16 MDIMC=16 MWG=64 NDIMB=8 NDIMC=8 NWG=64 SA=0 SB=0 "       \
    "STRM=0 STRN=0 VWM=4 VWN=4 KWID=2 MDIMAD=8 MDIMCD=8 NDIMBD=8 NDIMCD=8 PADA=1 PADB=1 VWMD=4 "   \
    "VWND=4 WGD=32 XGEMM_MIN_INDIRECT_SIZE=576"

/* ---- the log ------------------------------------------------------------------------------ */
static char log_text[16384];

static void capture(void *user, clnn_log_level level, const char *msg)
{
    (void)user;
    size_t n = strlen(log_text);
    snprintf(log_text + n, sizeof log_text - n, "%s: %s\n",
             level == CLNN_LOG_WARN   ? "WARN"
             : level == CLNN_LOG_INFO ? "INFO"
                                      : "OTHER",
             msg);
}

/* A context on cache_dir that logs INFO and up into log_text. */
static clnn_ctx *ctx_in(const char *cache_dir)
{
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.cache_dir = cache_dir;
    o.log = capture;
    o.log_level = CLNN_LOG_INFO;
    log_text[0] = 0;
    return test_ctx(&o);
}

static clnn_gemm_params parsed(const char *text)
{
    clnn_gemm_params p;
    char msg[256];
    clnn_status st = clnn_gemm_params_parse(text, &p, msg, sizeof msg);
    ck_assert_msg(st == CLNN_OK, "parsing '%s': got %s (%s), expected CLNN_OK", text,
                  clnn_status_name(st), msg);
    return p;
}

/* ---- files -------------------------------------------------------------------------------- */
static unsigned long long fnv1a(const char *s, size_t n)
{
    unsigned long long h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* The key lines of ctx's device as a tuning file holds them (device may replace the name). */
static void key_lines(clnn_ctx *ctx, const char *device, char *buf, size_t size)
{
    clnn_device_info i;
    EXPECT_ST(ctx, clnn_ctx_device_info(ctx, &i), CLNN_OK);
    snprintf(buf, size,
             "clnn-gemm-tuning 1\nplatform %s\ndevice %s\ndriver %s\ndevice-version %s\n"
             "clblast %d.%d.%d\n",
             i.platform_name, device ? device : i.name, i.driver_version, i.device_version,
             CLBLAST_VERSION_MAJOR, CLBLAST_VERSION_MINOR, CLBLAST_VERSION_PATCH);
}

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "opening %s: got %s, expected it to open", path, strerror(errno));
    ck_assert_msg(fwrite(text, 1, len, f) == len, "writing %s: got a short write", path);
    ck_assert_msg(fclose(f) == 0, "closing %s: got %s", path, strerror(errno));
}

/* Writes body (key lines and more) plus its checksum line as the tuning file at path. */
static void write_tuning(const char *path, const char *body)
{
    char text[8192];
    snprintf(text, sizeof text, "%schecksum %016llx\n", body, fnv1a(body, strlen(body)));
    write_text(path, text, strlen(text));
}

/* The tuning file path of a context on dir, found without loading anything (CLNN_NO_TUNE). */
static void tuning_path(const char *dir, char *path, size_t size)
{
    setenv("CLNN_NO_TUNE", "1", 1);
    clnn_ctx *ctx = ctx_in(dir);
    clnn_gemm_tuning t;
    EXPECT_ST(ctx, clnn_gemm_tuning_get(ctx, &t), CLNN_OK);
    ck_assert_msg(t.path[0] != 0, "tuning path: got \"\", expected a file in %s", dir);
    EXPECT_CONTAINS(t.path, dir);
    EXPECT_CONTAINS(t.status, "CLNN_NO_TUNE");
    ck_assert_msg(!t.applied, "applied with CLNN_NO_TUNE=1: got 1, expected 0");
    snprintf(path, size, "%s", t.path);
    clnn_ctx_destroy(ctx);
    unsetenv("CLNN_NO_TUNE");
}

/* A valid tuning file body for ctx's device with the given params line. */
static void valid_body(clnn_ctx *ctx, const char *params, char *body, size_t size)
{
    key_lines(ctx, NULL, body, size);
    size_t n = strlen(body);
    snprintf(body + n, size - n, "params %s\n# a comment\n", params);
}

/* ---- a matmul that must stay right -------------------------------------------------------- */
/* (37, 29) @ (29, 45) and its transposed-A twin against double sums. */
static void check_matmul(clnn_ctx *ctx)
{
    enum { M = 37, K = 29, N = 45 };
    static float a[M * K], at[K * M], b[K * N], y[M * N], y2[M * N];
    for (int i = 0; i < M * K; i++)
        a[i] = (float)((i * 37 % 101) - 50) / 50.0f;
    for (int i = 0; i < M; i++)
        for (int l = 0; l < K; l++)
            at[l * M + i] = a[i * K + l];
    for (int i = 0; i < K * N; i++)
        b[i] = (float)((i * 53 % 97) - 48) / 48.0f;
    clnn_graph *g = NULL;
    EXPECT_ST(ctx, clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *ta = clnn_input(g, "a", 2, (int64_t[]){M, K});
    clnn_tensor *tat = clnn_input(g, "at", 2, (int64_t[]){K, M});
    clnn_tensor *tb = clnn_input(g, "b", 2, (int64_t[]){K, N});
    clnn_tensor *ty = clnn_graph_keep(g, clnn_matmul(g, ta, tb, 0, 0));
    clnn_tensor *ty2 = clnn_graph_keep(g, clnn_matmul(g, tat, tb, 1, 0));
    EXPECT_ST(ctx, clnn_graph_status(g), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_write(ta, a, sizeof a), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_write(tat, at, sizeof at), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_write(tb, b, sizeof b), CLNN_OK);
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_read(ty, y, sizeof y), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_read(ty2, y2, sizeof y2), CLNN_OK);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double want = 0;
            for (int l = 0; l < K; l++)
                want += (double)a[i * K + l] * b[l * N + j];
            ck_assert_msg(fabs(y[i * N + j] - want) <= 1e-4 && fabs(y2[i * N + j] - want) <= 1e-4,
                          "y[%d][%d]: got %.7g and (A^T) %.7g, expected %.7g", i, j,
                          (double)y[i * N + j], (double)y2[i * N + j], want);
        }
    clnn_graph_destroy(g);
}

/* ---- parameter sets ----------------------------------------------------------------------- */
START_TEST(test_params_format_parse)
{
    clnn_gemm_params p = parsed(GENERIC_CPU), q;
    ck_assert_uint_eq(p.mwg, 64);
    ck_assert_uint_eq(p.wgd, 32);
    ck_assert_uint_eq(p.min_indirect, 576);
    char text[600];
    size_t n = clnn_gemm_params_format(&p, text, sizeof text);
    ck_assert_msg(n == strlen(text) && !strcmp(text, GENERIC_CPU),
                  "format: got '%s', expected '%s'", text, GENERIC_CPU);
    q = parsed(text);
    ck_assert_msg(!memcmp(&p, &q, sizeof p), "parse(format(p)) differs from p");
    /* a short buffer is cut but NUL-terminated and the full length returned */
    char small[10];
    ck_assert_uint_eq(clnn_gemm_params_format(&p, small, sizeof small), n);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    /* groups: only the routine; nothing */
    q = parsed("XGEMM_MIN_INDIRECT_SIZE=64");
    clnn_gemm_params_format(&q, text, sizeof text);
    ck_assert_str_eq(text, "XGEMM_MIN_INDIRECT_SIZE=64");
    q = parsed("default");
    clnn_gemm_params_format(&q, text, sizeof text);
    ck_assert_str_eq(text, "default");
    clnn_gemm_params_format(NULL, text, sizeof text);
    ck_assert_str_eq(text, "default");
}
END_TEST

static const struct bad_text {
    const char *text, *message;
} BAD_TEXTS[] = {
    {"MWG=abc", "NAME=VALUE"},
    {"FOO=1", "NAME=VALUE"},
    {"MWG", "NAME=VALUE"},
    {"XGEMM_MIN_INDIRECT_SIZE=99999", "NAME=VALUE"},
    {"XGEMM_MIN_INDIRECT_SIZE=1 XGEMM_MIN_INDIRECT_SIZE=2", "twice"},
    {"MWG=64 NWG=64", "incomplete"},
    {"XGEMM_MIN_INDIRECT_SIZE=0", "must not be 0"},
    {"GEMMK=0 KREG=1 KWG=32 KWI=2 MDIMA=16 MDIMC=16 MWG=63 NDIMB=8 NDIMC=8 NWG=64 SA=0 SB=0 "
     "STRM=0 STRN=0 VWM=4 VWN=4",
     "MWG=63 must be a multiple"},
    {"GEMMK=0 KREG=1 KWG=32 KWI=2 MDIMA=16 MDIMC=16 MWG=64 NDIMB=8 NDIMC=8 NWG=64 SA=0 SB=0 "
     "STRM=0 STRN=0 VWM=3 VWN=4",
     "VWM=3"},
    {"GEMMK=0 KREG=1 KWG=32 KWI=3 MDIMA=16 MDIMC=16 MWG=64 NDIMB=8 NDIMC=8 NWG=64 SA=0 SB=0 "
     "STRM=0 STRN=0 VWM=4 VWN=4",
     "KWG=32 must be a multiple of KWI=3"},
    {"KWID=2 MDIMAD=8 MDIMCD=8 NDIMBD=8 NDIMCD=8 PADA=1 PADB=1 VWMD=8 VWND=8 WGD=32",
     "WGD=32 must be a multiple"},
};

START_TEST(test_params_parse_errors)
{
    const struct bad_text *c = &BAD_TEXTS[_i];
    clnn_gemm_params p;
    memset(&p, 0x5a, sizeof p);
    clnn_gemm_params before = p;
    char msg[256] = "";
    clnn_status st = clnn_gemm_params_parse(c->text, &p, msg, sizeof msg);
    ck_assert_msg(st == CLNN_ERR_INVALID, "parse '%s': got %s, expected CLNN_ERR_INVALID", c->text,
                  clnn_status_name(st));
    EXPECT_CONTAINS(msg, c->message);
    ck_assert_msg(!memcmp(&p, &before, sizeof p), "a failed parse changed *out");
    ck_assert_int_eq(clnn_gemm_params_parse(NULL, &p, msg, sizeof msg), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(msg, "NULL");
    ck_assert_int_eq(clnn_gemm_params_parse("MWG=1", NULL, NULL, 0), CLNN_ERR_INVALID);
}
END_TEST

/* ---- the tuning file ---------------------------------------------------------------------- */
START_TEST(test_file_applied)
{
    clean_env();
    unsetenv("CLNN_NO_TUNE");
    char dir[512], path[1100], body[4096];
    temp_dir(dir, sizeof dir);
    tuning_path(dir, path, sizeof path);
    clnn_ctx *ctx = ctx_in(dir);
    valid_body(ctx, GENERIC_CPU, body, sizeof body);
    write_tuning(path, body);
    clnn_gemm_tuning t;
    EXPECT_ST(ctx, clnn_gemm_tuning_get(ctx, &t), CLNN_OK);
    ck_assert_msg(t.applied == 1, "applied: got %d (%s), expected 1", t.applied, t.status);
    EXPECT_CONTAINS(t.status, "applied from");
    ck_assert_str_eq(t.path, path);
    clnn_gemm_params want = parsed(GENERIC_CPU);
    ck_assert_msg(!memcmp(&t.params, &want, sizeof want), "the parameters in effect differ from "
                                                          "the file's");
    EXPECT_CONTAINS(log_text, "INFO: GEMM tuning applied from");
    EXPECT_CONTAINS(log_text, "MWG=64");
    check_matmul(ctx);
    ck_assert_str_eq(clnn_ctx_last_error(ctx), "");
    clnn_ctx_destroy(ctx);
    remove_dir(dir);
}
END_TEST

/* Damaged and foreign files: what is written (from a valid body), and the reason expected in
 * the warning. */
typedef enum damage {
    D_CHECKSUM,
    D_TRUNCATED,
    D_OTHER_DEVICE,
    D_OTHER_CLBLAST,
    D_BAD_PARAMS,
    D_KNOWN_BAD,
    D_UNKNOWN_LINE,
    D_NOT_TUNING,
    D_EMPTY,
    D_COUNT
} damage;

static const char *const DAMAGE_REASON[D_COUNT] = {
    "checksum does not match", "truncated",         "another device",
    "another device",          "bad parameters",    "known to be wrong",
    "unexpected line",         "not a tuning file", "not a tuning file",
};

START_TEST(test_file_rejected)
{
    clean_env();
    unsetenv("CLNN_NO_TUNE");
    char dir[512], path[1100], body[4096], text[8192];
    temp_dir(dir, sizeof dir);
    tuning_path(dir, path, sizeof path);
    clnn_ctx *ctx = ctx_in(dir);
    valid_body(ctx, GENERIC_CPU, body, sizeof body);
    size_t n = strlen(body);
    switch ((damage)_i) {
    case D_CHECKSUM:
        snprintf(text, sizeof text, "%schecksum %016llx\n", body, fnv1a(body, n));
        *strstr(text, "MWG=64") = 'N'; /* NWG=64 twice: the checksum catches it first */
        write_text(path, text, strlen(text));
        break;
    case D_TRUNCATED:
        snprintf(text, sizeof text, "%schecksum %016llx\n", body, fnv1a(body, n));
        write_text(path, text, strlen(text) / 2);
        break;
    case D_OTHER_DEVICE:
        key_lines(ctx, "Some Other Device", body, sizeof body);
        n = strlen(body);
        snprintf(body + n, sizeof body - n, "params %s\n", GENERIC_CPU);
        write_tuning(path, body);
        break;
    case D_OTHER_CLBLAST:
        *strstr(body, "clblast ") = 0;
        n = strlen(body);
        snprintf(body + n, sizeof body - n, "clblast 0.9.0\nparams %s\n", GENERIC_CPU);
        write_tuning(path, body);
        break;
    case D_BAD_PARAMS:
        valid_body(ctx, "MWG=64", body, sizeof body);
        write_tuning(path, body);
        break;
    case D_KNOWN_BAD:
        valid_body(ctx,
                   "GEMMK=1 KREG=4 KWG=1 KWI=1 MDIMA=8 MDIMC=8 MWG=64 NDIMB=8 NDIMC=8 NWG=32 "
                   "SA=0 SB=0 STRM=0 STRN=0 VWM=4 VWN=4",
                   body, sizeof body);
        write_tuning(path, body);
        break;
    case D_UNKNOWN_LINE:
        snprintf(body + n, sizeof body - n, "surprise 1\n");
        write_tuning(path, body);
        break;
    case D_NOT_TUNING:
        write_text(path, "hello\n", 6);
        break;
    case D_EMPTY:
    case D_COUNT:
        write_text(path, "", 0);
        break;
    }
    clnn_gemm_tuning t;
    EXPECT_ST(ctx, clnn_gemm_tuning_get(ctx, &t), CLNN_OK);
    ck_assert_msg(t.applied == 0, "damage %d: applied: got 1, expected 0", _i);
    EXPECT_CONTAINS(t.status, "ignored");
    EXPECT_CONTAINS(t.status, DAMAGE_REASON[_i]);
    EXPECT_CONTAINS(log_text, "WARN: GEMM tuning file ignored");
    EXPECT_CONTAINS(log_text, DAMAGE_REASON[_i]);
    clnn_gemm_params zero;
    memset(&zero, 0, sizeof zero);
    ck_assert_msg(!memcmp(&t.params, &zero, sizeof zero), "rejected file: params not all zero");
    check_matmul(ctx);
    ck_assert_str_eq(clnn_ctx_last_error(ctx), "");
    clnn_ctx_destroy(ctx);
    remove_dir(dir);
}
END_TEST

START_TEST(test_no_tune_and_no_file)
{
    clean_env();
    unsetenv("CLNN_NO_TUNE");
    char dir[512], path[1100], body[4096];
    temp_dir(dir, sizeof dir);
    tuning_path(dir, path, sizeof path);
    /* no file: quiet, CLBlast's own */
    clnn_ctx *ctx = ctx_in(dir);
    clnn_gemm_tuning t;
    EXPECT_ST(ctx, clnn_gemm_tuning_get(ctx, &t), CLNN_OK);
    ck_assert_int_eq(t.applied, 0);
    EXPECT_CONTAINS(t.status, "no tuning file");
    ck_assert_msg(!strstr(log_text, "WARN"), "a missing file warned: %s", log_text);
    /* a valid file and CLNN_NO_TUNE=1, read at the first GEMM */
    valid_body(ctx, GENERIC_CPU, body, sizeof body);
    write_tuning(path, body);
    clnn_ctx_destroy(ctx);
    setenv("CLNN_NO_TUNE", "1", 1);
    ctx = ctx_in(dir);
    check_matmul(ctx);
    EXPECT_ST(ctx, clnn_gemm_tuning_get(ctx, &t), CLNN_OK);
    ck_assert_int_eq(t.applied, 0);
    EXPECT_CONTAINS(t.status, "CLNN_NO_TUNE=1");
    ck_assert_msg(!strstr(log_text, "applied"), "CLNN_NO_TUNE=1 but the log says: %s", log_text);
    clnn_ctx_destroy(ctx);
    unsetenv("CLNN_NO_TUNE");
    /* no cache directory: nothing to load */
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.no_cache = 1;
    ctx = test_ctx(&o);
    EXPECT_ST(ctx, clnn_gemm_tuning_get(ctx, &t), CLNN_OK);
    ck_assert_int_eq(t.applied, 0);
    ck_assert_str_eq(t.path, "");
    EXPECT_CONTAINS(t.status, "no cache directory");
    clnn_ctx_destroy(ctx);
    remove_dir(dir);
}
END_TEST

/* ---- the search --------------------------------------------------------------------------- */
static int progress_lines;

static void count_progress(void *user, const char *line)
{
    (void)user;
    (void)line;
    progress_lines++;
}

START_TEST(test_tune_tiny)
{
    clean_env();
    unsetenv("CLNN_NO_TUNE");
    char dir[512];
    temp_dir(dir, sizeof dir);
    clnn_ctx *ctx = ctx_in(dir);
    static const clnn_tune_shape shapes[] = {
        {"square 64", 0, 0, 64, 64, 64, 1, 1, 0, 0, 0},
        {"batched", 1, 0, 32, 48, 40, 2, 2, 0, 100, 100}, /* column blocks of B and C */
    };
    clnn_gemm_params cand = parsed(GENERIC_CPU);
    clnn_tune_options o;
    clnn_tune_options_init(&o);
    o.shapes = shapes;
    o.nshapes = 2;
    o.candidates = &cand;
    o.ncandidates = 1;
    o.reps = 1;
    o.choose_candidate = 1;
    o.progress = count_progress;
    progress_lines = 0;
    static clnn_tune_report r;
    EXPECT_ST(ctx, clnn_tune_gemm(ctx, &o, &r), CLNN_OK);
    ck_assert_uint_eq(r.nshapes, 2);
    ck_assert_uint_eq(r.ncandidates, 2);
    ck_assert_str_eq(r.candidates[0].role, "before");
    ck_assert_str_eq(r.candidates[1].role, "given");
    for (int i = 0; i < 2; i++) {
        const clnn_tune_candidate *c = &r.candidates[i];
        ck_assert_msg(c->verified == 1, "candidate %d: verified %d (%s)", i, c->verified, c->note);
        ck_assert_msg(c->max_error < 1e-4, "candidate %d: max error %g", i, c->max_error);
        for (int s = 0; s < 2; s++)
            ck_assert_msg(c->ms[s] > 0 && isfinite(c->ms[s]), "candidate %d shape %d: %g ms", i, s,
                          c->ms[s]);
        double want = c->ms[0] * 1 + c->ms[1] * 2;
        ck_assert_msg(fabs(c->score_ms - want) <= 1e-9 * want, "score: got %g, expected %g",
                      c->score_ms, want);
    }
    ck_assert_int_eq(r.winner, 1);
    ck_assert_msg(!memcmp(&r.best, &cand, sizeof cand), "best: not the candidate");
    ck_assert_msg(r.per_shape_best_ms <= r.after_score_ms + 1e-12, "per-shape bound above after");
    ck_assert_msg(progress_lines >= 3, "progress lines: got %d, expected >= 3", progress_lines);
    ck_assert_msg(access(r.path, R_OK) == 0, "tuning file '%s' not there", r.path);
    EXPECT_CONTAINS(r.path, dir);
    clnn_gemm_tuning t;
    EXPECT_ST(ctx, clnn_gemm_tuning_get(ctx, &t), CLNN_OK);
    ck_assert_int_eq(t.applied, 1);
    EXPECT_CONTAINS(t.status, "clnn_tune_gemm");
    check_matmul(ctx);
    clnn_ctx_destroy(ctx);
    /* a new context loads the file by itself */
    ctx = ctx_in(dir);
    EXPECT_ST(ctx, clnn_gemm_tuning_get(ctx, &t), CLNN_OK);
    ck_assert_msg(t.applied == 1, "new context: applied %d (%s)", t.applied, t.status);
    EXPECT_CONTAINS(t.status, "applied from");
    ck_assert_str_eq(t.path, r.path);
    ck_assert_msg(!memcmp(&t.params, &cand, sizeof cand), "loaded params differ");
    check_matmul(ctx);
    clnn_ctx_destroy(ctx);
    remove_dir(dir);
}
END_TEST

START_TEST(test_tune_bad_arguments)
{
    clean_env();
    char dir[512];
    temp_dir(dir, sizeof dir);
    ck_assert_int_eq(clnn_tune_gemm(NULL, NULL, NULL), CLNN_ERR_INVALID);
    ck_assert_int_eq(clnn_gemm_tuning_get(NULL, NULL), CLNN_ERR_INVALID);
    clnn_ctx *ctx = ctx_in(dir);
    EXPECT_ST(ctx, clnn_gemm_tuning_get(ctx, NULL), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "out must not be NULL");
    static const clnn_tune_shape ok[] = {{"ok", 0, 0, 8, 8, 8, 1, 1, 0, 0, 0}};
    static const clnn_tune_shape zero[] = {{"zero", 0, 0, 8, 0, 8, 1, 1, 0, 0, 0}};
    static const clnn_tune_shape negw[] = {{"negative", 0, 0, 8, 8, 8, 1, -1, 0, 0, 0}};
    static const clnn_tune_shape badld[] = {{"bad ld", 0, 0, 8, 8, 8, 2, 1, 12, 0, 0}};
    static clnn_tune_shape many[CLNN_TUNE_MAX_SHAPES + 1];
    for (int i = 0; i <= CLNN_TUNE_MAX_SHAPES; i++)
        many[i] = ok[0];
    clnn_gemm_params good = parsed(GENERIC_CPU), bad = good, xonly = parsed(GENERIC_CPU);
    bad.mwg = 63;
    xonly.wgd = 0;
    xonly.min_indirect = 0;
    clnn_gemm_params none;
    memset(&none, 0, sizeof none);
    struct {
        const char *what, *message;
        clnn_tune_options o;
    } cases[] = {
        {"reps", "options.reps", {.reps = -1}},
        {"shapes without count", "go together", {.shapes = ok}},
        {"too many shapes", "at most", {.shapes = many, .nshapes = CLNN_TUNE_MAX_SHAPES + 1}},
        {"zero dimension", "n=0", {.shapes = zero, .nshapes = 1}},
        {"negative weight", "weight", {.shapes = negw, .nshapes = 1}},
        {"leading dimension", "lda=12", {.shapes = badld, .nshapes = 1}},
        {"candidates without count", "go together", {.candidates = &good}},
        {"broken constraint", "MWG=63", {.candidates = &bad, .ncandidates = 1}},
        {"empty candidate", "sets no parameters", {.candidates = &none, .ncandidates = 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        clnn_ctx_clear_error(ctx);
        EXPECT_ST(ctx, clnn_tune_gemm(ctx, &cases[i].o, NULL), CLNN_ERR_INVALID);
        EXPECT_CONTAINS(clnn_ctx_last_error(ctx), cases[i].message);
    }
    clnn_gemm_params mixed[2] = {good, xonly};
    clnn_tune_options o;
    clnn_tune_options_init(&o);
    o.candidates = mixed;
    o.ncandidates = 2;
    EXPECT_ST(ctx, clnn_tune_gemm(ctx, &o, NULL), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "other parameter groups");
    clnn_ctx_destroy(ctx);
    /* a file to write and no cache directory */
    clnn_ctx_options co;
    clnn_ctx_options_init(&co);
    co.no_cache = 1;
    ctx = test_ctx(&co);
    EXPECT_ST(ctx, clnn_tune_gemm(ctx, NULL, NULL), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "no cache directory");
    clnn_ctx_destroy(ctx);
    remove_dir(dir);
}
END_TEST

/* ---- tuning clnn's own kernels: the convolution algorithm per shape ------------------------ */
/* x (n, 8, 9, 9) -> conv2d 16 3x3 pad 1 + bias -> mean(y y), with backward. nodes: the conv2d,
 * its data gradient and its weight gradient. */
static clnn_graph *conv_graph(clnn_ctx *ctx, int n, clnn_tensor *nodes[3])
{
    clnn_graph *g = NULL;
    EXPECT_ST(ctx, clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *x = clnn_param(g, "x", 4, (int64_t[]){n, 8, 9, 9});
    clnn_tensor *w = clnn_param(g, "w", 4, (int64_t[]){16, 8, 3, 3});
    clnn_tensor *b = clnn_param(g, "b", 1, (int64_t[]){16});
    clnn_conv2d_options o;
    clnn_conv2d_options_init(&o);
    o.pad_h = o.pad_w = 1;
    clnn_tensor *y = clnn_conv2d(g, x, w, b, &o);
    clnn_tensor *loss = clnn_mean(g, clnn_mul(g, y, y), 0, NULL, 0);
    EXPECT_ST(ctx, clnn_graph_status(g), CLNN_OK);
    EXPECT_ST(ctx, clnn_graph_backward(g, loss), CLNN_OK);
    nodes[0] = y;
    nodes[1] = clnn_tensor_grad(x);
    nodes[2] = clnn_tensor_grad(w);
    clnn_tensor *params[3] = {x, w, b};
    for (int i = 0; i < 3; i++) {
        size_t count = (size_t)clnn_tensor_numel(params[i]);
        float *v = malloc(count * sizeof *v);
        ck_assert_ptr_nonnull(v);
        for (size_t j = 0; j < count; j++)
            v[j] = (float)((j * 37 + (size_t)i * 11) % 101) / 50.0f - 1.0f;
        EXPECT_ST(ctx, clnn_tensor_write(params[i], v, count * sizeof *v), CLNN_OK);
        free(v);
    }
    for (int i = 0; i < 3; i++)
        ck_assert_msg(clnn_conv_algo(nodes[i]) >= 0,
                      "clnn_conv_algo of convolution node %d: got -1, expected an algorithm", i);
    ck_assert_int_eq(clnn_conv_algo(loss), -1);
    ck_assert_int_eq(clnn_conv_algo(NULL), -1);
    return g;
}

START_TEST(test_own_tune_graph)
{
    clean_env();
    unsetenv("CLNN_NO_TUNE");
    unsetenv("CLNN_CONV_ALGO");
    char dir[512];
    temp_dir(dir, sizeof dir);
    clnn_ctx *ctx = ctx_in(dir);
    EXPECT_CONTAINS(clnn_own_tuning_status(ctx), "no tuning file");
    clnn_tensor *nodes[3];
    clnn_graph *g = conv_graph(ctx, 4, nodes);
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    clnn_conv_tune_options o;
    clnn_conv_tune_options_init(&o);
    o.reps = 1;
    o.progress = count_progress;
    progress_lines = 0;
    static clnn_conv_tune_report r;
    EXPECT_ST(ctx, clnn_graph_tune(g, &o, &r), CLNN_OK);
    ck_assert_uint_eq(r.nnodes, 3);
    ck_assert_uint_eq(r.nrows, 3);
    ck_assert_msg(progress_lines >= 3, "progress lines: got %d, expected >= 3", progress_lines);
    int algo[3] = {-1, -1, -1};
    for (size_t i = 0; i < r.nrows; i++) {
        const clnn_conv_tune_row *row = &r.rows[i];
        ck_assert_msg(row->rules_ms > 0 && isfinite(row->rules_ms), "%s: rules %g ms", row->op,
                      row->rules_ms);
        ck_assert_int_eq(row->n, 4);
        ck_assert_int_eq(row->c, 8);
        ck_assert_int_eq(row->k, 16);
        int ran = 0;
        for (int a = 0; a < CLNN_CONV_ALGO_COUNT; a++) {
            if (!isfinite(row->ms[a]))
                continue;
            ran++;
            /* every algorithm that can run the node gives the rules' result */
            ck_assert_msg(row->checked[a] == 1, "%s with %s: checked %d, expected 1", row->op,
                          clnn_conv_algo_name(a), row->checked[a]);
        }
        ck_assert_msg(ran >= 2, "%s: %d algorithms ran, expected at least 2 (gemm, direct)",
                      row->op, ran);
        ck_assert_msg(row->algo >= 0 && isfinite(row->ms[row->algo]), "%s: chose %d", row->op,
                      row->algo);
        /* the rules' algorithm unless another was 5% faster; then the fastest */
        int rules = row->rules_algo;
        ck_assert_msg(rules >= 0 && isfinite(row->ms[rules]) && row->ms[rules] <= row->rules_ms,
                      "%s: rules' algorithm %d, %g ms (rules runs %g)", row->op, rules,
                      rules >= 0 ? row->ms[rules] : NAN, row->rules_ms);
        for (int a = 0; a < CLNN_CONV_ALGO_COUNT; a++) {
            if (row->algo == rules)
                ck_assert_msg(!(row->ms[a] < 0.95 * row->ms[rules]),
                              "%s: kept the rules' %s (%g ms), %s took %g", row->op,
                              clnn_conv_algo_name(rules), row->ms[rules], clnn_conv_algo_name(a),
                              row->ms[a]);
            else
                ck_assert_msg(!(row->ms[a] < row->ms[row->algo]) &&
                                  row->ms[row->algo] < 0.95 * row->ms[rules],
                              "%s: chose %s (%g ms) over the rules' %s (%g), %s took %g", row->op,
                              clnn_conv_algo_name(row->algo), row->ms[row->algo],
                              clnn_conv_algo_name(rules), row->ms[rules], clnn_conv_algo_name(a),
                              row->ms[a]);
        }
        int which = !strcmp(row->op, "conv2d")              ? 0
                    : !strcmp(row->op, "conv2d_bwd_input")  ? 1
                    : !strcmp(row->op, "conv2d_bwd_weight") ? 2
                                                            : -1;
        ck_assert_msg(which >= 0 && algo[which] < 0, "unexpected or repeated row '%s'", row->op);
        algo[which] = row->algo;
    }
    ck_assert_msg(access(r.path, R_OK) == 0, "tuning file '%s' not there", r.path);
    EXPECT_CONTAINS(r.path, dir);
    EXPECT_CONTAINS(clnn_own_tuning_status(ctx), "clnn_graph_tune");
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(clnn_conv_algo(nodes[i]), algo[i]);
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);

    /* a new context loads the file; batch 2 takes the entries of batch 4 */
    ctx = ctx_in(dir);
    g = conv_graph(ctx, 2, nodes);
    EXPECT_CONTAINS(clnn_own_tuning_status(ctx), "applied from");
    EXPECT_CONTAINS(clnn_own_tuning_status(ctx), "(3 shapes, GEMM_TM 8)");
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(clnn_conv_algo(nodes[i]), algo[i]);
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    /* $CLNN_CONV_ALGO comes first */
    setenv("CLNN_CONV_ALGO", "gemm", 1);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(clnn_conv_algo(nodes[i]), 0);
    unsetenv("CLNN_CONV_ALGO");
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);

    setenv("CLNN_NO_TUNE", "1", 1);
    ctx = ctx_in(dir);
    EXPECT_CONTAINS(clnn_own_tuning_status(ctx), "CLNN_NO_TUNE");
    clnn_ctx_destroy(ctx);
    unsetenv("CLNN_NO_TUNE");
    remove_dir(dir);
}
END_TEST

/* The own-kernel tuning file of a context on dir: own-<FNV-1a of its key lines>.tune. */
static void own_file(clnn_ctx *ctx, const char *dir, char *head, size_t head_size, char *path,
                     size_t path_size)
{
    clnn_device_info i;
    EXPECT_ST(ctx, clnn_ctx_device_info(ctx, &i), CLNN_OK);
    char key[2048];
    snprintf(key, sizeof key, "platform %s\ndevice %s\ndriver %s\ndevice-version %s\n",
             i.platform_name, i.name, i.driver_version, i.device_version);
    snprintf(head, head_size, "clnn-own-tuning 3\n%s", key);
    snprintf(path, path_size, "%s/own-%016llx.tune", dir, fnv1a(key, strlen(key)));
}

/* Hand-written files: a valid one is applied (each node takes its entry's algorithm); damaged
 * ones are ignored with a warning and the rules run. */
enum {
    OWN_VALID,
    OWN_TRUNCATED,
    OWN_CHECKSUM,
    OWN_DEVICE,
    OWN_BAD_LINE,
    OWN_BAD_ALGO,
    OWN_BAD_TM,
    OWN_OLD_VERSION,
    OWN_COUNT
};

START_TEST(test_own_file)
{
    clean_env();
    unsetenv("CLNN_NO_TUNE");
    unsetenv("CLNN_CONV_ALGO");
    char dir[512], head[2200], path[1024], body[4096], text[8192];
    temp_dir(dir, sizeof dir);
    clnn_ctx *ctx = ctx_in(dir);
    own_file(ctx, dir, head, sizeof head, path, sizeof path);
    clnn_ctx_destroy(ctx);
    static const char *const entries =
        "# by hand\n"
        "conv conv2d 4 8 9 9 16 3 3 1 1 1 1 1 1 1 im2col+gemm\n"
        "conv conv2d_bwd_input 4 8 9 9 16 3 3 1 1 1 1 1 1 1 direct\n"
        "conv conv2d_bwd_weight 4 8 9 9 16 3 3 1 1 1 1 1 1 1 im2col+gemm\n"
        "gemm-tm 12\n";
    snprintf(body, sizeof body, "%s%s", head, entries);
    const char *why = NULL;
    switch (_i) {
    case OWN_DEVICE:
        snprintf(body, sizeof body,
                 "clnn-own-tuning 3\nplatform P\ndevice D\ndriver 1\n"
                 "device-version 2\n%s",
                 entries);
        why = "another device";
        break;
    case OWN_BAD_LINE:
        snprintf(body, sizeof body, "%sconv conv2d 4 8 9\n", head);
        why = "not a valid entry";
        break;
    case OWN_BAD_TM:
        snprintf(body, sizeof body, "%sgemm-tm 7\n%s", head, entries);
        why = "gemm-tm 7";
        break;
    case OWN_BAD_ALGO:
        snprintf(body, sizeof body, "%sconv conv2d 4 8 9 9 16 3 3 1 1 1 1 1 1 1 fft\n", head);
        why = "not a valid entry";
        break;
    case OWN_OLD_VERSION: /* measured on the kernels before the self-packing SGEMM */
        snprintf(body, sizeof body, "clnn-own-tuning 2\n%s%s", strchr(head, '\n') + 1, entries);
        why = "not a tuning file of this clnn version";
        break;
    default:
        break;
    }
    snprintf(text, sizeof text, "%schecksum %016llx\n", body, fnv1a(body, strlen(body)));
    if (_i == OWN_TRUNCATED) {
        text[strlen(text) - 30] = 0;
        why = "truncated";
    }
    if (_i == OWN_CHECKSUM) {
        text[strlen(head) + 3] ^= 1;
        why = "checksum";
    }
    write_text(path, text, strlen(text));
    ctx = ctx_in(dir);
    clnn_tensor *nodes[3];
    clnn_graph *g = conv_graph(ctx, 4, nodes);
    const char *status = clnn_own_tuning_status(ctx);
    if (_i == OWN_VALID) {
        EXPECT_CONTAINS(status, "applied from");
        EXPECT_CONTAINS(status, "(3 shapes, GEMM_TM 12)");
        ck_assert_int_eq(clnn_conv_algo(nodes[0]), 0);
        ck_assert_int_eq(clnn_conv_algo(nodes[1]), 1);
        ck_assert_int_eq(clnn_conv_algo(nodes[2]), 0);
    } else {
        EXPECT_CONTAINS(status, "ignored");
        EXPECT_CONTAINS(status, why);
        EXPECT_CONTAINS(log_text, "WARN: own-kernel tuning file ignored");
    }
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    remove_dir(dir);
}
END_TEST

START_TEST(test_own_tune_errors)
{
    clean_env();
    clnn_ctx_options co;
    clnn_ctx_options_init(&co);
    co.no_cache = 1;
    clnn_ctx *ctx = test_ctx(&co);
    EXPECT_ST(ctx, clnn_graph_tune(NULL, NULL, NULL), CLNN_ERR_INVALID);
    clnn_tensor *nodes[3];
    clnn_graph *g = conv_graph(ctx, 1, nodes);
    clnn_conv_tune_options o;
    clnn_conv_tune_options_init(&o);
    o.reps = -1;
    EXPECT_ST(ctx, clnn_graph_tune(g, &o, NULL), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "reps");
    /* no cache directory: the choices stay in this context, the call says it could not store */
    o.reps = 1;
    static clnn_conv_tune_report r;
    EXPECT_ST(ctx, clnn_graph_tune(g, &o, &r), CLNN_ERR_IO);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "no cache directory");
    ck_assert_uint_eq(r.nnodes, 3);
    ck_assert_str_eq(r.path, "");
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(clnn_conv_algo(nodes[i]), r.rows[i].algo);
    /* no_write: fine without a cache directory */
    o.no_write = 1;
    EXPECT_ST(ctx, clnn_graph_tune(g, &o, NULL), CLNN_OK);
    clnn_graph_destroy(g);
    /* a graph without convolutions: an empty report */
    EXPECT_ST(ctx, clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *a = clnn_input(g, "a", 1, (int64_t[]){4});
    clnn_graph_keep(g, clnn_relu(g, a));
    EXPECT_ST(ctx, clnn_graph_tune(g, &o, &r), CLNN_OK);
    ck_assert_uint_eq(r.nnodes, 0);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* clnn_model_tune on a small CNN with BatchNorm: every convolution node measured, the weights
 * and running statistics as they were, training still works afterwards. */
START_TEST(test_own_tune_model)
{
    clean_env();
    unsetenv("CLNN_NO_TUNE");
    unsetenv("CLNN_CONV_ALGO");
    char dir[512];
    temp_dir(dir, sizeof dir);
    clnn_ctx *ctx = ctx_in(dir);
    clnn_model *m = NULL;
    EXPECT_ST(ctx, clnn_model_create(ctx, NULL, &m), CLNN_OK);
    clnn_model_input(m, "image", 3, (int64_t[]){2, 8, 8});
    clnn_layer_spec l[] = {clnn_layer_conv2d(8, 3, 3, CLNN_ACT_NONE), clnn_layer_batchnorm(),
                           clnn_layer_activation(CLNN_ACT_RELU, 0), clnn_layer_flatten(),
                           clnn_layer_dense(3, CLNN_ACT_NONE)};
    for (size_t i = 0; i < sizeof l / sizeof *l; i++)
        clnn_model_push(m, &l[i]);
    clnn_compile_options co;
    clnn_compile_options_init(&co, CLNN_LOSS_CROSS_ENTROPY, CLNN_OPTIM_ADAM);
    ck_assert_msg(clnn_model_compile(m, &co) == CLNN_OK, "compile: %s", clnn_model_last_error(m));
    enum { N = 6, PER = 2 * 8 * 8 };
    static float x[N * PER];
    static int32_t labels[N];
    for (int i = 0; i < N * PER; i++)
        x[i] = (float)((i * 29) % 17) / 8.0f - 1.0f;
    for (int i = 0; i < N; i++)
        labels[i] = i % 3;
    clnn_data d = {.x = x, .n = N, .ndim = 3, .shape = {2, 8, 8}, .labels = labels};
    int np = clnn_model_param_count(m);
    ck_assert_int_ge(np, 6); /* conv w, b; gamma, beta, running mean, var; dense */
    float *before[16] = {0}, *after = malloc(65536);
    ck_assert_ptr_nonnull(after);
    for (int i = 0; i < np && i < 16; i++) {
        clnn_tensor *p = clnn_model_param(m, i);
        before[i] = malloc(clnn_tensor_bytes(p));
        EXPECT_ST(ctx, clnn_tensor_read(p, before[i], clnn_tensor_bytes(p)), CLNN_OK);
    }
    clnn_conv_tune_options o;
    clnn_conv_tune_options_init(&o);
    o.reps = 1;
    static clnn_conv_tune_report r;
    ck_assert_msg(clnn_model_tune(m, &d, &o, &r) == CLNN_OK, "clnn_model_tune: %s",
                  clnn_model_last_error(m));
    /* conv2d and its weight gradient (the image needs no gradient) */
    ck_assert_uint_eq(r.nnodes, 2);
    for (size_t i = 0; i < r.nrows; i++) {
        ck_assert_int_eq(r.rows[i].n, N);
        ck_assert_msg(r.rows[i].algo >= 0, "row %zu (%s): no algorithm chosen", i, r.rows[i].op);
    }
    ck_assert_msg(access(r.path, R_OK) == 0, "tuning file '%s' not there", r.path);
    for (int i = 0; i < np && i < 16; i++) {
        clnn_tensor *p = clnn_model_param(m, i);
        size_t bytes = clnn_tensor_bytes(p);
        ck_assert_uint_le(bytes, 65536);
        EXPECT_ST(ctx, clnn_tensor_read(p, after, bytes), CLNN_OK);
        ck_assert_msg(!memcmp(before[i], after, bytes), "parameter %d ('%s') changed by tuning", i,
                      clnn_tensor_name(p));
        free(before[i]);
    }
    free(after);
    double loss = NAN;
    ck_assert_msg(clnn_model_train_on_batch(m, &d, &loss) == CLNN_OK, "train: %s",
                  clnn_model_last_error(m));
    ck_assert_msg(isfinite(loss), "loss after tuning: %g", loss);
    /* a model that is not compiled is a state error */
    clnn_model *raw = NULL;
    EXPECT_ST(ctx, clnn_model_create(ctx, NULL, &raw), CLNN_OK);
    ck_assert_int_eq(clnn_model_tune(raw, &d, NULL, NULL), CLNN_ERR_STATE);
    clnn_model_destroy(raw);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    remove_dir(dir);
}
END_TEST

/* An algorithm whose kernel is wrong (Winograd's weight transform off by 20%, through
 * CLNN_KERNEL_DIR) fails its checks and is never chosen. */
START_TEST(test_own_tune_wrong_kernel)
{
    clean_env();
    unsetenv("CLNN_CONV_ALGO");
    char dir[512], kdir[600], path[700];
    temp_dir(dir, sizeof dir);
    snprintf(kdir, sizeof kdir, "%s/kernels", dir);
    ck_assert_int_eq(mkdir(kdir, 0755), 0);
    char unused[64];
    copy_kernels(kdir, NULL, unused, sizeof unused);
    path_join(path, sizeof path, kdir, "winograd.cl");
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    static char text[65536];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = 0;
    const char *good = "a[1][s] = 0.5f * (g[0][s] + g[1][s] + g[2][s]);";
    char *at = strstr(text, good);
    ck_assert_msg(at != NULL, "winograd.cl: '%s' not found (the test needs updating)", good);
    memcpy(at + strlen("a[1][s] = 0."), "6", 1); /* 0.5f -> 0.6f */
    write_text(path, text, len);
    setenv("CLNN_KERNEL_DIR", kdir, 1);
    clnn_ctx *ctx = ctx_in(dir);
    clnn_tensor *nodes[3];
    clnn_graph *g = conv_graph(ctx, 2, nodes);
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    clnn_conv_tune_options o;
    clnn_conv_tune_options_init(&o);
    o.reps = 1;
    o.no_write = 1;
    static clnn_conv_tune_report r;
    EXPECT_ST(ctx, clnn_graph_tune(g, &o, &r), CLNN_OK);
    int wrong = 0;
    for (size_t i = 0; i < r.nrows; i++) {
        const clnn_conv_tune_row *row = &r.rows[i];
        if (!strcmp(row->op, "conv2d_bwd_weight")) {
            ck_assert_msg(!isfinite(row->ms[4]), "winograd ran a weight gradient");
            continue;
        }
        ck_assert_msg(row->checked[4] == 0,
                      "%s: the broken Winograd kernel: checked %d, "
                      "expected 0",
                      row->op, row->checked[4]);
        ck_assert_msg(row->algo != 4, "%s: the broken Winograd kernel was chosen", row->op);
        wrong++;
    }
    ck_assert_int_eq(wrong, 2);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    unsetenv("CLNN_KERNEL_DIR");
    remove_dir(dir);
}
END_TEST

/* options.gemm_tile on a graph of GEMMs: every GEMM_TM runs, is checked and timed; the choice
 * goes to the file and a new context takes it; $CLNN_GEMM_TM turns the search off. */
START_TEST(test_own_tune_gemm_tm)
{
    clean_env();
    unsetenv("CLNN_NO_TUNE");
    unsetenv("CLNN_GEMM_TM");
    setenv("CLNN_GEMM", "own", 1); /* the default on CPU devices only */
    char dir[512];
    temp_dir(dir, sizeof dir);
    clnn_ctx *ctx = ctx_in(dir);
    clnn_graph *g = NULL;
    EXPECT_ST(ctx, clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *x = clnn_param(g, "x", 2, (int64_t[]){37, 64});
    clnn_tensor *w = clnn_param(g, "w", 2, (int64_t[]){45, 64});
    clnn_tensor *b = clnn_param(g, "b", 1, (int64_t[]){45});
    clnn_tensor *y = clnn_linear(g, x, w, b, CLNN_ACT_TANH, 0);
    clnn_tensor *loss = clnn_mean(g, clnn_mul(g, y, y), 0, NULL, 0);
    EXPECT_ST(ctx, clnn_graph_backward(g, loss), CLNN_OK);
    clnn_tensor *params[3] = {x, w, b};
    for (int i = 0; i < 3; i++) {
        size_t count = (size_t)clnn_tensor_numel(params[i]);
        float *v = malloc(count * sizeof *v);
        ck_assert_ptr_nonnull(v);
        for (size_t j = 0; j < count; j++)
            v[j] = (float)((j * 13 + (size_t)i) % 29) / 14.0f - 1.0f;
        EXPECT_ST(ctx, clnn_tensor_write(params[i], v, count * sizeof *v), CLNN_OK);
        free(v);
    }
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    clnn_conv_tune_options o;
    clnn_conv_tune_options_init(&o);
    o.reps = 1;
    o.gemm_tile = 1;
    static clnn_conv_tune_report r;
    EXPECT_ST(ctx, clnn_graph_tune(g, &o, &r), CLNN_OK);
    ck_assert_uint_eq(r.nnodes, 0);
    ck_assert_msg(r.gemm_tm == 4 || r.gemm_tm == 6 || r.gemm_tm == 8 || r.gemm_tm == 10 ||
                      r.gemm_tm == 12,
                  "gemm_tm: got %d", r.gemm_tm);
    for (int i = 0; i < 5; i++)
        ck_assert_msg(r.gemm_tm_ms[i] > 0 && isfinite(r.gemm_tm_ms[i]), "GEMM_TM #%d: %g ms", i,
                      r.gemm_tm_ms[i]);
    ck_assert_msg(access(r.path, R_OK) == 0, "tuning file '%s' not there", r.path);
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    char want[32];
    snprintf(want, sizeof want, "GEMM_TM %d)", r.gemm_tm);
    ctx = ctx_in(dir);
    EXPECT_CONTAINS(clnn_own_tuning_status(ctx), "applied from");
    EXPECT_CONTAINS(clnn_own_tuning_status(ctx), want);
    /* $CLNN_GEMM_TM: not searched */
    EXPECT_ST(ctx, clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *a = clnn_input(g, "a", 2, (int64_t[]){5, 7});
    clnn_graph_keep(g, clnn_matmul(g, a, a, 0, 1));
    setenv("CLNN_GEMM_TM", "4", 1);
    o.no_write = 1;
    r.gemm_tm = -1; /* the report is cleared first: a searched tile would leave it non-zero */
    EXPECT_ST(ctx, clnn_graph_tune(g, &o, &r), CLNN_OK);
    ck_assert_int_eq(r.gemm_tm, 0);
    unsetenv("CLNN_GEMM_TM");
    /* GEMMs on CLBlast (GPUs' default): not searched either */
    setenv("CLNN_GEMM", "clblast", 1);
    r.gemm_tm = -1;
    EXPECT_ST(ctx, clnn_graph_tune(g, &o, &r), CLNN_OK);
    ck_assert_int_eq(r.gemm_tm, 0);
    unsetenv("CLNN_GEMM");
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    remove_dir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tune");
    TCase *params = tcase_create("params");
    tcase_add_test(params, test_params_format_parse);
    tcase_add_loop_test(params, test_params_parse_errors, 0,
                        (int)(sizeof BAD_TEXTS / sizeof *BAD_TEXTS));
    suite_add_tcase(s, params);
    TCase *file = tcase_create("file");
    tcase_set_timeout(file, 300);
    tcase_add_test(file, test_file_applied);
    tcase_add_loop_test(file, test_file_rejected, 0, D_COUNT);
    tcase_add_test(file, test_no_tune_and_no_file);
    suite_add_tcase(s, file);
    TCase *search = tcase_create("search");
    tcase_set_timeout(search, 600);
    tcase_add_test(search, test_tune_tiny);
    tcase_add_test(search, test_tune_bad_arguments);
    suite_add_tcase(s, search);
    TCase *own = tcase_create("own");
    tcase_set_timeout(own, 600);
    tcase_add_test(own, test_own_tune_graph);
    tcase_add_loop_test(own, test_own_file, 0, OWN_COUNT);
    tcase_add_test(own, test_own_tune_errors);
    tcase_add_test(own, test_own_tune_model);
    tcase_add_test(own, test_own_tune_wrong_kernel);
    tcase_add_test(own, test_own_tune_gemm_tm);
    suite_add_tcase(s, own);
    return test_run_suite(s);
}
