/* golden_io.c — the reader of tests/golden/<family>.txt (see golden_io.h and golden/golden.py):
 * a line-oriented parser that validates every count, plus helpers that move golden tensors into
 * graph tensors and compare results with them. */
#include "golden_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"

static int fail(char *err, size_t size, const char *path, int line, const char *what)
{
    snprintf(err, size, "%s:%d: %s", path, line, what);
    return 0;
}

static int parse(FILE *fp, const char *path, golden_file *f, char *err, size_t size)
{
    char word[160];
    int line = 1;
    if (fscanf(fp, "%159s %*d", word) != 1 || strcmp(word, "clnn-golden"))
        return fail(err, size, path, line, "expected the header 'clnn-golden 1'");
    golden_case *c = NULL;
    while (fscanf(fp, "%159s", word) == 1) {
        line++;
        if (!strcmp(word, "case")) {
            golden_case *cs = realloc(f->cases, (size_t)(f->ncases + 1) * sizeof *cs);
            if (!cs)
                return fail(err, size, path, line, "out of memory");
            f->cases = cs;
            c = &f->cases[f->ncases++];
            memset(c, 0, sizeof *c);
            if (fscanf(fp, "%127s", c->name) != 1)
                return fail(err, size, path, line, "case without a name");
        } else if (!strcmp(word, "end")) {
            c = NULL;
        } else if (c && (!strcmp(word, "int") || !strcmp(word, "float"))) {
            golden_value *vs = realloc(c->values, (size_t)(c->nvalues + 1) * sizeof *vs);
            if (!vs)
                return fail(err, size, path, line, "out of memory");
            c->values = vs;
            golden_value *v = &c->values[c->nvalues++];
            memset(v, 0, sizeof *v);
            if (fscanf(fp, "%63s %d", v->name, &v->n) != 2 || v->n < 0 || v->n > 16)
                return fail(err, size, path, line, "bad value line (at most 16 values)");
            for (int i = 0; i < v->n; i++)
                if (fscanf(fp, "%lf", &v->v[i]) != 1)
                    return fail(err, size, path, line, "value line ends early");
        } else if (c && !strcmp(word, "tensor")) {
            golden_tensor *ts = realloc(c->tensors, (size_t)(c->ntensors + 1) * sizeof *ts);
            if (!ts)
                return fail(err, size, path, line, "out of memory");
            c->tensors = ts;
            golden_tensor *t = &c->tensors[c->ntensors++];
            memset(t, 0, sizeof *t);
            if (fscanf(fp, "%63s %d", t->name, &t->ndim) != 2 || t->ndim < 0 ||
                t->ndim > CLNN_MAX_DIMS)
                return fail(err, size, path, line, "bad tensor line");
            t->numel = 1;
            for (int i = 0; i < t->ndim; i++) {
                long long d;
                if (fscanf(fp, "%lld", &d) != 1 || d <= 0 || d > (1 << 24))
                    return fail(err, size, path, line, "bad tensor dimension");
                t->shape[i] = d;
                t->numel *= d;
            }
            if (t->numel > (1 << 24) || !(t->data = malloc((size_t)t->numel * sizeof(float))))
                return fail(err, size, path, line, "tensor too large");
            for (int64_t i = 0; i < t->numel; i++)
                if (fscanf(fp, "%f", &t->data[i]) != 1)
                    return fail(err, size, path, line, "tensor data ends early");
        } else {
            return fail(err, size, path, line, "unexpected word (expected case/int/float/tensor/end)");
        }
    }
    return 1;
}

golden_file *golden_load(const char *family, char *err, size_t size)
{
    const char *dir = getenv("CLNN_TEST_GOLDEN_DIR");
    if (!dir || !*dir) {
        snprintf(err, size, "CLNN_TEST_GOLDEN_DIR is not set (tests/meson.build sets it)");
        return NULL;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.txt", dir, family);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, size, "cannot open %s (regenerate with tests/golden/gen_golden.py)", path);
        return NULL;
    }
    golden_file *f = calloc(1, sizeof *f);
    int ok = f && parse(fp, path, f, err, size);
    fclose(fp);
    if (!ok) {
        golden_free(f);
        return NULL;
    }
    return f;
}

void golden_free(golden_file *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->ncases; i++) {
        for (int k = 0; k < f->cases[i].ntensors; k++)
            free(f->cases[i].tensors[k].data);
        free(f->cases[i].tensors);
        free(f->cases[i].values);
    }
    free(f->cases);
    free(f);
}

const golden_case *golden_case_get(const golden_file *f, const char *name)
{
    for (int i = 0; f && i < f->ncases; i++)
        if (!strcmp(f->cases[i].name, name))
            return &f->cases[i];
    return NULL;
}

const golden_tensor *golden_tensor_get(const golden_case *c, const char *name)
{
    for (int i = 0; c && i < c->ntensors; i++)
        if (!strcmp(c->tensors[i].name, name))
            return &c->tensors[i];
    return NULL;
}

static const golden_value *value(const golden_case *c, const char *key)
{
    for (int i = 0; c && i < c->nvalues; i++)
        if (!strcmp(c->values[i].name, key))
            return &c->values[i];
    return NULL;
}

int golden_int(const golden_case *c, const char *key, int i, int dflt)
{
    const golden_value *v = value(c, key);
    return (v && i >= 0 && i < v->n) ? (int)v->v[i] : dflt;
}

double golden_float(const golden_case *c, const char *key, int i, double dflt)
{
    const golden_value *v = value(c, key);
    return (v && i >= 0 && i < v->n) ? v->v[i] : dflt;
}

int golden_write(clnn_tensor *t, const golden_tensor *g)
{
    if (!t || !g || clnn_tensor_numel(t) != g->numel)
        return -1;
    if (clnn_tensor_dtype(t) == CLNN_I32) {
        int32_t *v = malloc((size_t)g->numel * sizeof *v);
        if (!v)
            return -1;
        for (int64_t i = 0; i < g->numel; i++)
            v[i] = (int32_t)lrintf(g->data[i]);
        clnn_status st = clnn_tensor_write(t, v, (size_t)g->numel * sizeof *v);
        free(v);
        return st == CLNN_OK ? 0 : -1;
    }
    return clnn_tensor_write(t, g->data, (size_t)g->numel * sizeof(float)) == CLNN_OK ? 0 : -1;
}

int golden_check(const char *what, clnn_tensor *t, const golden_tensor *want, double rtol,
                 double atol, char *msg, size_t size)
{
    if (!t || !want) {
        snprintf(msg, size, "%s: %s is missing", what, t ? "the golden tensor" : "the tensor");
        return 0;
    }
    ref_shape s = {want->ndim, {0}};
    int same = clnn_tensor_ndim(t) == want->ndim;
    for (int i = 0; i < want->ndim; i++) {
        s.dims[i] = want->shape[i];
        same = same && clnn_tensor_dim(t, i) == want->shape[i];
    }
    if (!same) {
        char a[128], b[128];
        snprintf(msg, size, "%s: shape %s, expected PyTorch's %s", what,
                 clnn_tensor_shape_str(t, a, sizeof a), ref_shape_str(&s, b, (int)sizeof b));
        return 0;
    }
    float *got = malloc((size_t)want->numel * sizeof *got);
    double *w = malloc((size_t)want->numel * sizeof *w);
    int ok = got && w;
    if (ok && clnn_tensor_read(t, got, (size_t)want->numel * sizeof *got) != CLNN_OK) {
        snprintf(msg, size, "%s: read failed", what);
        ok = 0;
    } else if (ok) {
        for (int64_t i = 0; i < want->numel; i++)
            w[i] = want->data[i];
        ok = gc_compare(what, got, w, &s, rtol, atol, msg, size);
    }
    free(got);
    free(w);
    return ok;
}
