/* test_core.c — the "core" check suite: version and status tables, device listing and selection
 * (options.device and CLNN_DEVICE), failed contexts that still carry their message, the log
 * callback, per-op profiling and the raw OpenCL code behind an error. The program cache and
 * kernels read from a directory are checked in test_programs.c; tensors and graphs have their
 * own suites (test_tensor.c, test_graph.c); ops are checked in test_ops.c. Helpers shared with
 * test_programs.c live in core_util.h. Every test makes its own OpenCL context: check forks
 * each test, and OpenCL must not be initialised before the fork. */
#include <check.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"
#include "core_util.h"
#include "test_util.h"

/* ---- log capture ------------------------------------------------------------------------- */
typedef struct log_capture {
    int count;
    int per_level[4];
    char text[16384];
} log_capture;

static void capture_log(void *user, clnn_log_level level, const char *message)
{
    log_capture *c = user;
    c->count++;
    if ((int)level >= 0 && level <= CLNN_LOG_ERROR)
        c->per_level[level]++;
    size_t used = strlen(c->text);
    snprintf(c->text + used, sizeof c->text - used, "%s\n", message);
}

/* ---- version and statuses ---------------------------------------------------------------- */
START_TEST(test_version)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", CLNN_VERSION_MAJOR, CLNN_VERSION_MINOR,
             CLNN_VERSION_PATCH);
    ck_assert_msg(!strcmp(clnn_version(), want), "clnn_version(): got \"%s\", expected \"%s\"",
                  clnn_version(), want);
    ck_assert_msg(!strcmp(CLNN_VERSION_STRING, want),
                  "CLNN_VERSION_STRING: got \"%s\", expected \"%s\"", CLNN_VERSION_STRING, want);
    int num = CLNN_VERSION_MAJOR * 10000 + CLNN_VERSION_MINOR * 100 + CLNN_VERSION_PATCH;
    ck_assert_msg(clnn_version_number() == num, "clnn_version_number(): got %d, expected %d",
                  clnn_version_number(), num);
    ck_assert_msg(CLNN_VERSION_NUMBER == num, "CLNN_VERSION_NUMBER: got %d, expected %d",
                  CLNN_VERSION_NUMBER, num);
}
END_TEST

static const struct {
    clnn_status status;
    int value;
    const char *name;
    const char *text_part;
} statuses[] = {
    {CLNN_OK, 0, "CLNN_OK", "success"},
    {CLNN_ERR_INVALID, -1, "CLNN_ERR_INVALID", "invalid"},
    {CLNN_ERR_SHAPE, -2, "CLNN_ERR_SHAPE", "shape"},
    {CLNN_ERR_NOMEM, -3, "CLNN_ERR_NOMEM", "host memory"},
    {CLNN_ERR_DEVICE_MEMORY, -4, "CLNN_ERR_DEVICE_MEMORY", "device memory"},
    {CLNN_ERR_NO_PLATFORM, -5, "CLNN_ERR_NO_PLATFORM", "pocl-opencl-icd"},
    {CLNN_ERR_NO_DEVICE, -6, "CLNN_ERR_NO_DEVICE", "device"},
    {CLNN_ERR_BUILD, -7, "CLNN_ERR_BUILD", "build"},
    {CLNN_ERR_OPENCL, -8, "CLNN_ERR_OPENCL", "OpenCL"},
    {CLNN_ERR_CLBLAST, -9, "CLNN_ERR_CLBLAST", "CLBlast"},
    {CLNN_ERR_IO, -10, "CLNN_ERR_IO", "input/output"},
    {CLNN_ERR_FORMAT, -11, "CLNN_ERR_FORMAT", "file"},
    {CLNN_ERR_STATE, -12, "CLNN_ERR_STATE", "state"},
    {CLNN_ERR_UNSUPPORTED, -13, "CLNN_ERR_UNSUPPORTED", "not supported"},
    {CLNN_ERR_NONFINITE, -14, "CLNN_ERR_NONFINITE", "not finite"},
    {CLNN_ERR_DISTRIBUTED, -15, "CLNN_ERR_DISTRIBUTED", "MPI rank"},
};
enum { NSTATUSES = sizeof statuses / sizeof statuses[0] };

START_TEST(test_status_name_and_text)
{
    int i = _i;
    clnn_status s = statuses[i].status;
    ck_assert_msg((int)s == statuses[i].value, "%s: got value %d, expected %d", statuses[i].name,
                  (int)s, statuses[i].value);
    ck_assert_msg(!strcmp(clnn_status_name(s), statuses[i].name),
                  "clnn_status_name(%d): got \"%s\", expected \"%s\"", (int)s, clnn_status_name(s),
                  statuses[i].name);
    const char *text = clnn_status_text(s);
    ck_assert_msg(text && strlen(text) > 3, "clnn_status_text(%s): got \"%s\", expected a sentence",
                  statuses[i].name, text ? text : "(null)");
    EXPECT_CONTAINS(text, statuses[i].text_part);
    for (int j = 0; j < NSTATUSES; j++)
        if (j != i)
            ck_assert_msg(strcmp(text, clnn_status_text(statuses[j].status)) != 0,
                          "texts of %s and %s: got the same \"%s\", expected distinct texts",
                          statuses[i].name, statuses[j].name, text);
}
END_TEST

START_TEST(test_status_list_complete)
{
    int n = 0;
#define COUNT_STATUS(name, value, text) n++;
    CLNN_STATUS_LIST(COUNT_STATUS)
#undef COUNT_STATUS
    ck_assert_msg(n == NSTATUSES,
                  "CLNN_STATUS_LIST: got %d entries, expected %d (update the table in test_core.c)",
                  n, NSTATUSES);
    static const int unknown[] = {1, 42, -16, -99, -1001};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        clnn_status s = (clnn_status)unknown[i];
        ck_assert_msg(!strcmp(clnn_status_name(s), "CLNN_UNKNOWN"),
                      "clnn_status_name(%d): got \"%s\", expected \"CLNN_UNKNOWN\"", unknown[i],
                      clnn_status_name(s));
        const char *t = clnn_status_text(s);
        ck_assert_msg(t && *t, "clnn_status_text(%d): got an empty text, expected one", unknown[i]);
    }
}
END_TEST

/* ---- devices ----------------------------------------------------------------------------- */
START_TEST(test_devices_list)
{
    size_t count = 12345;
    EXPECT_ST(NULL, clnn_devices_list(NULL, 0, &count), CLNN_OK);
    ck_assert_msg(count >= 1, "device count: got %zu, expected at least 1", count);
    size_t cap = count + 2, again = 0;
    clnn_device_info *infos = calloc(cap, sizeof *infos);
    ck_assert_ptr_nonnull(infos);
    EXPECT_ST(NULL, clnn_devices_list(infos, cap, &again), CLNN_OK);
    ck_assert_msg(again == count, "device count with room: got %zu, expected %zu", again, count);
    for (size_t i = 0; i < count; i++) {
        const clnn_device_info *d = &infos[i];
        ck_assert_msg(d->name[0] != 0, "device %zu name: got \"\", expected a name", i);
        ck_assert_msg(d->platform_name[0] != 0, "device %zu platform name: got \"\"", i);
        ck_assert_msg(d->compute_units > 0, "device %zu compute units: got %u, expected > 0", i,
                      d->compute_units);
        ck_assert_msg(d->global_mem_bytes > 0, "device %zu global memory: got 0, expected > 0", i);
        ck_assert_msg(d->max_alloc_bytes > 0 && d->max_alloc_bytes <= d->global_mem_bytes,
                      "device %zu max alloc: got %llu, expected 1..%llu", i,
                      (unsigned long long)d->max_alloc_bytes,
                      (unsigned long long)d->global_mem_bytes);
        ck_assert_msg(d->opencl_c_major >= 1, "device %zu OpenCL C major: got %d, expected >= 1", i,
                      d->opencl_c_major);
        ck_assert_msg(d->max_work_group_size > 0, "device %zu max work-group: got 0", i);
        ck_assert_msg(d->platform_index >= 0 && d->device_index >= 0,
                      "device %zu indexes: got %d:%d, expected non-negative", i, d->platform_index,
                      d->device_index);
    }
    /* capacity smaller than the count: the full count, only capacity entries written */
    clnn_device_info one[2];
    memset(one, 0x5a, sizeof one);
    EXPECT_ST(NULL, clnn_devices_list(one, 1, &again), CLNN_OK);
    ck_assert_msg(again == count, "count with capacity 1: got %zu, expected %zu", again, count);
    ck_assert_msg(!strcmp(one[0].name, infos[0].name), "entry 0: got \"%s\", expected \"%s\"",
                  one[0].name, infos[0].name);
    ck_assert_msg(((unsigned char *)&one[1])[0] == 0x5a,
                  "entry past capacity: got written, expected untouched");
    /* bad arguments */
    EXPECT_ST(NULL, clnn_devices_list(NULL, 0, NULL), CLNN_ERR_INVALID);
    EXPECT_ST(NULL, clnn_devices_list(infos, 1, NULL), CLNN_ERR_INVALID);
    EXPECT_ST(NULL, clnn_devices_list(NULL, 3, &again), CLNN_ERR_INVALID);
    free(infos);
}
END_TEST

/* What clnn_devices_list says: the first device, the first CPU and the first GPU (NULL if
 * none), and the device a default context picks (the first GPU, else the first CPU). */
typedef struct machine {
    clnn_device_info all[16];
    size_t count;
    const clnn_device_info *first, *cpu, *gpu, *fallback;
} machine;

static void list_machine(machine *m)
{
    memset(m, 0, sizeof *m);
    EXPECT_ST(NULL, clnn_devices_list(m->all, 16, &m->count), CLNN_OK);
    ck_assert_msg(m->count >= 1, "device count: got %zu, expected at least 1", m->count);
    m->first = &m->all[0];
    for (size_t i = 0; i < m->count && i < 16; i++) {
        if (!m->cpu && m->all[i].type == CLNN_DEVICE_CPU)
            m->cpu = &m->all[i];
        if (!m->gpu && m->all[i].type == CLNN_DEVICE_GPU)
            m->gpu = &m->all[i];
    }
    m->fallback = m->gpu ? m->gpu : m->cpu ? m->cpu : m->first;
}

START_TEST(test_ctx_defaults)
{
    clean_env();
    clnn_ctx_options o;
    memset(&o, 0x7f, sizeof o);
    clnn_ctx_options_init(&o);
    ck_assert_msg(!o.device && !o.cache_dir && !o.kernel_dir && !o.log && !o.log_user,
                  "options_init: got a non-NULL pointer, expected NULL defaults");
    ck_assert_msg(o.no_cache == 0 && o.profile == 0,
                  "options_init: got no_cache %d profile %d, expected 0 0", o.no_cache, o.profile);
    ck_assert_msg(o.log_level == CLNN_LOG_WARN, "options_init log_level: got %d, expected %d",
                  (int)o.log_level, (int)CLNN_LOG_WARN);
    clnn_ctx_options_init(NULL); /* no crash */

    EXPECT_ST(NULL, clnn_ctx_create(NULL, NULL), CLNN_ERR_INVALID);
    clnn_ctx *ctx = test_ctx(NULL);
    ck_assert_msg(!strcmp(clnn_ctx_last_error(ctx), ""),
                  "last error of a new context: got \"%s\", expected \"\"",
                  clnn_ctx_last_error(ctx));
    EXPECT_ST(ctx, clnn_ctx_last_status(ctx), CLNN_OK);
    clnn_device_info info;
    EXPECT_ST(ctx, clnn_ctx_device_info(ctx, &info), CLNN_OK);
    ck_assert_msg(info.name[0] && info.compute_units > 0,
                  "device info: got name \"%s\" and %u compute units, expected both filled",
                  info.name, info.compute_units);
    EXPECT_ST(ctx, clnn_ctx_device_info(ctx, NULL), CLNN_ERR_INVALID);
    EXPECT_ST(NULL, clnn_ctx_device_info(NULL, &info), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_ctx_finish(ctx), CLNN_OK);
    EXPECT_ST(NULL, clnn_ctx_finish(NULL), CLNN_ERR_INVALID);
    clnn_ctx_stats s = stats_of(ctx);
    ck_assert_msg(s.device_bytes_allocated == 0,
                  "device bytes of a new context: got %llu, expected 0",
                  (unsigned long long)s.device_bytes_allocated);
    EXPECT_ST(NULL, clnn_ctx_stats_get(NULL, &s), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_ctx_stats_get(ctx, NULL), CLNN_ERR_INVALID);
    check_small_graph(ctx);
    clnn_ctx_destroy(ctx);
    clnn_ctx_destroy(NULL); /* a no-op */
    /* the NULL context's accessors explain instead of crashing */
    ck_assert_msg(strlen(clnn_ctx_last_error(NULL)) > 0, "last error of NULL: got \"\"");
    EXPECT_ST(NULL, clnn_ctx_last_status(NULL), CLNN_ERR_INVALID);
    ck_assert_msg(clnn_ctx_last_raw_code(NULL) == 0, "raw code of NULL: got %d, expected 0",
                  clnn_ctx_last_raw_code(NULL));
    clnn_ctx_clear_error(NULL);
}
END_TEST

/* Creates a context on selector (through options.device, or CLNN_DEVICE when via_env) and
 * checks it lands on the device at want_pi:want_di. */
static void expect_selects(const char *selector, int via_env, int want_pi, int want_di)
{
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    if (via_env)
        setenv("CLNN_DEVICE", selector, 1);
    else
        o.device = selector;
    clnn_ctx *ctx = NULL;
    clnn_status st = clnn_ctx_create(&ctx, &o);
    ck_assert_msg(st == CLNN_OK, "device '%s' (%s): got %s, expected CLNN_OK: %s", selector,
                  via_env ? "CLNN_DEVICE" : "options.device", clnn_status_name(st),
                  clnn_ctx_last_error(ctx));
    clnn_device_info info;
    EXPECT_ST(ctx, clnn_ctx_device_info(ctx, &info), CLNN_OK);
    ck_assert_msg(info.platform_index == want_pi && info.device_index == want_di,
                  "device '%s': got %d:%d, expected %d:%d", selector, info.platform_index,
                  info.device_index, want_pi, want_di);
    clnn_ctx_destroy(ctx);
    unsetenv("CLNN_DEVICE");
}

/* Creates a context on selector and checks it fails with CLNN_ERR_NO_DEVICE and a message that
 * names the selector, where it came from and the devices there are. */
static void expect_no_device(const char *selector, int via_env, const char *available)
{
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    if (via_env)
        setenv("CLNN_DEVICE", selector, 1);
    else
        o.device = selector;
    clnn_ctx *ctx = NULL;
    clnn_status st = clnn_ctx_create(&ctx, &o);
    ck_assert_msg(st == CLNN_ERR_NO_DEVICE, "device '%s': got %s, expected CLNN_ERR_NO_DEVICE",
                  selector, clnn_status_name(st));
    ck_assert_msg(ctx != NULL, "failed context: got NULL, expected a context with the message");
    const char *msg = clnn_ctx_last_error(ctx);
    EXPECT_CONTAINS(msg, selector);
    EXPECT_CONTAINS(msg, via_env ? "CLNN_DEVICE" : "options.device");
    EXPECT_CONTAINS(msg, available);
    EXPECT_ST(ctx, clnn_ctx_last_status(ctx), CLNN_ERR_NO_DEVICE);
    /* a failed context refuses work instead of crashing */
    clnn_tensor *t = NULL;
    EXPECT_ST(ctx, clnn_tensor_create(ctx, CLNN_F32, 1, (int64_t[]){4}, &t), CLNN_ERR_STATE);
    ck_assert_msg(t == NULL, "tensor on a failed context: got %p, expected NULL", (void *)t);
    clnn_graph *g = NULL;
    EXPECT_ST(ctx, clnn_graph_create(ctx, &g), CLNN_ERR_STATE);
    clnn_device_info info;
    EXPECT_ST(ctx, clnn_ctx_device_info(ctx, &info), CLNN_ERR_STATE);
    EXPECT_ST(ctx, clnn_ctx_build_all(ctx), CLNN_ERR_STATE);
    EXPECT_ST(ctx, clnn_ctx_finish(ctx), CLNN_ERR_STATE);
    clnn_ctx_destroy(ctx);
    unsetenv("CLNN_DEVICE");
}

START_TEST(test_device_selection)
{
    clean_env();
    machine m;
    list_machine(&m);
    const clnn_device_info *first = m.first;
    for (int via_env = 0; via_env < 2; via_env++) {
        if (m.cpu)
            expect_selects("cpu", via_env, m.cpu->platform_index, m.cpu->device_index);
        else
            expect_no_device("cpu", via_env, first->name);
        if (m.gpu)
            expect_selects("gpu", via_env, m.gpu->platform_index, m.gpu->device_index);
        else
            expect_no_device("gpu", via_env, first->name); /* this machine: POCL only */
        expect_selects("0:0", via_env, 0, 0);
        expect_selects("", via_env, m.fallback->platform_index, m.fallback->device_index);
        /* a part of the first device's name from its middle, in the other case */
        char part[16];
        size_t len = strlen(first->name), at = len / 3, k = 0;
        for (; k < 8 && at + k < len; k++) {
            char c = first->name[at + k];
            part[k] = (char)(isupper((unsigned char)c) ? tolower((unsigned char)c)
                                                       : toupper((unsigned char)c));
        }
        part[k] = 0;
        expect_selects(part, via_env, first->platform_index, first->device_index);
        expect_no_device("nonexistent-device-xyz", via_env, first->name);
        expect_no_device("0:99", via_env, first->name);
    }
    /* options.device wins over CLNN_DEVICE */
    setenv("CLNN_DEVICE", "nonexistent-device-xyz", 1);
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.device = "0:0";
    clnn_ctx_destroy(test_ctx(&o));
    unsetenv("CLNN_DEVICE");
}
END_TEST

START_TEST(test_failed_ctx_clear_error)
{
    clean_env();
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.device = "nonexistent-device-xyz";
    clnn_ctx *ctx = NULL;
    EXPECT_ST(ctx, clnn_ctx_create(&ctx, &o), CLNN_ERR_NO_DEVICE);
    ck_assert_msg(strlen(clnn_ctx_last_error(ctx)) > 0, "message: got \"\", expected one");
    clnn_ctx_clear_error(ctx);
    ck_assert_msg(!strcmp(clnn_ctx_last_error(ctx), ""), "after clear: got \"%s\", expected \"\"",
                  clnn_ctx_last_error(ctx));
    EXPECT_ST(ctx, clnn_ctx_last_status(ctx), CLNN_OK);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- logging ----------------------------------------------------------------------------- */
START_TEST(test_log_callback)
{
    clean_env();
    static log_capture debug, quiet;
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.log = capture_log;
    o.log_user = &debug;
    o.log_level = CLNN_LOG_DEBUG;
    clnn_ctx *ctx = test_ctx(&o);
    clnn_device_info info;
    EXPECT_ST(ctx, clnn_ctx_device_info(ctx, &info), CLNN_OK);
    ck_assert_msg(debug.count >= 1, "log messages at DEBUG after create: got %d, expected >= 1",
                  debug.count);
    EXPECT_CONTAINS(debug.text, info.name);
    int before = debug.per_level[CLNN_LOG_DEBUG];
    clnn_tensor *t = NULL;
    EXPECT_ST(ctx, clnn_tensor_create(ctx, CLNN_F32, 7, (int64_t[]){1, 1, 1, 1, 1, 1, 1}, &t),
              CLNN_ERR_SHAPE);
    ck_assert_msg(debug.per_level[CLNN_LOG_DEBUG] > before,
                  "DEBUG messages after an error: got %d, expected more than %d",
                  debug.per_level[CLNN_LOG_DEBUG], before);
    EXPECT_CONTAINS(debug.text, "CLNN_ERR_SHAPE");
    clnn_ctx_destroy(ctx);

    /* above the level of every message so far: nothing arrives */
    o.log_user = &quiet;
    o.log_level = CLNN_LOG_ERROR;
    ctx = test_ctx(&o);
    EXPECT_ST(ctx, clnn_tensor_create(ctx, CLNN_F32, 7, (int64_t[]){1, 1, 1, 1, 1, 1, 1}, &t),
              CLNN_ERR_SHAPE);
    clnn_ctx_destroy(ctx);
    ck_assert_msg(quiet.count == 0, "messages at level ERROR: got %d (\"%s\"), expected 0",
                  quiet.count, quiet.text);
    /* DEBUG level without a callback: nothing to call, no crash */
    o.log = NULL;
    o.log_level = CLNN_LOG_DEBUG;
    clnn_ctx_destroy(test_ctx(&o));
}
END_TEST

/* ---- profiling --------------------------------------------------------------------------- */
static const clnn_profile_entry *find_entry(const clnn_profile_entry *e, size_t n, const char *op)
{
    for (size_t i = 0; i < n; i++)
        if (e[i].op && !strcmp(e[i].op, op))
            return &e[i];
    return NULL;
}

/* y = x @ w + b (x: (4, 3), w: (3, 5), b: (5)), loss = sum(y); run `runs` times. */
static void run_profiled_graph(clnn_ctx *ctx, int runs)
{
    clnn_graph *g;
    EXPECT_ST(ctx, clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *x = clnn_input(g, "x", 2, (int64_t[]){4, 3});
    clnn_tensor *w = clnn_param(g, "w", 2, (int64_t[]){3, 5});
    clnn_tensor *b = clnn_param(g, "b", 1, (int64_t[]){5});
    clnn_tensor *loss = clnn_sum(g, clnn_add(g, clnn_matmul(g, x, w, 0, 0), b), 0, NULL, 0);
    EXPECT_ST(ctx, clnn_graph_status(g), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_fill(x, 1.0f), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_fill(w, 0.5f), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_fill(b, 0.25f), CLNN_OK);
    for (int r = 0; r < runs; r++)
        EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    float got;
    EXPECT_ST(ctx, clnn_tensor_read(loss, &got, sizeof got), CLNN_OK);
    ck_assert_msg(fabsf(got - 20 * 1.75f) < 1e-4f, "loss: got %g, expected %g", (double)got,
                  20 * 1.75);
    clnn_graph_destroy(g);
}

/* A node that enqueues several kernels (a padded direct convolution: weights packed, input
 * padded, the convolution; a matmul with B^T: packed, then the tiles) counts one call per run,
 * with its cost once. */
START_TEST(test_profile_multi_kernel)
{
    clean_env();
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.profile = 1;
    o.log_level = CLNN_LOG_ERROR;
    clnn_ctx *ctx = test_ctx(&o);
    clnn_graph *g;
    EXPECT_ST(ctx, clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_conv2d_options co;
    clnn_conv2d_options_init(&co);
    co.pad_h = co.pad_w = 1;
    clnn_tensor *x = clnn_input(g, "x", 4, (int64_t[]){2, 8, 6, 6});
    clnn_tensor *w = clnn_input(g, "w", 4, (int64_t[]){40, 8, 3, 3});
    clnn_tensor *a = clnn_input(g, "a", 2, (int64_t[]){5, 7});
    clnn_tensor *b = clnn_input(g, "b", 2, (int64_t[]){9, 7});
    clnn_tensor *y = clnn_conv2d(g, x, w, NULL, &co), *m = clnn_matmul(g, a, b, 0, 1);
    clnn_graph_keep(g, y);
    clnn_graph_keep(g, m);
    EXPECT_ST(ctx, clnn_graph_plan(g), CLNN_OK);
    clnn_tensor *in[4] = {x, w, a, b};
    for (int i = 0; i < 4; i++)
        EXPECT_ST(ctx, clnn_tensor_fill(in[i], 0.5f), CLNN_OK);
    for (int r = 0; r < 2; r++)
        EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    clnn_profile_entry e[32];
    size_t n = 0;
    EXPECT_ST(ctx, clnn_profile_get(ctx, e, 32, &n), CLNN_OK);
    const clnn_profile_entry *c = find_entry(e, n, "conv2d"), *mm = find_entry(e, n, "matmul");
    ck_assert_msg(c && mm, "profile entries conv2d and matmul: got %p and %p", (void *)c,
                  (void *)mm);
    double conv_flops = 2 * (2.0 * 2 * 40 * 8 * 9 * 36), mm_flops = 2 * (2.0 * 5 * 9 * 7);
    ck_assert_msg(c->calls == 2 && fabs(c->flops - conv_flops) < 1e-6,
                  "conv2d: got %llu calls and %g flops, expected 2 and %g",
                  (unsigned long long)c->calls, c->flops, conv_flops);
    ck_assert_msg(mm->calls == 2 && fabs(mm->flops - mm_flops) < 1e-6,
                  "matmul: got %llu calls and %g flops, expected 2 and %g",
                  (unsigned long long)mm->calls, mm->flops, mm_flops);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_profile)
{
    clean_env();
    static log_capture log;
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.profile = 1;
    o.log = capture_log;
    o.log_user = &log;
    o.log_level = CLNN_LOG_INFO;
    clnn_ctx *ctx = test_ctx(&o);
    run_profiled_graph(ctx, 2);
    clnn_profile_entry e[32];
    size_t n = 0, counted = 0;
    EXPECT_ST(ctx, clnn_profile_get(ctx, NULL, 0, &counted), CLNN_OK);
    EXPECT_ST(ctx, clnn_profile_get(ctx, e, 32, &n), CLNN_OK);
    ck_assert_msg(n == counted && n >= 3, "profile entries: got %zu (counted %zu), expected >= 3",
                  n, counted);
    static const char *const ops[] = {"matmul", "add", "sum"};
    for (int i = 0; i < 3; i++) {
        const clnn_profile_entry *p = find_entry(e, n, ops[i]);
        ck_assert_msg(p != NULL, "profile entry '%s': got none, expected one", ops[i]);
        ck_assert_msg(p->calls >= 2, "'%s' calls: got %llu, expected >= 2 (two runs)", ops[i],
                      (unsigned long long)p->calls);
        ck_assert_msg(p->total_ms >= 0 && isfinite(p->total_ms),
                      "'%s' total ms: got %g, expected a finite value >= 0", ops[i], p->total_ms);
    }
    const clnn_profile_entry *mm = find_entry(e, n, "matmul");
    ck_assert_msg(mm->calls == 2, "matmul calls: got %llu, expected 2",
                  (unsigned long long)mm->calls);
    ck_assert_msg(fabs(mm->flops - 2 * 2.0 * 4 * 5 * 3) < 1e-9, "matmul flops: got %g, expected %g",
                  mm->flops, 2 * 2.0 * 4 * 5 * 3);
    for (size_t i = 1; i < n; i++)
        ck_assert_msg(e[i - 1].total_ms >= e[i].total_ms,
                      "profile order: got %g ms before %g ms, expected largest first",
                      e[i - 1].total_ms, e[i].total_ms);
    char report[4096];
    EXPECT_ST(ctx, clnn_profile_report(ctx, report, sizeof report), CLNN_OK);
    for (int i = 0; i < 3; i++)
        EXPECT_CONTAINS(report, ops[i]);
    EXPECT_CONTAINS(report, "calls");
    char tiny[8];
    EXPECT_ST(ctx, clnn_profile_report(ctx, tiny, sizeof tiny), CLNN_OK);
    ck_assert_msg(strlen(tiny) < sizeof tiny,
                  "a report into 8 bytes: got %zu chars, expected a NUL-terminated prefix",
                  strlen(tiny));
    EXPECT_ST(ctx, clnn_profile_report(ctx, NULL, 0), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_profile_get(ctx, NULL, 0, NULL), CLNN_ERR_INVALID);
    clnn_profile_reset(ctx);
    EXPECT_ST(ctx, clnn_profile_get(ctx, e, 32, &n), CLNN_OK);
    ck_assert_msg(n == 0, "entries after reset: got %zu, expected 0", n);
    /* the report at destroy goes to the log */
    run_profiled_graph(ctx, 1);
    clnn_ctx_destroy(ctx);
    EXPECT_CONTAINS(log.text, "matmul");
}
END_TEST

START_TEST(test_profile_off_and_env)
{
    clean_env();
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_profile_entry e[8];
    size_t n = 99;
    EXPECT_ST(ctx, clnn_profile_get(ctx, e, 8, &n), CLNN_ERR_STATE);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "profil");
    char report[256];
    EXPECT_ST(ctx, clnn_profile_report(ctx, report, sizeof report), CLNN_ERR_STATE);
    clnn_profile_reset(ctx); /* harmless */
    clnn_profile_reset(NULL);
    clnn_ctx_destroy(ctx);

    static log_capture log;
    setenv("CLNN_PROFILE", "1", 1);
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.log = capture_log;
    o.log_user = &log;
    ctx = test_ctx(&o);
    run_profiled_graph(ctx, 1);
    EXPECT_ST(ctx, clnn_profile_get(ctx, e, 8, &n), CLNN_OK);
    ck_assert_msg(find_entry(e, n, "matmul") != NULL,
                  "CLNN_PROFILE=1: got no matmul entry among %zu, expected one", n);
    clnn_ctx_destroy(ctx);
    unsetenv("CLNN_PROFILE");
}
END_TEST

/* ---- raw codes --------------------------------------------------------------------------- */
START_TEST(test_raw_code)
{
    clean_env();
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_device_info info;
    EXPECT_ST(ctx, clnn_ctx_device_info(ctx, &info), CLNN_OK);
    /* refused before any OpenCL call: the status says device memory, no raw code behind it */
    clnn_tensor *t = NULL;
    int64_t too_many = (int64_t)(info.max_alloc_bytes / 4) + 1;
    EXPECT_ST(ctx, clnn_tensor_create(ctx, CLNN_F32, 1, &too_many, &t), CLNN_ERR_DEVICE_MEMORY);
    EXPECT_ST(ctx, clnn_ctx_last_status(ctx), CLNN_ERR_DEVICE_MEMORY);
    ck_assert_msg(clnn_ctx_last_raw_code(ctx) == 0,
                  "raw code of a refused allocation: got %d, expected 0 (no OpenCL call failed)",
                  clnn_ctx_last_raw_code(ctx));
    clnn_ctx_destroy(ctx);

    /* an OpenCL failure keeps its code until the next error or clnn_ctx_clear_error */
    kernel_src();
    char dir[512], broken[256];
    temp_dir(dir, sizeof dir);
    copy_kernels(dir, BROKEN_KERNEL, broken, sizeof broken);
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.no_cache = 1;
    o.kernel_dir = dir;
    ctx = test_ctx(&o);
    expect_broken_build(ctx, broken);
    EXPECT_ST(ctx, clnn_ctx_last_status(ctx), CLNN_ERR_BUILD);
    EXPECT_ST(ctx, clnn_tensor_create(ctx, CLNN_F32, 1, &too_many, &t), CLNN_ERR_DEVICE_MEMORY);
    ck_assert_msg(clnn_ctx_last_raw_code(ctx) == 0,
                  "raw code after a later non-OpenCL error: got %d, expected 0",
                  clnn_ctx_last_raw_code(ctx));
    expect_broken_build(ctx, broken);
    clnn_ctx_clear_error(ctx);
    ck_assert_msg(clnn_ctx_last_raw_code(ctx) == 0 && clnn_ctx_last_status(ctx) == CLNN_OK,
                  "after clear: got raw %d and %s, expected 0 and CLNN_OK",
                  clnn_ctx_last_raw_code(ctx), clnn_status_name(clnn_ctx_last_status(ctx)));
    clnn_ctx_destroy(ctx);
    remove_dir(dir);
}
END_TEST

/* A kernel launched with a larger work-group than the device takes (POCL_MAX_WORK_GROUP_SIZE=32:
 * the unit suite's test_core_small_work_groups; clnn_scale of 100 floats runs 64-item groups)
 * fails with CLNN_ERR_OPENCL naming the node, the work-group asked for and what the kernel and
 * the device allow; with the usual limits the same graph runs and scales. */
START_TEST(test_work_group_limit)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_device_info info;
    EXPECT_ST(ctx, clnn_ctx_device_info(ctx, &info), CLNN_OK);
    clnn_graph *g = NULL;
    EXPECT_ST(ctx, clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *x = clnn_input(g, "x", 1, (int64_t[]){100});
    clnn_tensor *y = clnn_graph_keep(g, clnn_scale(g, x, 2.0f));
    ck_assert_ptr_nonnull(y);
    float v[100], out[100];
    for (int i = 0; i < 100; i++)
        v[i] = (float)i - 50.0f;
    EXPECT_ST(ctx, clnn_tensor_write(x, v, sizeof v), CLNN_OK);
    clnn_status st = clnn_graph_run(g);
    if (info.max_work_group_size >= 64) {
        ck_assert_msg(st == CLNN_OK, "%s", clnn_ctx_last_error(ctx));
        EXPECT_ST(ctx, clnn_tensor_read(y, out, sizeof out), CLNN_OK);
        for (int i = 0; i < 100; i++)
            ck_assert_msg(out[i] == 2.0f * v[i], "y[%d]: got %g, expected %g", i, out[i],
                          2.0f * v[i]);
    } else {
        char want[64];
        snprintf(want, sizeof want, "on this device, the device %zu)", info.max_work_group_size);
        ck_assert_msg(st == CLNN_ERR_OPENCL, "got %s", clnn_status_name(st));
        EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "scale");
        EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "work-groups of 64x1x1 (64 items;");
        EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "the kernel takes at most");
        EXPECT_CONTAINS(clnn_ctx_last_error(ctx), want);
        EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "CL_INVALID_WORK_GROUP_SIZE");
    }
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = new_tcase("api");
    tcase_add_test(tc, test_version);
    tcase_add_loop_test(tc, test_status_name_and_text, 0, NSTATUSES);
    tcase_add_test(tc, test_status_list_complete);
    suite_add_tcase(s, tc);

    tc = new_tcase("context");
    tcase_add_test(tc, test_devices_list);
    tcase_add_test(tc, test_ctx_defaults);
    tcase_add_test(tc, test_device_selection);
    tcase_add_test(tc, test_failed_ctx_clear_error);
    tcase_add_test(tc, test_log_callback);
    tcase_add_test(tc, test_raw_code);
    suite_add_tcase(s, tc);

    tc = new_tcase("work_groups");
    tcase_add_test(tc, test_work_group_limit);
    suite_add_tcase(s, tc);

    tc = new_tcase("profile");
    tcase_add_test(tc, test_profile);
    tcase_add_test(tc, test_profile_multi_kernel);
    tcase_add_test(tc, test_profile_off_and_env);
    suite_add_tcase(s, tc);

    return s;
}

int main(void)
{
    /* no OpenCL here: check forks every test, and each test makes its own context */
    return test_run_suite(core_suite());
}
