/* json.c — clnn-bench's machine-readable side: the --json writer (one object on stdout) and
 * --compare OLD.json, which reads an earlier --json output with a small tolerant reader of our own
 * (any valid JSON is accepted; only the fields clnn-bench writes are used), matches results by
 * (suite, name, shape) and reports each one's speed-up. Not here: running anything (main.c). */
#include <errno.h>

#include "bench.h"

#define CMP_FASTER COMPARE_FASTER
#define CMP_SLOWER COMPARE_SLOWER
#define JSON_DEPTH 32 /* nesting the reader accepts */

/* The rate keys results use, and whether more is better. */
static const struct rate_key {
    const char *key;
    int higher_is_better;
} RATE_KEYS[] = {{"gflops", 1}, {"gbps", 1}, {"samples_per_s", 1}, {"us_per_launch", 0}};
#define NRATE_KEYS (int)(sizeof RATE_KEYS / sizeof *RATE_KEYS)

typedef struct old_result {
    char suite[24], name[40], shape[48];
    int rate_key; /* index into RATE_KEYS; -1: none */
    double rate, median_ms;
} old_result;

typedef struct compare_set {
    char path[256], device[128];
    int quick; /* -1: unknown */
    old_result *r;
    size_t n, cap;
} compare_set;

/* ---- writer --------------------------------------------------------------------------------- */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

/* A JSON number in buf (32 bytes): null when not finite, integers in full. */
static const char *json_num(char *buf, double v)
{
    snprintf(buf, 32, !isfinite(v) ? "null" : v == floor(v) && fabs(v) < 1e15 ? "%.0f" : "%.6g", v);
    return buf;
}

static void json_device(const clnn_device_info *d)
{
    const char *keys[] = {"name", "platform", "vendor", "driver_version", "opencl_c_version"};
    const char *values[] = {d->name, d->platform_name, d->vendor, d->driver_version,
                            d->opencl_c_version};
    printf("{\"index\": \"%d:%d\", \"type\": \"%s\"", d->platform_index, d->device_index,
           type_name(d->type));
    for (int i = 0; i < 5; i++) {
        printf(", \"%s\": ", keys[i]);
        json_str(values[i]);
    }
    printf(", \"compute_units\": %u, \"max_clock_mhz\": %u, \"global_mem_bytes\": %llu, "
           "\"local_mem_bytes\": %llu, \"max_alloc_bytes\": %llu, \"max_work_group_size\": %zu, "
           "\"fp16\": %s, \"fp64\": %s}",
           d->compute_units, d->max_clock_mhz, (unsigned long long)d->global_mem_bytes,
           (unsigned long long)d->local_mem_bytes, (unsigned long long)d->max_alloc_bytes,
           d->max_work_group_size, d->has_fp16 ? "true" : "false", d->has_fp64 ? "true" : "false");
}

static void json_result(const result *r)
{
    char v[32];
    printf("{\"suite\": \"%s\", \"name\": ", r->suite);
    json_str(r->name);
    printf(", \"shape\": ");
    json_str(r->shape);
    printf(", \"median_ms\": %s, ", json_num(v, r->median_ms));
    printf("\"min_ms\": %s", json_num(v, r->min_ms));
    if (r->runs_per_sample > 0)
        printf(", \"runs_per_sample\": %d", r->runs_per_sample);
    for (int k = -1; k < RESULT_EXTRAS; k++)
        if (k < 0 ? r->unit : r->extra_key[k])
            printf(", \"%s\": %s", k < 0 ? r->unit : r->extra_key[k],
                   json_num(v, k < 0 ? r->rate : r->extra[k]));
    if (isfinite(r->roof))
        printf(", \"%s\": %s", r->roof_copy ? "fraction_of_copy" : "fraction_of_peak",
               json_num(v, r->roof));
    if (r->unavailable[0]) { /* the library's message */
        printf(", \"unavailable\": ");
        json_str(r->unavailable);
    }
    printf(", \"checked\": %s, \"max_rel_err\": %s}", r->checked ? "true" : "false",
           json_num(v, r->max_rel_err));
}

/* The old result matching r, or NULL. */
static const old_result *compare_find(const compare_set *c, const result *r)
{
    for (size_t i = 0; c && i < c->n; i++)
        if (!strcmp(c->r[i].suite, r->suite) && !strcmp(c->r[i].name, r->name) &&
            !strcmp(c->r[i].shape, r->shape))
            return &c->r[i];
    return NULL;
}

/* Compares r with its old result o: the throughputs compared (old, new; in unit) and the speed-up,
 * > 1 when the new run is faster. 0 when they cannot be compared. */
static int compare_one(const old_result *o, const result *r, double *old_v, double *new_v,
                       const char **unit, double *speedup)
{
    int k = -1;
    for (int i = 0; r->unit && i < NRATE_KEYS; i++)
        if (!strcmp(r->unit, RATE_KEYS[i].key))
            k = i;
    if (k >= 0 && k == o->rate_key && o->rate > 0 && r->rate > 0 && isfinite(r->rate)) {
        *old_v = o->rate, *new_v = r->rate, *unit = RATE_KEYS[k].key;
        *speedup = RATE_KEYS[k].higher_is_better ? r->rate / o->rate : o->rate / r->rate;
        return 1;
    }
    if (o->median_ms > 0 && r->median_ms > 0 && isfinite(r->median_ms)) {
        *old_v = o->median_ms, *new_v = r->median_ms, *unit = "median_ms";
        *speedup = o->median_ms / r->median_ms;
        return 1;
    }
    return 0;
}

static const char *verdict(double speedup)
{
    return speedup < CMP_SLOWER ? "regression" : speedup > CMP_FASTER ? "faster" : "same";
}

static void json_comparison(const bench *b)
{
    printf("  \"compare_file\": ");
    json_str(b->compare->path);
    printf(",\n  \"comparison\": [");
    int first = 1;
    for (size_t i = 0; i < b->nresults; i++) {
        const result *r = &b->results[i];
        const old_result *o = compare_find(b->compare, r);
        double ov, nv, sp;
        const char *unit;
        if (!o || !compare_one(o, r, &ov, &nv, &unit, &sp))
            continue;
        char v[3][32];
        printf("%s\n    {\"suite\": \"%s\", \"name\": ", first ? "" : ",", r->suite);
        json_str(r->name);
        printf(", \"shape\": ");
        json_str(r->shape);
        printf(
            ", \"unit\": \"%s\", \"old\": %s, \"new\": %s, \"speedup\": %s, \"verdict\": \"%s\"}",
            unit, json_num(v[0], ov), json_num(v[1], nv), json_num(v[2], sp), verdict(sp));
        first = 0;
    }
    printf("\n  ],\n");
}

void json_output(const bench *b)
{
    printf("{\n  \"tool\": \"clnn-bench\", \"clnn_version\": ");
    json_str(clnn_version());
    printf(", \"quick\": %s, \"reps\": %d,\n", b->quick ? "true" : "false", b->reps);
    if (b->ctx) {
        printf("  \"device\": ");
        json_device(&b->info);
        printf(",\n");
    }
    for (size_t i = 0; i < b->ndevices; i++) {
        printf(i ? ",\n    " : "  \"devices\": [\n    ");
        json_device(&b->devices[i]);
        printf(i + 1 == b->ndevices ? "\n  ],\n" : "");
    }
    char hc[32], v[2][32];
    if (b->roof.measured) {
        printf("  \"roofline\": {\"copy_gbps\": %s, \"peak_gflops\": %s, \"peak_variant\": ",
               json_num(v[0], b->roof.copy_gbps > 0 ? b->roof.copy_gbps : NAN),
               json_num(v[1], b->roof.peak_gflops > 0 ? b->roof.peak_gflops : NAN));
        json_str(b->roof.peak_variant);
        printf("},\n");
    }
    printf("  \"host_copy_gbps\": %s,\n  \"results\": [",
           json_num(hc, b->host_copy_gbps > 0 ? b->host_copy_gbps : NAN));
    for (size_t i = 0; i < b->nresults; i++) {
        printf("%s\n    ", i ? "," : "");
        json_result(&b->results[i]);
    }
    printf("\n  ],\n");
    if (b->ops_ran)
        printf("  \"reference_gflops\": {\"clblast_sgemm_untuned\": %g, \"openblas_sgemm\": %g},\n",
               REF_CLBLAST_GFLOPS, REF_OPENBLAS_GFLOPS);
    for (size_t i = 0; i < b->nprofiles; i++) {
        const op_profile *p = &b->profiles[i];
        char n[4][32];
        printf(i ? ",\n    {\"case\": " : "  \"op_profiles\": [\n    {\"case\": ");
        json_str(p->case_name);
        printf(", \"op\": ");
        json_str(p->op);
        printf(", \"calls_per_run\": %s, \"ms_per_run\": %s, \"gflops\": %s, \"gbps\": %s}",
               json_num(n[0], p->calls_per_run), json_num(n[1], p->ms_per_run),
               json_num(n[2], p->gflops > 0 ? p->gflops : NAN),
               json_num(n[3], p->gbps > 0 ? p->gbps : NAN));
        printf(i + 1 == b->nprofiles ? "\n  ],\n" : "");
    }
    if (b->compare)
        json_comparison(b);
    printf("  \"failures\": %d\n}\n", b->failures);
}

/* ---- reader --------------------------------------------------------------------------------- */
typedef struct json_in {
    const char *p, *end;
    const char *error; /* the first error; NULL: none */
} json_in;

static void jin_ws(json_in *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

/* Consumes c (after white space); 1 if it was there. */
static int jin_eat(json_in *j, char c)
{
    jin_ws(j);
    if (j->p < j->end && *j->p == c)
        return j->p++, 1;
    return 0;
}

static int jin_fail(json_in *j, const char *what)
{
    if (!j->error)
        j->error = what;
    return -1;
}

/* A string into out (truncated to size; \u escapes outside ASCII become '?'). */
static int jin_string(json_in *j, char *out, size_t size)
{
    size_t n = 0;
    if (!jin_eat(j, '"'))
        return jin_fail(j, "expected a string");
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        if (c == '\\' && j->p < j->end) {
            char e = *j->p++;
            c = e == 'n'   ? '\n'
                : e == 't' ? '\t'
                : e == 'r' ? '\r'
                : e == 'b' ? '\b'
                : e == 'f' ? '\f'
                           : e;
            if (e == 'u') {
                unsigned u = 0;
                for (int i = 0; i < 4 && j->p < j->end; i++, j->p++)
                    u = u * 16 + (unsigned)(*j->p <= '9' ? *j->p - '0' : (*j->p | 32) - 'a' + 10);
                c = u < 0x80 ? (char)u : '?';
            }
        }
        if (n + 1 < size)
            out[n++] = c;
    }
    if (size)
        out[n] = 0;
    return jin_eat(j, '"') ? 0 : jin_fail(j, "unterminated string");
}

/* A number, true (1), false (0) or null (NaN). */
static int jin_scalar(json_in *j, double *v)
{
    jin_ws(j);
    static const struct {
        const char *word;
        double value;
    } words[] = {{"true", 1}, {"false", 0}, {"null", NAN}};
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(words[i].word);
        if ((size_t)(j->end - j->p) >= len && !strncmp(j->p, words[i].word, len)) {
            j->p += len;
            *v = words[i].value;
            return 0;
        }
    }
    char buf[64];
    size_t n = 0;
    while (j->p + n < j->end && n < sizeof buf - 1 && strchr("+-0123456789.eE", j->p[n]))
        n++;
    memcpy(buf, j->p, n);
    buf[n] = 0;
    char *e;
    *v = strtod(buf, &e);
    if (!n || *e)
        return jin_fail(j, "expected a value");
    j->p += n;
    return 0;
}

static int jin_skip(json_in *j, int depth);

/* Calls field(user, j, key) for each member of an object; field parses (or skips) the value. */
typedef int (*jin_field)(void *user, json_in *j, const char *key, int depth);
static int jin_object(json_in *j, int depth, jin_field field, void *user)
{
    if (depth > JSON_DEPTH)
        return jin_fail(j, "nested too deeply");
    if (!jin_eat(j, '{'))
        return jin_fail(j, "expected an object");
    if (jin_eat(j, '}'))
        return 0;
    do {
        char key[64];
        if (jin_string(j, key, sizeof key) || !jin_eat(j, ':'))
            return jin_fail(j, "expected \"key\":");
        if ((field ? field(user, j, key, depth + 1) : jin_skip(j, depth + 1)) < 0)
            return -1;
    } while (jin_eat(j, ','));
    return jin_eat(j, '}') ? 0 : jin_fail(j, "expected , or } in an object");
}

/* Calls item(user, j) for each element of an array. */
static int jin_array(json_in *j, int depth, int (*item)(void *user, json_in *j, int depth),
                     void *user)
{
    if (depth > JSON_DEPTH)
        return jin_fail(j, "nested too deeply");
    if (!jin_eat(j, '['))
        return jin_fail(j, "expected an array");
    if (jin_eat(j, ']'))
        return 0;
    do {
        if ((item ? item(user, j, depth + 1) : jin_skip(j, depth + 1)) < 0)
            return -1;
    } while (jin_eat(j, ','));
    return jin_eat(j, ']') ? 0 : jin_fail(j, "expected , or ] in an array");
}

static int skip_item(void *user, json_in *j, int depth)
{
    (void)user;
    return jin_skip(j, depth);
}

static int jin_skip(json_in *j, int depth)
{
    jin_ws(j);
    char c = j->p < j->end ? *j->p : 0;
    double v;
    char s[8];
    return c == '{'   ? jin_object(j, depth, NULL, NULL)
           : c == '[' ? jin_array(j, depth, skip_item, NULL)
           : c == '"' ? jin_string(j, s, sizeof s)
                      : jin_scalar(j, &v);
}

/* A value that is a string (into out) or anything else (skipped, out unchanged). */
static int jin_maybe_string(json_in *j, char *out, size_t size, int depth)
{
    jin_ws(j);
    return j->p < j->end && *j->p == '"' ? jin_string(j, out, size) : jin_skip(j, depth);
}

static int result_field(void *user, json_in *j, const char *key, int depth)
{
    old_result *o = user;
    if (!strcmp(key, "suite"))
        return jin_maybe_string(j, o->suite, sizeof o->suite, depth);
    if (!strcmp(key, "name"))
        return jin_maybe_string(j, o->name, sizeof o->name, depth);
    if (!strcmp(key, "shape"))
        return jin_maybe_string(j, o->shape, sizeof o->shape, depth);
    jin_ws(j);
    if (j->p < j->end && strchr("{[\"", *j->p))
        return jin_skip(j, depth);
    double v;
    if (jin_scalar(j, &v))
        return -1;
    if (!strcmp(key, "median_ms"))
        o->median_ms = v;
    for (int i = 0; i < NRATE_KEYS; i++)
        if (!strcmp(key, RATE_KEYS[i].key) && o->rate_key < 0)
            o->rate_key = i, o->rate = v;
    return 0;
}

static int result_item(void *user, json_in *j, int depth)
{
    compare_set *c = user;
    old_result o = {.rate_key = -1, .rate = NAN, .median_ms = NAN};
    if (jin_object(j, depth, result_field, &o))
        return -1;
    if (!o.suite[0] || !o.name[0])
        return 0; /* not a result of ours: ignored */
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        old_result *r = realloc(c->r, cap * sizeof *r);
        if (!r)
            return jin_fail(j, "out of host memory");
        c->r = r, c->cap = cap;
    }
    c->r[c->n++] = o;
    return 0;
}

static int device_field(void *user, json_in *j, const char *key, int depth)
{
    compare_set *c = user;
    return !strcmp(key, "name") ? jin_maybe_string(j, c->device, sizeof c->device, depth)
                                : jin_skip(j, depth);
}

static int top_field(void *user, json_in *j, const char *key, int depth)
{
    compare_set *c = user;
    jin_ws(j);
    char next = j->p < j->end ? *j->p : 0;
    if (!strcmp(key, "results"))
        return jin_array(j, depth, result_item, c);
    if (!strcmp(key, "device") && next == '{')
        return jin_object(j, depth, device_field, c);
    if (!strcmp(key, "quick") && next != '{' && next != '[' && next != '"') {
        double v;
        if (jin_scalar(j, &v))
            return -1;
        c->quick = v == 1;
        return 0;
    }
    return jin_skip(j, depth);
}

int compare_load(bench *b, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0, cap = 0;
    compare_set *c = calloc(1, sizeof *c);
    const char *why = !f ? strerror(errno) : !c ? "out of host memory" : NULL;
    while (!why) {
        if (len == cap && !(text = realloc(text, cap = cap ? 2 * cap : 65536))) {
            why = "out of host memory";
            break;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            why = ferror(f) ? strerror(errno) : NULL;
            break;
        }
    }
    if (f)
        fclose(f);
    json_in j = {text, text + len, NULL};
    if (!why) {
        snprintf(c->path, sizeof c->path, "%s", path);
        c->quick = -1;
        if (jin_object(&j, 0, top_field, c) == 0) {
            jin_ws(&j);
            if (j.p != j.end)
                jin_fail(&j, "text after the end of the object");
        }
        why = j.error     ? j.error
              : c->n == 0 ? "no results in it (not a clnn-bench --json output?)"
                          : NULL;
    }
    long at = j.error && text ? (long)(j.p - text) : -1;
    free(text);
    if (why) {
        fprintf(stderr, "clnn-bench: --compare: cannot read '%s': %s", path, why);
        if (at >= 0)
            fprintf(stderr, " (at byte %ld of %zu)", at, len);
        fprintf(stderr, "\n");
        if (c)
            free(c->r);
        free(c);
        return -1;
    }
    b->compare = c;
    return 0;
}

void compare_free(bench *b)
{
    if (b->compare)
        free(b->compare->r);
    free(b->compare);
    b->compare = NULL;
}

void compare_print(const bench *b)
{
    const compare_set *c = b->compare;
    if (!c || b->json)
        return;
    printf("\n== compare with %s (device '%s'%s)\n   speed-up = new / old throughput (times and "
           "us/launch: old / new); regression below %.2fx, faster above %.2fx\n",
           c->path, c->device[0] ? c->device : "?",
           c->quick < 0 ? ""
           : c->quick   ? ", quick"
                        : ", full",
           CMP_SLOWER, CMP_FASTER);
    if (c->quick >= 0 && c->quick != b->quick)
        printf("   (the old run was %s and this one %s: their cases differ)\n",
               c->quick ? "--quick" : "full", b->quick ? "--quick" : "full");
    if (c->device[0] && strcmp(c->device, b->info.name) && b->ctx)
        printf("   (another device: this run is on '%s')\n", b->info.name);
    printf("%-12s %-34s %-30s %12s %12s %-14s %8s  %s\n", "suite", "name", "shape", "old", "new",
           "unit", "speed-up", "verdict");
    int matched = 0, faster = 0, slower = 0;
    for (size_t i = 0; i < b->nresults; i++) {
        const result *r = &b->results[i];
        const old_result *o = compare_find(c, r);
        double ov, nv, sp;
        const char *unit;
        if (!o || !compare_one(o, r, &ov, &nv, &unit, &sp))
            continue;
        matched++;
        faster += sp > CMP_FASTER;
        slower += sp < CMP_SLOWER;
        printf("%-12s %-34s %-30s %12.4g %12.4g %-14s %7.3fx  %s\n", r->suite, r->name, r->shape,
               ov, nv, unit, sp,
               sp < CMP_SLOWER   ? "REGRESSION"
               : sp > CMP_FASTER ? "faster"
                                 : "");
    }
    size_t only_old = 0;
    for (size_t i = 0; i < c->n; i++) {
        int found = 0;
        for (size_t k = 0; k < b->nresults && !found; k++)
            found = !strcmp(c->r[i].suite, b->results[k].suite) &&
                    !strcmp(c->r[i].name, b->results[k].name) &&
                    !strcmp(c->r[i].shape, b->results[k].shape);
        only_old += !found;
    }
    printf("%d compared: %d faster, %d regression%s, %d within %.0f%%; %zu result%s of this run "
           "not compared, %zu only in the old one\n",
           matched, faster, slower, slower == 1 ? "" : "s", matched - faster - slower,
           100 * (CMP_FASTER - 1), b->nresults - (size_t)matched,
           b->nresults - (size_t)matched == 1 ? "" : "s", only_old);
}
