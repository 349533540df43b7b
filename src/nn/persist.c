/* persist.c — model files and checkpoints in the safetensors container (src/io/safetensors.c):
 * parameters under "<layer>.<name>", and in the metadata the architecture as JSON (written here
 * with clnn__buf, read back with clnn__json), so clnn_model_load rebuilds the same model by
 * replaying its inputs and layer applications. Checkpoints add the compile options, the
 * optimizer's state tensors ("optimizer.<parameter>.<k>") and counters, the training step count
 * and the epoch. A checkpoint loaded before the optimizer exists (it is made by the first training
 * step) is kept on the host and applied when it is made (clnn__model_apply_pending_opt). Weights
 * from other tools (PyTorch) load by name with clnn_model_load_weights. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/io.h"
#include "model.h"

#define ARCH_FORMAT 1

/* ---- writing the architecture --------------------------------------------------------------- */
static void put_pair(clnn__buf *b, const char *key, int x, int y)
{
    clnn__buf_printf(b, ",\"%s\":[%d,%d]", key, x, y);
}

static void put_spec(clnn__buf *b, const clnn__layer *L)
{
    const clnn_layer_spec *s = &L->spec;
    clnn__buf_printf(b, "{\"kind\":");
    clnn__buf_json_string(b, clnn__layer_prefix(s->kind));
    clnn__buf_printf(b, ",\"name\":");
    clnn__buf_json_string(b, s->name);
    clnn__buf_printf(b, ",\"trainable\":%d,\"units\":%d", L->trainable, s->units);
    put_pair(b, "kernel", s->kernel_h, s->kernel_w);
    put_pair(b, "stride", s->stride_h, s->stride_w);
    clnn__buf_printf(b, ",\"padding\":%d", (int)s->padding);
    put_pair(b, "pad", s->pad_h, s->pad_w);
    put_pair(b, "dilation", s->dilation_h, s->dilation_w);
    clnn__buf_printf(b, ",\"groups\":%d", s->groups);
    put_pair(b, "output_pad", s->output_pad_h, s->output_pad_w);
    clnn__buf_printf(b,
                     ",\"activation\":%d,\"alpha\":%.9g,\"use_bias\":%d,\"rate\":%.9g,"
                     "\"momentum\":%.9g,\"eps\":%.9g,\"center\":%d,\"scale\":%d,\"input_dim\":%d,"
                     "\"padding_index\":%d,\"axis\":%d,\"num_layers\":%d,"
                     "\"bidirectional\":%d,\"return_sequences\":%d,\"shape\":[",
                     (int)s->activation, (double)s->alpha, s->use_bias, (double)s->rate,
                     (double)s->momentum, (double)s->eps, s->center, s->scale, s->input_dim,
                     s->padding_index, s->axis, s->num_layers, s->bidirectional,
                     s->return_sequences);
    for (int i = 0; i < s->ndim && i < CLNN_MAX_DIMS - 1; i++)
        clnn__buf_printf(b, "%s%lld", i ? "," : "", (long long)s->shape[i]);
    clnn__buf_printf(b, "]}");
}

static void put_architecture(clnn__buf *b, const clnn_model *m)
{
    clnn__buf_printf(b, "{\"format\":%d,\"name\":", ARCH_FORMAT);
    clnn__buf_json_string(b, m->o.name);
    clnn__buf_printf(b, ",\"init\":%d,\"seed\":%llu,\"output\":%d,\"layers\":[", (int)m->o.init,
                     (unsigned long long)m->o.seed, m->output);
    for (int i = 0; i < m->nlayers; i++) {
        if (i)
            clnn__buf_printf(b, ",");
        put_spec(b, m->layers[i]);
    }
    clnn__buf_printf(b, "],\"nodes\":[");
    for (int i = 0; i < m->nnodes; i++) {
        const clnn__mnode *n = &m->nodes[i];
        clnn__buf_printf(b, "%s{", i ? "," : "");
        if (n->layer < 0) {
            clnn__buf_printf(b, "\"input\":");
            clnn__buf_json_string(b, n->name);
            clnn__buf_printf(b, ",\"dtype\":\"%s\",\"shape\":[",
                             n->dtype == CLNN_I32 ? "i32" : "f32");
            for (int k = 0; k < n->ndim; k++)
                clnn__buf_printf(b, "%s%lld", k ? "," : "", (long long)n->shape[k]);
            clnn__buf_printf(b, "]}");
        } else {
            clnn__buf_printf(b, "\"layer\":%d,\"inputs\":[", n->layer);
            for (int k = 0; k < n->nin; k++)
                clnn__buf_printf(b, "%s%d", k ? "," : "", n->in[k]);
            clnn__buf_printf(b, "]}");
        }
    }
    clnn__buf_printf(b, "]}");
}

/* ---- writing files -------------------------------------------------------------------------- */
typedef struct entries {
    clnn_safetensors_entry *e;
    void **data; /* owned host copies */
    char **names;
    int64_t (*shapes)[CLNN_MAX_DIMS];
    int n, cap;
} entries;

static void entries_free(entries *es)
{
    for (int i = 0; i < es->n; i++) {
        free(es->data[i]);
        free(es->names[i]);
    }
    free(es->e);
    free(es->data);
    free(es->names);
    free(es->shapes);
    memset(es, 0, sizeof *es);
}

/* Adds a host copy of count floats under name with shape (ndim, shape). */
static int entries_add(entries *es, const char *name, int ndim, const int64_t *shape, float *data)
{
    if (es->n == es->cap) {
        int cap = es->cap ? es->cap * 2 : 16;
        clnn_safetensors_entry *e = realloc(es->e, (size_t)cap * sizeof *e);
        if (e)
            es->e = e;
        void **d = realloc(es->data, (size_t)cap * sizeof *d);
        if (d)
            es->data = d;
        char **nm = realloc(es->names, (size_t)cap * sizeof *nm);
        if (nm)
            es->names = nm;
        int64_t(*sh)[CLNN_MAX_DIMS] = realloc(es->shapes, (size_t)cap * sizeof *sh);
        if (sh)
            es->shapes = sh;
        if (!e || !d || !nm || !sh)
            return -1;
        es->cap = cap;
    }
    char *copy = clnn__strdup(name);
    if (!copy)
        return -1;
    int i = es->n++;
    es->names[i] = copy;
    es->data[i] = data;
    memcpy(es->shapes[i], shape, (size_t)ndim * sizeof *shape);
    es->e[i] = (clnn_safetensors_entry){copy, "F32", ndim, es->shapes[i], data};
    return 0;
}

/* The host copy of a device tensor as an entry. */
static clnn_status add_tensor(clnn_ctx *ctx, entries *es, const char *name, clnn_tensor *t)
{
    int nd = clnn_tensor_ndim(t);
    int64_t shape[CLNN_MAX_DIMS], n = clnn_tensor_numel(t);
    for (int k = 0; k < nd; k++)
        shape[k] = clnn_tensor_dim(t, k);
    float *host = malloc((size_t)(n ? n : 1) * sizeof *host);
    if (!host)
        return clnn__fail(ctx, CLNN_ERR_NOMEM, "saving '%s': out of host memory", name);
    clnn_status st = clnn_tensor_read(t, host, (size_t)n * sizeof *host);
    if (st == CLNN_OK && entries_add(es, name, nd, shape, host))
        st = clnn__fail(ctx, CLNN_ERR_NOMEM, "saving '%s': out of host memory", name);
    if (st)
        free(host);
    return st;
}

static clnn_status add_params(clnn_model *m, entries *es)
{
    clnn_status st = CLNN_OK;
    for (int i = 0; i < clnn_model_param_count(m) && st == CLNN_OK; i++) {
        clnn_tensor *t = clnn_model_param(m, i);
        st = add_tensor(m->ctx, es, clnn_tensor_name(t), t);
    }
    return st;
}

static clnn_status write_file(clnn_model *m, const char *fn, const char *path, entries *es,
                              const char *const *meta, int nmeta)
{
    char err[512];
    for (int i = 0; i < es->n; i++) /* the shape arrays may have moved as the table grew */
        es->e[i].shape = es->shapes[i];
    clnn_status st = clnn_safetensors_write(path, es->n, es->e, nmeta, meta, err, sizeof err);
    if (st)
        return clnn__fail(m->ctx, st, "%s: %s", fn, err);
    return CLNN_OK;
}

/* The file's own metadata pairs, then the model's user metadata as "user.<key>". */
static clnn_status write_with_user_meta(clnn_model *m, const char *fn, const char *path,
                                        entries *es, const char *const *meta, int nmeta)
{
    int total = nmeta + m->nmeta;
    const char **all = malloc((size_t)(2 * total) * sizeof *all);
    char **keys = calloc((size_t)(m->nmeta ? m->nmeta : 1), sizeof *keys);
    clnn_status st = CLNN_OK;
    if (!all || !keys)
        st = clnn__fail(m->ctx, CLNN_ERR_NOMEM, "%s: out of host memory", fn);
    for (int i = 0; st == CLNN_OK && i < 2 * nmeta; i++)
        all[i] = meta[i];
    for (int i = 0; st == CLNN_OK && i < m->nmeta; i++) {
        size_t len = strlen(m->meta[2 * i]) + 6;
        if (!(keys[i] = malloc(len))) {
            st = clnn__fail(m->ctx, CLNN_ERR_NOMEM, "%s: out of host memory", fn);
            break;
        }
        snprintf(keys[i], len, "user.%s", m->meta[2 * i]);
        all[2 * (nmeta + i)] = keys[i];
        all[2 * (nmeta + i) + 1] = m->meta[2 * i + 1];
    }
    if (st == CLNN_OK)
        st = write_file(m, fn, path, es, all, total);
    for (int i = 0; keys && i < m->nmeta; i++)
        free(keys[i]);
    free(keys);
    free((void *)all);
    return st;
}

static clnn_status check_saveable(clnn_model *m, const char *fn, const char *path)
{
    if (!m)
        return CLNN_ERR_INVALID;
    if (!path || !path[0])
        return clnn__fail(m->ctx, CLNN_ERR_INVALID, "%s: the path is NULL or empty", fn);
    if (m->status)
        return clnn__fail(m->ctx, m->status, "%s: the model has an error: %s", fn, m->error);
    return CLNN_OK;
}

clnn_status clnn_model_save(clnn_model *m, const char *path)
{
    static const char fn[] = "clnn_model_save";
    clnn_status st = check_saveable(m, fn, path);
    if (st)
        return st;
    entries es = {0};
    clnn__buf arch = {0};
    put_architecture(&arch, m);
    if (arch.oom)
        st = clnn__fail(m->ctx, CLNN_ERR_NOMEM, "%s: out of host memory", fn);
    if (st == CLNN_OK)
        st = add_params(m, &es);
    if (st == CLNN_OK) {
        const char *meta[] = {
            "format", "clnn", "clnn.version", CLNN_VERSION_STRING, "clnn.architecture", arch.data};
        st = write_with_user_meta(m, fn, path, &es, meta, 3);
    }
    entries_free(&es);
    clnn__buf_free(&arch);
    return st;
}

/* ---- reading -------------------------------------------------------------------------------- */
static clnn_status open_file(clnn_ctx *ctx, const char *fn, const char *path,
                             clnn_safetensors **st_out)
{
    char err[512];
    clnn_status st = clnn_safetensors_read(path, st_out, err, sizeof err);
    if (st)
        return clnn__fail(ctx, st, "%s: %s", fn, err);
    return CLNN_OK;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023, bits;
    if (exp == 0) {
        if (!man) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 1024));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 1023) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Converts n little-endian elements of dtype into floats; -1 for an unsupported dtype. */
static int to_floats(const char *dtype, const unsigned char *src, size_t n, float *out)
{
    /* the dtype is decided once, not per element */
    enum { F32, F64, F16, BF16 } k;
    if (!strcmp(dtype, "F32"))
        k = F32;
    else if (!strcmp(dtype, "F64"))
        k = F64;
    else if (!strcmp(dtype, "F16"))
        k = F16;
    else if (!strcmp(dtype, "BF16"))
        k = BF16;
    else
        return -1;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        switch (k) {
        case F32:
            u = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 |
                (uint32_t)src[4 * i + 2] << 16 | (uint32_t)src[4 * i + 3] << 24;
            memcpy(&out[i], &u, 4);
            break;
        case F64: {
            uint64_t v = 0;
            for (int b = 7; b >= 0; b--)
                v = v << 8 | src[8 * i + (size_t)b];
            double d;
            memcpy(&d, &v, 8);
            out[i] = (float)d;
            break;
        }
        case F16:
            out[i] = half_to_float((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
            break;
        case BF16:
            u = (uint32_t)(src[2 * i] | src[2 * i + 1] << 8) << 16;
            memcpy(&out[i], &u, 4);
            break;
        }
    }
    return 0;
}

/* Writes tensor `name` of the file into t (shapes must agree); with write = 0 only checks that
 * it could (name, shape, dtype), so that a load can refuse a file before changing anything. */
static clnn_status load_tensor(clnn_ctx *ctx, const char *fn, const char *path,
                               const clnn_safetensors *sf, const char *name, clnn_tensor *t,
                               int write)
{
    int i = clnn_safetensors_find(sf, name);
    if (i < 0)
        return clnn__fail(ctx, CLNN_ERR_FORMAT, "%s: '%s' has no tensor '%s'", fn, path, name);
    char s1[128], s2[128];
    int nd = clnn_safetensors_ndim(sf, i), tnd = clnn_tensor_ndim(t);
    int64_t fs[8], ts[CLNN_MAX_DIMS];
    for (int k = 0; k < nd && k < 8; k++)
        fs[k] = clnn_safetensors_dim(sf, i, k);
    for (int k = 0; k < tnd; k++)
        ts[k] = clnn_tensor_dim(t, k);
    if (nd != tnd || memcmp(fs, ts, (size_t)tnd * sizeof *ts))
        return clnn__fail(ctx, CLNN_ERR_FORMAT,
                          "%s: '%s': tensor '%s' has shape %s, the model expects %s", fn, path,
                          name, clnn__shape_str(nd > 8 ? 8 : nd, fs, s1, sizeof s1),
                          clnn__shape_str(tnd, ts, s2, sizeof s2));
    size_t bytes;
    const unsigned char *src = clnn_safetensors_data(sf, i, &bytes);
    size_t n = write ? (size_t)clnn_tensor_numel(t) : 0;
    float *host = malloc((n ? n : 1) * sizeof *host);
    if (!host)
        return clnn__fail(ctx, CLNN_ERR_NOMEM, "%s: out of host memory", fn);
    clnn_status st = CLNN_OK;
    if (to_floats(clnn_safetensors_dtype(sf, i), src, n, host))
        st = clnn__fail(ctx, CLNN_ERR_FORMAT,
                        "%s: '%s': tensor '%s' is %s, expected F32 (or F64, F16, BF16)", fn, path,
                        name, clnn_safetensors_dtype(sf, i));
    else if (write)
        st = clnn_tensor_write(t, host, n * sizeof *host);
    free(host);
    return st;
}

/* Every parameter of m from the file: all checked first, then all written, so that a file that
 * does not fit leaves the model as it was. */
static clnn_status load_params(clnn_model *m, const char *fn, const char *path,
                               const clnn_safetensors *sf)
{
    clnn_status st = CLNN_OK;
    for (int write = 0; write < 2; write++)
        for (int i = 0; i < clnn_model_param_count(m) && st == CLNN_OK; i++) {
            clnn_tensor *t = clnn_model_param(m, i);
            st = load_tensor(m->ctx, fn, path, sf, clnn_tensor_name(t), t, write);
        }
    return st;
}

clnn_status clnn_model_load_weights(clnn_model *m, const char *path, int strict)
{
    static const char fn[] = "clnn_model_load_weights";
    clnn_status st = check_saveable(m, fn, path);
    if (st)
        return st;
    clnn_safetensors *sf;
    if ((st = open_file(m->ctx, fn, path, &sf)) != CLNN_OK)
        return st;
    for (int i = 0; strict && st == CLNN_OK && i < clnn_safetensors_count(sf); i++)
        if (!clnn_model_param_by_name(m, clnn_safetensors_name(sf, i)))
            st = clnn__fail(m->ctx, CLNN_ERR_FORMAT,
                            "%s: '%s' has tensor '%s', which is no parameter of the model (strict)",
                            fn, path, clnn_safetensors_name(sf, i));
    if (st == CLNN_OK)
        st = load_params(m, fn, path, sf);
    clnn_safetensors_destroy(sf);
    return st;
}

/* ---- rebuilding the architecture ------------------------------------------------------------ */
typedef struct reader {
    clnn_ctx *ctx;
    const char *path;
    clnn_status st;
} reader;

static int bad(reader *r, const char *what)
{
    if (r->st == CLNN_OK)
        r->st =
            clnn__fail(r->ctx, CLNN_ERR_FORMAT,
                       "clnn_model_load: '%s': the architecture is malformed: %s", r->path, what);
    return 0;
}

static int get_int(reader *r, const clnn__json *obj, const char *key, int64_t lo, int64_t hi)
{
    const clnn__json *v = clnn__json_get(obj, key);
    int ok = 0;
    int64_t x = v ? clnn__json_int(v, &ok) : 0;
    if (!ok || x < lo || x > hi) {
        char what[96];
        snprintf(what, sizeof what, "'%s' must be an integer in [%lld, %lld]", key, (long long)lo,
                 (long long)hi);
        return bad(r, what);
    }
    return (int)x;
}

static float get_float(reader *r, const clnn__json *obj, const char *key)
{
    const clnn__json *v = clnn__json_get(obj, key);
    if (!v || clnn__json_type_of(v) != CLNN__JSON_NUMBER) {
        char what[96];
        snprintf(what, sizeof what, "'%s' must be a number", key);
        return (float)bad(r, what);
    }
    return (float)clnn__json_number(v);
}

static void get_pair(reader *r, const clnn__json *obj, const char *key, int *x, int *y)
{
    const clnn__json *v = clnn__json_get(obj, key);
    int ok1 = 0, ok2 = 0;
    if (v && clnn__json_type_of(v) == CLNN__JSON_ARRAY && clnn__json_len(v) == 2) {
        int64_t a = clnn__json_int(clnn__json_at(v, 0), &ok1),
                b = clnn__json_int(clnn__json_at(v, 1), &ok2);
        if (ok1 && ok2 && a >= -1000000 && a <= 1000000 && b >= -1000000 && b <= 1000000) {
            *x = (int)a;
            *y = (int)b;
            return;
        }
    }
    char what[96];
    snprintf(what, sizeof what, "'%s' must be a pair of integers", key);
    bad(r, what);
}

static clnn_layer_kind kind_of(const char *prefix)
{
    for (int k = CLNN_LAYER_DENSE; k <= CLNN_LAYER_SIMPLE_RNN; k++)
        if (prefix && !strcmp(prefix, clnn__layer_prefix((clnn_layer_kind)k)))
            return (clnn_layer_kind)k;
    return (clnn_layer_kind)0;
}

static void read_spec(reader *r, const clnn__json *j, clnn_layer_spec *s, int *trainable)
{
    memset(s, 0, sizeof *s);
    if (clnn__json_type_of(j) != CLNN__JSON_OBJECT) {
        bad(r, "a layer is not an object");
        return;
    }
    s->kind = kind_of(clnn__json_string(clnn__json_get(j, "kind")));
    if (!s->kind) {
        bad(r, "unknown layer kind");
        return;
    }
    const char *name = clnn__json_string(clnn__json_get(j, "name"));
    if (!name || strlen(name) >= sizeof s->name) {
        bad(r, "a layer name is missing or too long");
        return;
    }
    snprintf(s->name, sizeof s->name, "%s", name);
    *trainable = get_int(r, j, "trainable", 0, 1);
    s->units = get_int(r, j, "units", 0, INT32_MAX);
    get_pair(r, j, "kernel", &s->kernel_h, &s->kernel_w);
    get_pair(r, j, "stride", &s->stride_h, &s->stride_w);
    s->padding = (clnn_padding_mode)get_int(r, j, "padding", 0, 2);
    get_pair(r, j, "pad", &s->pad_h, &s->pad_w);
    get_pair(r, j, "dilation", &s->dilation_h, &s->dilation_w);
    s->groups = get_int(r, j, "groups", 0, INT32_MAX);
    get_pair(r, j, "output_pad", &s->output_pad_h, &s->output_pad_w);
    s->activation = (clnn_activation)get_int(r, j, "activation", 0, CLNN_ACT_SOFTMAX);
    s->alpha = get_float(r, j, "alpha");
    s->use_bias = get_int(r, j, "use_bias", 0, 1);
    s->rate = get_float(r, j, "rate");
    s->momentum = get_float(r, j, "momentum");
    s->eps = get_float(r, j, "eps");
    s->center = get_int(r, j, "center", 0, 1);
    s->scale = get_int(r, j, "scale", 0, 1);
    s->input_dim = get_int(r, j, "input_dim", 0, INT32_MAX);
    s->padding_index = get_int(r, j, "padding_index", -1, INT32_MAX);
    s->axis = get_int(r, j, "axis", -CLNN_MAX_DIMS, CLNN_MAX_DIMS);
    s->num_layers = get_int(r, j, "num_layers", 0, 8);
    s->bidirectional = get_int(r, j, "bidirectional", 0, 1);
    s->return_sequences = get_int(r, j, "return_sequences", 0, 1);
    const clnn__json *sh = clnn__json_get(j, "shape");
    if (!sh || clnn__json_type_of(sh) != CLNN__JSON_ARRAY ||
        clnn__json_len(sh) > CLNN_MAX_DIMS - 1) {
        bad(r, "'shape' must be an array of at most 5 integers");
        return;
    }
    s->ndim = (int)clnn__json_len(sh);
    for (int i = 0; i < s->ndim; i++) {
        int ok = 0;
        s->shape[i] = clnn__json_int(clnn__json_at(sh, (size_t)i), &ok);
        if (!ok)
            bad(r, "'shape' must hold integers");
    }
}

/* Replays the architecture into a new model. */
static clnn_status rebuild(reader *r, const clnn__json *a, clnn_model **out)
{
    if (clnn__json_type_of(a) != CLNN__JSON_OBJECT)
        return bad(r, "not a JSON object"), r->st;
    if (get_int(r, a, "format", 1, 1000) != ARCH_FORMAT && r->st == CLNN_OK)
        return clnn__fail(r->ctx, CLNN_ERR_UNSUPPORTED,
                          "clnn_model_load: '%s': architecture format %d; this clnn reads format "
                          "%d",
                          r->path, get_int(r, a, "format", 1, 1000), ARCH_FORMAT);
    clnn_model_options o;
    clnn_model_options_init(&o);
    o.init = (clnn_init_style)get_int(r, a, "init", 0, 1);
    /* exact over all of uint64 (a double would lose seeds past 2^53, and casting one past 2^64
     * or negative is undefined) */
    int seed_ok = 0;
    o.seed = clnn__json_uint(clnn__json_get(a, "seed"), &seed_ok);
    if (!seed_ok)
        bad(r, "'seed' must be an integer in [0, 2^64)");
    const char *name = clnn__json_string(clnn__json_get(a, "name"));
    snprintf(o.name, sizeof o.name, "%s", name ? name : "");
    const clnn__json *layers = clnn__json_get(a, "layers"), *nodes = clnn__json_get(a, "nodes");
    if (!layers || clnn__json_type_of(layers) != CLNN__JSON_ARRAY || !nodes ||
        clnn__json_type_of(nodes) != CLNN__JSON_ARRAY)
        bad(r, "'layers' and 'nodes' must be arrays");
    if (r->st)
        return r->st;
    const int nlayers = (int)clnn__json_len(layers), nnodes = (int)clnn__json_len(nodes);
    const int output = get_int(r, a, "output", 0, nnodes > 0 ? nnodes - 1 : 0);
    if (r->st)
        return r->st;
    clnn_model *m;
    clnn_status st = clnn_model_create(r->ctx, &o, &m);
    if (st)
        return st;
    /* every parameter is written from the file next: making up initial values would cost time
     * and host memory in proportion to what the architecture claims, before any check */
    m->no_init = 1;
    int *first_node = malloc((size_t)(nlayers ? nlayers : 1) * sizeof *first_node);
    int *trainable = malloc((size_t)(nlayers ? nlayers : 1) * sizeof *trainable);
    if (!first_node || !trainable) {
        free(first_node);
        free(trainable);
        clnn_model_destroy(m);
        return clnn__fail(r->ctx, CLNN_ERR_NOMEM, "clnn_model_load: out of host memory");
    }
    for (int i = 0; i < nlayers; i++)
        first_node[i] = -1;
    for (int i = 0; i < nnodes && r->st == CLNN_OK && !m->status; i++) {
        const clnn__json *n = clnn__json_at(nodes, (size_t)i);
        const clnn__json *input = clnn__json_get(n, "input");
        int id = -1;
        if (input) {
            const clnn__json *sh = clnn__json_get(n, "shape");
            const char *dt = clnn__json_string(clnn__json_get(n, "dtype"));
            int64_t shape[CLNN_MAX_DIMS];
            size_t nd = sh ? clnn__json_len(sh) : 0;
            if (!clnn__json_string(input) || !sh || nd < 1 || nd > CLNN_MAX_DIMS - 1 || !dt ||
                (strcmp(dt, "f32") && strcmp(dt, "i32"))) {
                bad(r, "an input node needs a name, a dtype f32 or i32 and a shape");
                break;
            }
            for (size_t k = 0; k < nd; k++) {
                int ok = 0;
                shape[k] = clnn__json_int(clnn__json_at(sh, k), &ok);
                if (!ok)
                    bad(r, "an input shape must hold integers");
            }
            if (r->st)
                break;
            id = !strcmp(dt, "i32")
                     ? clnn_model_input_i32(m, clnn__json_string(input), (int)nd, shape)
                     : clnn_model_input(m, clnn__json_string(input), (int)nd, shape);
        } else {
            int li = get_int(r, n, "layer", 0, nlayers - 1);
            const clnn__json *ins = clnn__json_get(n, "inputs");
            int in[CLNN__LAYER_MAX_INPUTS], nin = ins ? (int)clnn__json_len(ins) : 0;
            if (r->st || !ins || nin < 1 || nin > CLNN__LAYER_MAX_INPUTS) {
                bad(r, "a layer node needs a layer index and 1 to 8 inputs");
                break;
            }
            for (int k = 0; k < nin; k++) {
                int ok = 0;
                int64_t v = clnn__json_int(clnn__json_at(ins, (size_t)k), &ok);
                if (!ok || v < 0 || v >= i) {
                    bad(r, "a node's inputs must be earlier nodes");
                    break;
                }
                in[k] = (int)v;
            }
            if (r->st)
                break;
            if (first_node[li] < 0) {
                clnn_layer_spec s;
                read_spec(r, clnn__json_at(layers, (size_t)li), &s, &trainable[li]);
                if (r->st)
                    break;
                id = clnn_model_apply(m, &s, nin, in);
                first_node[li] = id;
            } else {
                id = clnn_model_reapply(m, first_node[li], nin, in);
            }
        }
        if (id != i && !m->status && r->st == CLNN_OK)
            bad(r, "the nodes do not replay in order");
    }
    if (r->st == CLNN_OK && m->status)
        r->st = clnn__fail(r->ctx, m->status, "clnn_model_load: '%s': rebuilding the model: %s",
                           r->path, m->error);
    if (r->st == CLNN_OK && m->nlayers != nlayers)
        bad(r, "a layer is never applied");
    if (r->st == CLNN_OK)
        r->st = clnn_model_set_output(m, output);
    for (int i = 0; r->st == CLNN_OK && i < nlayers; i++)
        m->layers[i]->trainable = trainable[i];
    m->no_init = 0; /* layers applied later are initialised as usual */
    free(first_node);
    free(trainable);
    if (r->st) {
        clnn_model_destroy(m);
        return r->st;
    }
    *out = m;
    return CLNN_OK;
}

/* Parses the architecture of an open file into a new model with the file's weights. */
static clnn_status load_model(clnn_ctx *ctx, const char *path, const clnn_safetensors *sf,
                              clnn_model **out)
{
    static const char fn[] = "clnn_model_load";
    const char *fmt = clnn_safetensors_metadata(sf, "format");
    const char *arch = clnn_safetensors_metadata(sf, "clnn.architecture");
    if (!fmt || strcmp(fmt, "clnn") || !arch)
        return clnn__fail(ctx, CLNN_ERR_FORMAT,
                          "%s: '%s' is a safetensors file but not a clnn model (no \"format\": "
                          "\"clnn\" and \"clnn.architecture\" metadata); load weights into a "
                          "model you build with clnn_model_load_weights",
                          fn, path);
    char err[512];
    clnn__json *a;
    clnn_status st = clnn__json_parse(arch, strlen(arch), "clnn.architecture", &a, err, sizeof err);
    if (st)
        return clnn__fail(ctx, CLNN_ERR_FORMAT, "%s: '%s': %s", fn, path, err);
    reader r = {ctx, path, CLNN_OK};
    clnn_model *m = NULL;
    st = rebuild(&r, a, &m);
    clnn__json_free(a);
    if (st == CLNN_OK && (st = load_params(m, fn, path, sf)) != CLNN_OK) {
        clnn_model_destroy(m);
        m = NULL;
    }
    for (int i = 0; st == CLNN_OK && i < clnn_safetensors_metadata_count(sf); i++) {
        const char *key = clnn_safetensors_metadata_key(sf, i);
        if (!strncmp(key, "user.", 5) && key[5] &&
            (st = clnn_model_set_metadata(m, key + 5, clnn_safetensors_metadata(sf, key))) !=
                CLNN_OK) {
            clnn_model_destroy(m);
            m = NULL;
        }
    }
    *out = m;
    return st;
}

clnn_status clnn_model_load(clnn_ctx *ctx, const char *path, clnn_model **out)
{
    static const char fn[] = "clnn_model_load";
    if (out)
        *out = NULL;
    if (!ctx)
        return CLNN_ERR_INVALID;
    if (!out || !path || !path[0])
        return clnn__fail(ctx, CLNN_ERR_INVALID, "%s: %s is NULL", fn, out ? "the path" : "out");
    clnn_safetensors *sf;
    clnn_status st = open_file(ctx, fn, path, &sf);
    if (st)
        return st;
    st = load_model(ctx, path, sf, out);
    clnn_safetensors_destroy(sf);
    return st;
}

/* ---- checkpoints ---------------------------------------------------------------------------- */
typedef struct pending_param {
    char name[64];
    int nstate;
    float *state[4];
    size_t len[4];
} pending_param;

struct clnn__pending_opt {
    uint64_t steps, epoch;
    double base_lr;
    int nparams;
    pending_param *p;
};

void clnn__model_free_pending_opt(clnn_model *m)
{
    struct clnn__pending_opt *po = m ? m->pending_opt : NULL;
    if (!po)
        return;
    for (int i = 0; i < po->nparams; i++)
        for (int k = 0; k < po->p[i].nstate; k++)
            free(po->p[i].state[k]);
    free(po->p);
    free(po);
    m->pending_opt = NULL;
}

clnn_status clnn__model_apply_pending_opt(clnn_model *m)
{
    struct clnn__pending_opt *po = m->pending_opt;
    if (!po || !m->opt)
        return CLNN_OK;
    clnn_status st = CLNN_OK;
    size_t n = clnn__optimizer_nparams(m->opt);
    int nstate = clnn__optimizer_nstate(m->opt);
    for (size_t i = 0; i < n && st == CLNN_OK; i++) {
        const char *name = clnn_tensor_name(clnn__optimizer_external(m->opt, i));
        const pending_param *pp = NULL;
        for (int j = 0; j < po->nparams && !pp; j++)
            if (!strcmp(po->p[j].name, name))
                pp = &po->p[j];
        if (!pp || pp->nstate != nstate) {
            st = clnn__fail(m->ctx, CLNN_ERR_FORMAT,
                            "checkpoint: no optimizer state for '%s' (were layers frozen or "
                            "unfrozen since it was saved?)",
                            name);
            break;
        }
        for (int k = 0; k < nstate && st == CLNN_OK; k++) {
            if (pp->len[k] != clnn__optimizer_state_len(m->opt, i, k))
                st = clnn__fail(m->ctx, CLNN_ERR_FORMAT,
                                "checkpoint: the optimizer state %d of '%s' has %zu values, "
                                "expected %zu",
                                k, name, pp->len[k], clnn__optimizer_state_len(m->opt, i, k));
            else
                st = clnn__optimizer_state_rw(m->opt, i, k, pp->state[k], 1);
        }
    }
    if (st == CLNN_OK) {
        clnn__optimizer_counters(m->opt, &po->steps, &po->epoch, &po->base_lr, 1);
        clnn__model_free_pending_opt(m);
    }
    return st;
}

static void put_compile(clnn__buf *b, const clnn_compile_options *c)
{
    const clnn_optim_options *o = &c->optimizer;
    clnn__buf_printf(b,
                     "{\"loss\":%d,\"metrics\":%u,\"label_smoothing\":%.9g,\"kind\":%d,"
                     "\"lr\":%.9g,\"momentum\":%.9g,\"dampening\":%.9g,\"nesterov\":%d,"
                     "\"weight_decay\":%.9g,\"beta1\":%.9g,\"beta2\":%.9g,\"eps\":%.9g,"
                     "\"keras_epsilon\":%d,\"alpha\":%.9g,\"centered\":%d,\"clip_norm\":%.9g,"
                     "\"schedule\":[%d,%d,%.9g,%d,%.9g,%d]}",
                     (int)c->loss, c->metrics, (double)c->label_smoothing, (int)o->kind,
                     (double)o->lr, (double)o->momentum, (double)o->dampening, o->nesterov,
                     (double)o->weight_decay, (double)o->beta1, (double)o->beta2, (double)o->eps,
                     o->keras_epsilon, (double)o->alpha, o->centered, (double)o->clip_norm,
                     (int)o->schedule.kind, o->schedule.step_size, (double)o->schedule.gamma,
                     o->schedule.t_max, (double)o->schedule.eta_min, o->schedule.per_update);
}

clnn_status clnn_model_save_checkpoint(clnn_model *m, const char *path, int epoch)
{
    static const char fn[] = "clnn_model_save_checkpoint";
    clnn_status st = check_saveable(m, fn, path);
    if (st)
        return st;
    if (!m->compiled)
        return clnn__fail(m->ctx, CLNN_ERR_STATE,
                          "%s: the model is not compiled (a checkpoint holds the training state)",
                          fn);
    if (epoch < 0)
        return clnn__fail(m->ctx, CLNN_ERR_INVALID, "%s: expected epoch >= 0, got %d", fn, epoch);
    entries es = {0};
    clnn__buf arch = {0}, ck = {0};
    put_architecture(&arch, m);
    uint64_t steps = 0, sched = 0;
    double base_lr = m->c.optimizer.lr;
    if (m->opt)
        clnn__optimizer_counters(m->opt, &steps, &sched, &base_lr, 0);
    else if (m->pending_opt) {
        steps = m->pending_opt->steps;
        sched = m->pending_opt->epoch;
        base_lr = m->pending_opt->base_lr;
    }
    clnn__buf_printf(&ck,
                     "{\"epoch\":%d,\"train_steps\":%llu,\"optimizer_steps\":%llu,"
                     "\"schedule_counter\":%llu,\"base_lr\":%.17g,\"has_optimizer\":%d,"
                     "\"compile\":",
                     epoch, (unsigned long long)m->train_steps, (unsigned long long)steps,
                     (unsigned long long)sched, base_lr, m->opt || m->pending_opt ? 1 : 0);
    put_compile(&ck, &m->c);
    clnn__buf_printf(&ck, "}");
    if (arch.oom || ck.oom)
        st = clnn__fail(m->ctx, CLNN_ERR_NOMEM, "%s: out of host memory", fn);
    if (st == CLNN_OK)
        st = add_params(m, &es);
    /* the optimizer state: from the optimizer, or still pending from a loaded checkpoint */
    size_t np = m->opt ? clnn__optimizer_nparams(m->opt) : 0;
    for (size_t i = 0; st == CLNN_OK && i < np; i++) {
        const char *pname = clnn_tensor_name(clnn__optimizer_external(m->opt, i));
        for (int k = 0; st == CLNN_OK && k < clnn__optimizer_nstate(m->opt); k++) {
            size_t len = clnn__optimizer_state_len(m->opt, i, k);
            float *host = malloc(len * sizeof *host);
            char name[96];
            snprintf(name, sizeof name, "optimizer.%s.%d", pname, k);
            int64_t shape = (int64_t)len;
            if (!host)
                st = clnn__fail(m->ctx, CLNN_ERR_NOMEM, "%s: out of host memory", fn);
            else if ((st = clnn__optimizer_state_rw(m->opt, i, k, host, 0)) == CLNN_OK &&
                     entries_add(&es, name, 1, &shape, host))
                st = clnn__fail(m->ctx, CLNN_ERR_NOMEM, "%s: out of host memory", fn);
            if (st)
                free(host);
        }
    }
    for (int i = 0; st == CLNN_OK && !m->opt && m->pending_opt && i < m->pending_opt->nparams;
         i++) {
        const pending_param *pp = &m->pending_opt->p[i];
        for (int k = 0; st == CLNN_OK && k < pp->nstate; k++) {
            float *host = malloc(pp->len[k] * sizeof *host);
            char name[96];
            snprintf(name, sizeof name, "optimizer.%s.%d", pp->name, k);
            int64_t shape = (int64_t)pp->len[k];
            if (host)
                memcpy(host, pp->state[k], pp->len[k] * sizeof *host);
            if (!host || entries_add(&es, name, 1, &shape, host)) {
                free(host);
                st = clnn__fail(m->ctx, CLNN_ERR_NOMEM, "%s: out of host memory", fn);
            }
        }
    }
    if (st == CLNN_OK) {
        const char *meta[] = {"format",
                              "clnn",
                              "clnn.version",
                              CLNN_VERSION_STRING,
                              "clnn.architecture",
                              arch.data,
                              "clnn.checkpoint",
                              ck.data};
        st = write_with_user_meta(m, fn, path, &es, meta, 4);
    }
    entries_free(&es);
    clnn__buf_free(&arch);
    clnn__buf_free(&ck);
    return st;
}

static void read_compile(reader *r, const clnn__json *j, clnn_compile_options *c)
{
    if (!j || clnn__json_type_of(j) != CLNN__JSON_OBJECT) {
        bad(r, "the checkpoint has no compile options");
        return;
    }
    clnn_compile_options_init(c, (clnn_loss_kind)get_int(r, j, "loss", 0, 5),
                              (clnn_optim_kind)get_int(r, j, "kind", 0, 3));
    c->metrics = (unsigned)get_int(r, j, "metrics", 0, 15);
    c->label_smoothing = get_float(r, j, "label_smoothing");
    clnn_optim_options *o = &c->optimizer;
    o->lr = get_float(r, j, "lr");
    o->momentum = get_float(r, j, "momentum");
    o->dampening = get_float(r, j, "dampening");
    o->nesterov = get_int(r, j, "nesterov", 0, 1);
    o->weight_decay = get_float(r, j, "weight_decay");
    o->beta1 = get_float(r, j, "beta1");
    o->beta2 = get_float(r, j, "beta2");
    o->eps = get_float(r, j, "eps");
    o->keras_epsilon = get_int(r, j, "keras_epsilon", 0, 1);
    o->alpha = get_float(r, j, "alpha");
    o->centered = get_int(r, j, "centered", 0, 1);
    o->clip_norm = get_float(r, j, "clip_norm");
    const clnn__json *s = clnn__json_get(j, "schedule");
    int ok[6] = {0};
    if (!s || clnn__json_len(s) != 6) {
        bad(r, "'schedule' must hold 6 values");
        return;
    }
    o->schedule.kind = (clnn_schedule_kind)clnn__json_int(clnn__json_at(s, 0), &ok[0]);
    o->schedule.step_size = (int)clnn__json_int(clnn__json_at(s, 1), &ok[1]);
    o->schedule.gamma = (float)clnn__json_number(clnn__json_at(s, 2));
    o->schedule.t_max = (int)clnn__json_int(clnn__json_at(s, 3), &ok[3]);
    o->schedule.eta_min = (float)clnn__json_number(clnn__json_at(s, 4));
    o->schedule.per_update = (int)clnn__json_int(clnn__json_at(s, 5), &ok[5]);
    if (!ok[0] || !ok[1] || !ok[3] || !ok[5])
        bad(r, "'schedule' must hold integers where integers are due");
}

static uint64_t get_u64(reader *r, const clnn__json *obj, const char *key)
{
    const clnn__json *v = clnn__json_get(obj, key);
    int ok = 0;
    int64_t x = v ? clnn__json_int(v, &ok) : 0;
    if (!ok || x < 0) {
        char what[96];
        snprintf(what, sizeof what, "'%s' must be a non-negative integer", key);
        bad(r, what);
        return 0;
    }
    return (uint64_t)x;
}

clnn_status clnn_model_load_checkpoint(clnn_model *m, const char *path, int *epoch)
{
    static const char fn[] = "clnn_model_load_checkpoint";
    clnn_status st = check_saveable(m, fn, path);
    if (st)
        return st;
    clnn_safetensors *sf;
    if ((st = open_file(m->ctx, fn, path, &sf)) != CLNN_OK)
        return st;
    const char *ckt = clnn_safetensors_metadata(sf, "clnn.checkpoint");
    clnn__json *ck = NULL;
    char err[512];
    if (!ckt)
        st = clnn__fail(m->ctx, CLNN_ERR_FORMAT,
                        "%s: '%s' is not a checkpoint (no \"clnn.checkpoint\" metadata)", fn, path);
    else if ((st = clnn__json_parse(ckt, strlen(ckt), "clnn.checkpoint", &ck, err, sizeof err)))
        st = clnn__fail(m->ctx, CLNN_ERR_FORMAT, "%s: '%s': %s", fn, path, err);
    /* the architecture must be the model's own: compare the saved JSON with m's */
    clnn__buf mine = {0};
    const char *arch = clnn_safetensors_metadata(sf, "clnn.architecture");
    if (st == CLNN_OK) {
        put_architecture(&mine, m);
        if (mine.oom)
            st = clnn__fail(m->ctx, CLNN_ERR_NOMEM, "%s: out of host memory", fn);
        else if (!arch || strcmp(arch, mine.data))
            st = clnn__fail(m->ctx, CLNN_ERR_FORMAT,
                            "%s: '%s' was saved from a model with another architecture (build the "
                            "model with clnn_model_load of the checkpoint)",
                            fn, path);
    }
    reader r = {m->ctx, path, CLNN_OK};
    clnn_compile_options c;
    struct clnn__pending_opt *po = NULL;
    int ep = 0;
    uint64_t train_steps = 0;
    if (st == CLNN_OK) {
        read_compile(&r, clnn__json_get(ck, "compile"), &c);
        ep = get_int(&r, ck, "epoch", 0, INT32_MAX);
        train_steps = get_u64(&r, ck, "train_steps");
        int has_opt = get_int(&r, ck, "has_optimizer", 0, 1);
        if (r.st == CLNN_OK && has_opt) {
            po = calloc(1, sizeof *po);
            int np = clnn_model_param_count(m);
            if (po)
                po->p = calloc((size_t)(np ? np : 1), sizeof *po->p);
            if (!po || !po->p) {
                r.st = clnn__fail(m->ctx, CLNN_ERR_NOMEM, "%s: out of host memory", fn);
            } else {
                po->steps = get_u64(&r, ck, "optimizer_steps");
                po->epoch = get_u64(&r, ck, "schedule_counter");
                po->base_lr = clnn__json_number(clnn__json_get(ck, "base_lr"));
                /* the state tensors "optimizer.<param>.<k>" of every parameter that has them */
                for (int i = 0; i < np && r.st == CLNN_OK; i++) {
                    const char *pname = clnn_tensor_name(clnn_model_param(m, i));
                    pending_param *pp = &po->p[po->nparams];
                    for (int k = 0; k < 4 && r.st == CLNN_OK; k++) {
                        char name[96];
                        snprintf(name, sizeof name, "optimizer.%s.%d", pname, k);
                        int t = clnn_safetensors_find(sf, name);
                        if (t < 0)
                            break;
                        size_t bytes;
                        const unsigned char *src = clnn_safetensors_data(sf, t, &bytes);
                        size_t len = bytes / 4;
                        if (strcmp(clnn_safetensors_dtype(sf, t), "F32") ||
                            clnn_safetensors_ndim(sf, t) != 1 || !len) {
                            bad(&r, "an optimizer state must be a non-empty 1-D F32 tensor");
                            break;
                        }
                        pp->state[k] = malloc(len * sizeof(float));
                        if (!pp->state[k]) {
                            r.st = clnn__fail(m->ctx, CLNN_ERR_NOMEM, "%s: out of memory", fn);
                            break;
                        }
                        to_floats("F32", src, len, pp->state[k]);
                        pp->len[k] = len;
                        pp->nstate = k + 1;
                    }
                    if (pp->nstate) {
                        snprintf(pp->name, sizeof pp->name, "%s", pname);
                        po->nparams++;
                    }
                }
            }
        }
        st = r.st;
    }
    if (st == CLNN_OK) /* first: a compile that fails leaves the parameters as they were */
        st = clnn_model_compile(m, &c);
    if (st == CLNN_OK)
        st = load_params(m, fn, path, sf);
    if (st == CLNN_OK) {
        clnn__model_free_pending_opt(m);
        m->pending_opt = po; /* applied when the first training step makes the optimizer */
        po = NULL;
        m->train_steps = train_steps;
        if (epoch)
            *epoch = ep;
    }
    if (po) {
        clnn_model tmp = {0};
        tmp.pending_opt = po;
        clnn__model_free_pending_opt(&tmp);
    }
    clnn__buf_free(&mine);
    clnn__json_free(ck);
    clnn_safetensors_destroy(sf);
    return st;
}
