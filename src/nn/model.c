/* model.c — models: the graph of layer applications (Sequential chains and functional graphs),
 * the Keras-style summary, and parameter access. A model records which layer is applied to which
 * nodes, with every shape known (a small "shape graph" of batch 2 runs each layer's builder as it
 * is applied, so shape errors surface at the call that caused them, with the op's message).
 * Device graphs for real batch sizes are made later, by graphs.c, from the same records.
 * What does not live here: the layer kinds (layer_spec.c, layers.c, layer_forward.c), compile /
 * evaluate / predict (train.c) and fit (fit.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define SHAPE_BATCH 2

void clnn_model_options_init(clnn_model_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->init = CLNN_INIT_KERAS;
}

/* The first error sticks to the model (and is the context's last error too). */
int clnn__model_fail(clnn_model *m, clnn_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (m->status == CLNN_OK) {
        m->status = st;
        vsnprintf(m->error, sizeof m->error, fmt, ap);
        clnn__fail(m->ctx, st, "%s", m->error);
    }
    va_end(ap);
    return -1;
}

clnn_status clnn_model_create(clnn_ctx *ctx, const clnn_model_options *options, clnn_model **out)
{
    if (out)
        *out = NULL;
    if (!ctx)
        return CLNN_ERR_INVALID;
    if (!out)
        return clnn__fail(ctx, CLNN_ERR_INVALID, "clnn_model_create: out is NULL");
    clnn_model_options o;
    if (options)
        o = *options;
    else
        clnn_model_options_init(&o);
    if (o.init != CLNN_INIT_KERAS && o.init != CLNN_INIT_PYTORCH)
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "clnn_model_create: expected init CLNN_INIT_KERAS (0) or "
                          "CLNN_INIT_PYTORCH (1), got %d",
                          (int)o.init);
    clnn_model *m = calloc(1, sizeof *m);
    if (!m)
        return clnn__fail(ctx, CLNN_ERR_NOMEM, "clnn_model_create: out of host memory");
    m->ctx = ctx;
    m->o = o;
    m->o.name[sizeof m->o.name - 1] = '\0';
    m->output = -1;
    m->chain = 1;
    clnn__rng_seed(&m->init_gen, o.seed);
    clnn_status st = clnn_graph_create(ctx, &m->shape_graph);
    if (st) {
        free(m);
        return st;
    }
    *out = m;
    return CLNN_OK;
}

void clnn_model_destroy(clnn_model *m)
{
    if (!m)
        return;
    clnn__model_invalidate(m);
    free(m->history.values);
    clnn_graph_destroy(m->shape_graph);
    for (int i = 0; i < m->nlayers; i++)
        clnn__layer_release(m->layers[i]);
    for (int i = 0; i < 2 * m->nmeta; i++)
        free(m->meta[i]);
    free(m->meta);
    free(m->layers);
    free(m->nodes);
    free(m->shape_t);
    free(m);
}

clnn_status clnn_model_status(const clnn_model *m)
{
    return m ? m->status : CLNN_ERR_INVALID;
}

const char *clnn_model_last_error(const clnn_model *m)
{
    return m ? m->error : "the model is NULL";
}

/* ---- nodes ---------------------------------------------------------------------------------- */
/* Adding to a compiled model is allowed; it must be compiled again (as in Keras). */
static int builder_ok(clnn_model *m)
{
    if (!m || m->status)
        return 0;
    clnn__model_invalidate(m);
    return 1;
}

static int push_node(clnn_model *m, const clnn__mnode *n, clnn_tensor *t)
{
    if (clnn__grow((void **)&m->nodes, &m->nodes_cap, (size_t)m->nnodes + 1, sizeof *m->nodes) ||
        clnn__grow((void **)&m->shape_t, &m->shape_t_cap, (size_t)m->nnodes + 1,
                   sizeof *m->shape_t))
        return clnn__model_fail(m, CLNN_ERR_NOMEM, "model: out of host memory");
    m->nodes[m->nnodes] = *n;
    m->shape_t[m->nnodes] = t;
    m->output = m->nnodes;
    return m->nnodes++;
}

static int add_input(clnn_model *m, const char *name, int ndim, const int64_t *shape,
                     clnn_dtype dtype)
{
    if (!builder_ok(m))
        return -1;
    char sbuf[128];
    if (ndim < 1 || ndim > CLNN_MAX_DIMS - 1 || !shape)
        return clnn__model_fail(m, CLNN_ERR_INVALID,
                                "clnn_model_input: expected 1 to %d dimensions (without the "
                                "batch axis), got %d%s",
                                CLNN_MAX_DIMS - 1, ndim, shape ? "" : " and a NULL shape");
    if (!clnn__shape_valid(ndim, shape))
        return clnn__model_fail(m, CLNN_ERR_SHAPE,
                                "clnn_model_input: expected positive dimensions, got %s",
                                clnn__shape_str(ndim, shape, sbuf, sizeof sbuf));
    if (m->ninputs >= CLNN__MODEL_MAX_INPUTS)
        return clnn__model_fail(m, CLNN_ERR_UNSUPPORTED, "clnn_model_input: at most %d inputs",
                                CLNN__MODEL_MAX_INPUTS);
    clnn__mnode n = {0};
    n.layer = -1;
    n.dtype = dtype;
    n.ndim = ndim;
    memcpy(n.shape, shape, (size_t)ndim * sizeof *shape);
    if (name && name[0])
        snprintf(n.name, sizeof n.name, "%s", name);
    else
        snprintf(n.name, sizeof n.name, "input_%d", m->ninputs + 1);
    int64_t full[CLNN_MAX_DIMS];
    full[0] = SHAPE_BATCH;
    memcpy(full + 1, shape, (size_t)ndim * sizeof *shape);
    clnn_tensor *t = dtype == CLNN_I32 ? clnn_input_i32(m->shape_graph, n.name, ndim + 1, full)
                                       : clnn_input(m->shape_graph, n.name, ndim + 1, full);
    if (!t)
        return clnn__model_fail(m, clnn_graph_status(m->shape_graph), "clnn_model_input: %s",
                                clnn_graph_last_error(m->shape_graph));
    if (m->nnodes > 0)
        m->chain = 0;
    int id = push_node(m, &n, t);
    if (id >= 0)
        m->inputs[m->ninputs++] = id;
    return id;
}

int clnn_model_input(clnn_model *m, const char *name, int ndim, const int64_t *shape)
{
    return add_input(m, name, ndim, shape, CLNN_F32);
}

int clnn_model_input_i32(clnn_model *m, const char *name, int ndim, const int64_t *shape)
{
    return add_input(m, name, ndim, shape, CLNN_I32);
}

static int check_inputs(clnn_model *m, const char *fn, int ninputs, const int *inputs)
{
    if (ninputs < 1 || ninputs > CLNN__LAYER_MAX_INPUTS || !inputs)
        return clnn__model_fail(m, CLNN_ERR_INVALID, "%s: expected 1 to %d input nodes, got %d%s",
                                fn, CLNN__LAYER_MAX_INPUTS, ninputs,
                                inputs ? "" : " (inputs is NULL)");
    for (int i = 0; i < ninputs; i++)
        if (inputs[i] < 0 || inputs[i] >= m->nnodes)
            return clnn__model_fail(m, CLNN_ERR_INVALID,
                                    "%s: input %d is node %d; the model has nodes 0 to %d", fn, i,
                                    inputs[i], m->nnodes - 1);
    return 0;
}

/* The layer's parameters bound into g (trainable ones with a gradient when train is set). */
static int bind_params(clnn_graph *g, const clnn__layer *L, int train, int trainable,
                       clnn_tensor **p)
{
    for (int i = 0; i < L->nparams; i++) {
        p[i] = clnn_graph_bind(g, L->params[i], train && trainable && L->param_trainable[i]);
        if (!p[i])
            return -1;
    }
    return 0;
}

/* Applies layer index li to the nodes; builds the layer on its first application. */
static int apply_layer(clnn_model *m, const char *fn, int li, int ninputs, const int *inputs)
{
    clnn__layer *L = m->layers[li];
    clnn_dtype dt[CLNN__LAYER_MAX_INPUTS];
    int nd[CLNN__LAYER_MAX_INPUTS];
    int64_t sh[CLNN__LAYER_MAX_INPUTS][CLNN_MAX_DIMS];
    clnn_tensor *x[CLNN__LAYER_MAX_INPUTS], *p[CLNN__LAYER_MAX_PARAMS];
    for (int i = 0; i < ninputs; i++) {
        const clnn__mnode *in = &m->nodes[inputs[i]];
        dt[i] = in->dtype;
        nd[i] = in->ndim;
        memcpy(sh[i], in->shape, sizeof sh[i]);
        x[i] = m->shape_t[inputs[i]];
    }
    if (!L->built) {
        clnn_status st =
            clnn__layer_build(m->ctx, L, ninputs, dt, nd, (const int64_t(*)[CLNN_MAX_DIMS])sh,
                              m->o.init, clnn__rng_next(&m->init_gen), !m->no_init);
        if (st)
            return clnn__model_fail(m, st, "%s", clnn_ctx_last_error(m->ctx));
    }
    clnn_tensor *y = NULL;
    if (bind_params(m->shape_graph, L, 0, 0, p) == 0)
        y = clnn__layer_forward(m->shape_graph, L, ninputs, x, p);
    if (!y) {
        clnn_status st = clnn_graph_status(m->shape_graph);
        clnn__model_fail(m, st ? st : CLNN_ERR_INVALID, "%s '%s': %s", fn, L->spec.name,
                         clnn_graph_last_error(m->shape_graph));
        return -1;
    }
    if (y->ndim < 2)
        return clnn__model_fail(m, CLNN_ERR_SHAPE,
                                "%s '%s': the output lost the batch axis (layers must keep it)", fn,
                                L->spec.name);
    clnn__mnode n = {0};
    n.layer = li;
    n.nin = ninputs;
    memcpy(n.in, inputs, (size_t)ninputs * sizeof *inputs);
    n.dtype = clnn_tensor_dtype(y);
    n.ndim = y->ndim - 1;
    memcpy(n.shape, y->shape + 1, (size_t)n.ndim * sizeof *n.shape);
    snprintf(n.name, sizeof n.name, "%s", L->spec.name);
    if (ninputs != 1 || inputs[0] != m->nnodes - 1 || m->ninputs != 1)
        m->chain = 0;
    return push_node(m, &n, y);
}

static int add_layer(clnn_model *m, clnn__layer *L)
{
    if (clnn__grow((void **)&m->layers, &m->layers_cap, (size_t)m->nlayers + 1, sizeof *m->layers))
        return clnn__model_fail(m, CLNN_ERR_NOMEM, "model: out of host memory");
    for (int i = 0; i < m->nlayers; i++)
        if (!strcmp(m->layers[i]->spec.name, L->spec.name))
            return clnn__model_fail(m, CLNN_ERR_INVALID,
                                    "model: a layer named '%s' exists already (layer names "
                                    "must be unique in a model)",
                                    L->spec.name);
    L->refs++;
    m->layers[m->nlayers] = L;
    return m->nlayers++;
}

int clnn_model_apply(clnn_model *m, const clnn_layer_spec *layer, int ninputs, const int *inputs)
{
    static const char fn[] = "clnn_model_apply";
    if (!builder_ok(m))
        return -1;
    if (!layer)
        return clnn__model_fail(m, CLNN_ERR_INVALID, "%s: the layer spec is NULL", fn);
    if (m->ninputs == 0)
        return clnn__model_fail(m, CLNN_ERR_STATE,
                                "%s: the model has no input yet (call clnn_model_input first)", fn);
    if (check_inputs(m, fn, ninputs, inputs))
        return -1;
    const char *prefix = clnn__layer_prefix(layer->kind);
    if (!prefix)
        return clnn__model_fail(m, CLNN_ERR_INVALID, "%s: unknown layer kind %d", fn,
                                (int)layer->kind);
    clnn__layer *L = calloc(1, sizeof *L);
    if (!L)
        return clnn__model_fail(m, CLNN_ERR_NOMEM, "%s: out of host memory", fn);
    L->spec = *layer;
    L->trainable = 1;
    L->spec.name[sizeof L->spec.name - 1] = '\0';
    if (strlen(L->spec.name) > 34) {
        free(L);
        return clnn__model_fail(m, CLNN_ERR_INVALID,
                                "%s: layer name '%s' is longer than 34 characters", fn,
                                layer->name);
    }
    if (!L->spec.name[0]) {
        unsigned *count = &m->ctx->layer_names[(unsigned)layer->kind % 32];
        if (*count == 0)
            snprintf(L->spec.name, sizeof L->spec.name, "%s", prefix);
        else
            snprintf(L->spec.name, sizeof L->spec.name, "%s_%u", prefix, *count);
        ++*count;
    }
    int li = add_layer(m, L);
    if (li < 0) {
        free(L);
        return -1;
    }
    return apply_layer(m, fn, li, ninputs, inputs);
}

int clnn_model_push(clnn_model *m, const clnn_layer_spec *layer)
{
    if (!builder_ok(m))
        return -1;
    if (m->nnodes == 0)
        return clnn__model_fail(m, CLNN_ERR_STATE,
                                "clnn_model_push: the model has no input yet (call "
                                "clnn_model_input first)");
    int last = m->nnodes - 1;
    return clnn_model_apply(m, layer, 1, &last);
}

int clnn_model_reapply(clnn_model *m, int layer_node, int ninputs, const int *inputs)
{
    static const char fn[] = "clnn_model_reapply";
    if (!builder_ok(m))
        return -1;
    if (layer_node < 0 || layer_node >= m->nnodes || m->nodes[layer_node].layer < 0)
        return clnn__model_fail(m, CLNN_ERR_INVALID,
                                "%s: node %d is not a layer's node (nodes 0 to %d)", fn, layer_node,
                                m->nnodes - 1);
    if (check_inputs(m, fn, ninputs, inputs))
        return -1;
    const clnn__layer *L = m->layers[m->nodes[layer_node].layer];
    const int merge = L->spec.kind == CLNN_LAYER_ADD || L->spec.kind == CLNN_LAYER_CONCATENATE;
    const int rnn = L->spec.kind == CLNN_LAYER_LSTM || L->spec.kind == CLNN_LAYER_GRU ||
                    L->spec.kind == CLNN_LAYER_SIMPLE_RNN;
    if (merge ? ninputs < 2 : rnn ? ninputs > 2 : ninputs != 1)
        return clnn__model_fail(m, CLNN_ERR_INVALID, "%s '%s': expected %s, got %d", fn,
                                L->spec.name,
                                merge ? "2 or more inputs"
                                : rnn ? "1 or 2 inputs"
                                      : "1 input",
                                ninputs);
    m->chain = 0;
    return apply_layer(m, fn, m->nodes[layer_node].layer, ninputs, inputs);
}

int clnn_model_apply_model(clnn_model *m, clnn_model *inner, int input)
{
    static const char fn[] = "clnn_model_apply_model";
    if (!builder_ok(m))
        return -1;
    if (!inner || inner == m)
        return clnn__model_fail(m, CLNN_ERR_INVALID, "%s: expected another model, got %s", fn,
                                inner ? "the model itself" : "NULL");
    if (inner->status || inner->ninputs != 1 || inner->output < 0 ||
        inner->nodes[inner->output].layer < 0)
        return clnn__model_fail(m, CLNN_ERR_INVALID,
                                "%s: the inner model must have one input, a layer and no error "
                                "(it has %d inputs%s)",
                                fn, inner->ninputs, inner->status ? " and an error" : "");
    if (check_inputs(m, fn, 1, &input))
        return -1;
    const clnn__mnode *iin = &inner->nodes[inner->inputs[0]], *xin = &m->nodes[input];
    char s1[128], s2[128];
    if (iin->dtype != xin->dtype || iin->ndim != xin->ndim ||
        memcmp(iin->shape, xin->shape, (size_t)iin->ndim * sizeof *iin->shape))
        return clnn__model_fail(m, CLNN_ERR_SHAPE,
                                "%s: the inner model expects %s %s, node %d is %s %s", fn,
                                iin->dtype == CLNN_I32 ? "int32" : "f32",
                                clnn__shape_str(iin->ndim, iin->shape, s1, sizeof s1), input,
                                xin->dtype == CLNN_I32 ? "int32" : "f32",
                                clnn__shape_str(xin->ndim, xin->shape, s2, sizeof s2));
    int *map = malloc((size_t)inner->nnodes * sizeof *map);
    if (!map)
        return clnn__model_fail(m, CLNN_ERR_NOMEM, "%s: out of host memory", fn);
    int last = -1;
    for (int i = 0; i < inner->nnodes && m->status == CLNN_OK; i++) {
        const clnn__mnode *n = &inner->nodes[i];
        if (n->layer < 0) {
            map[i] = i == inner->inputs[0] ? input : -1;
            continue;
        }
        /* the layer, shared: the same object in both models */
        clnn__layer *L = inner->layers[n->layer];
        int li = -1;
        for (int k = 0; k < m->nlayers; k++)
            if (m->layers[k] == L)
                li = k;
        if (li < 0 && (li = add_layer(m, L)) < 0)
            break;
        int in[CLNN__LAYER_MAX_INPUTS];
        for (int k = 0; k < n->nin; k++)
            in[k] = map[n->in[k]];
        last = map[i] = apply_layer(m, fn, li, n->nin, in);
        if (i == inner->output)
            break;
    }
    free(map);
    m->chain = 0;
    if (m->status)
        return -1;
    return last;
}

clnn_status clnn_model_set_output(clnn_model *m, int node)
{
    if (!m)
        return CLNN_ERR_INVALID;
    if (m->status)
        return m->status;
    if (node < 0 || node >= m->nnodes)
        return clnn__fail(m->ctx, CLNN_ERR_INVALID,
                          "clnn_model_set_output: node %d out of range (0 to %d)", node,
                          m->nnodes - 1);
    if (node != m->nnodes - 1)
        m->chain = 0;
    clnn__model_invalidate(m);
    m->output = node;
    return CLNN_OK;
}

clnn_status clnn_model_node_shape(const clnn_model *m, int node, int *ndim,
                                  int64_t shape[CLNN_MAX_DIMS])
{
    if (!m || !ndim || !shape)
        return CLNN_ERR_INVALID;
    if (node == -1)
        node = m->output;
    if (node < 0 || node >= m->nnodes)
        return clnn__fail(m->ctx, CLNN_ERR_INVALID,
                          "clnn_model_node_shape: node %d out of range (the model has %d)", node,
                          m->nnodes);
    *ndim = m->nodes[node].ndim;
    memcpy(shape, m->nodes[node].shape, (size_t)*ndim * sizeof *shape);
    return CLNN_OK;
}

/* ---- layers and parameters ------------------------------------------------------------------ */
int clnn_model_layer_count(const clnn_model *m)
{
    return m ? m->nlayers : 0;
}

const char *clnn_model_layer_name(const clnn_model *m, int layer)
{
    if (!m || layer < 0 || layer >= m->nlayers)
        return NULL;
    return m->layers[layer]->spec.name;
}

clnn_status clnn_model_set_trainable(clnn_model *m, int layer, int trainable)
{
    if (!m)
        return CLNN_ERR_INVALID;
    if (layer < -1 || layer >= m->nlayers)
        return clnn__fail(m->ctx, CLNN_ERR_INVALID,
                          "clnn_model_set_trainable: layer %d out of range (-1 for all, 0 to "
                          "%d)",
                          layer, m->nlayers - 1);
    for (int i = 0; i < m->nlayers; i++)
        if (layer == -1 || layer == i)
            m->layers[i]->trainable = trainable != 0;
    return CLNN_OK;
}

/* The index-th parameter: its layer and slot. */
static int param_at(const clnn_model *m, int index, int *slot)
{
    if (!m || index < 0)
        return -1;
    for (int i = 0; i < m->nlayers; i++) {
        if (index < m->layers[i]->nparams) {
            *slot = index;
            return i;
        }
        index -= m->layers[i]->nparams;
    }
    return -1;
}

int clnn_model_param_count(const clnn_model *m)
{
    int n = 0;
    for (int i = 0; m && i < m->nlayers; i++)
        n += m->layers[i]->nparams;
    return n;
}

clnn_tensor *clnn_model_param(const clnn_model *m, int index)
{
    int slot, li = param_at(m, index, &slot);
    return li < 0 ? NULL : m->layers[li]->params[slot];
}

clnn_tensor *clnn_model_param_by_name(const clnn_model *m, const char *name)
{
    if (!m || !name)
        return NULL;
    for (int i = 0; i < m->nlayers; i++)
        for (int k = 0; k < m->layers[i]->nparams; k++)
            if (!strcmp(clnn_tensor_name(m->layers[i]->params[k]), name))
                return m->layers[i]->params[k];
    return NULL;
}

int clnn_model_param_trainable(const clnn_model *m, int index)
{
    int slot, li = param_at(m, index, &slot);
    return li < 0 ? 0 : m->layers[li]->trainable && m->layers[li]->param_trainable[slot];
}

int64_t clnn_model_count_params(const clnn_model *m, int64_t *trainable)
{
    int64_t all = 0, tr = 0;
    for (int i = 0; m && i < m->nlayers; i++) {
        const clnn__layer *L = m->layers[i];
        for (int k = 0; k < L->nparams; k++) {
            int64_t n = clnn_tensor_numel(L->params[k]);
            all += n;
            if (L->trainable && L->param_trainable[k])
                tr += n;
        }
    }
    if (trainable)
        *trainable = tr;
    return all;
}

/* ---- summary -------------------------------------------------------------------------------- */
typedef struct text {
    char *buf;
    size_t size, len;
} text;

static void put(text *t, const char *fmt, ...) CLNN__PRINTF(2, 3);
static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = t->len < t->size ? t->size - t->len : 0;
    int n = vsnprintf(room ? t->buf + t->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n;
}

static void rule(text *t, char c, int width)
{
    char line[160];
    if (width > (int)sizeof line - 1)
        width = (int)sizeof line - 1;
    memset(line, c, (size_t)width);
    line[width] = '\0';
    put(t, "%s\n", line);
}

/* 34826 -> "34,826" */
static const char *grouped(int64_t v, char *buf, size_t size)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", (long long)v), o = 0;
    for (int i = 0; i < n && o + 2 < (int)size; i++) {
        buf[o++] = digits[i];
        if (digits[i] != '-' && (n - 1 - i) % 3 == 0 && i != n - 1)
            buf[o++] = ',';
    }
    buf[o] = '\0';
    return buf;
}

static const char *batch_shape(const clnn__mnode *n, char *buf, size_t size)
{
    int o = snprintf(buf, size, "(None");
    for (int i = 0; i < n->ndim && o > 0 && (size_t)o < size; i++)
        o += snprintf(buf + o, size - (size_t)o, ", %lld", (long long)n->shape[i]);
    if (o > 0 && (size_t)o < size)
        snprintf(buf + o, size - (size_t)o, ")");
    return buf;
}

static int64_t layer_params(const clnn__layer *L)
{
    int64_t n = 0;
    for (int k = 0; k < L->nparams; k++)
        n += clnn_tensor_numel(L->params[k]);
    return n;
}

size_t clnn_model_summary(const clnn_model *m, char *buf, size_t size)
{
    text t = {buf, size, 0};
    if (buf && size)
        buf[0] = '\0';
    if (!m)
        return 0;
    const int functional = !m->chain;
    const int w0 = 29, w1 = 26, w2 = functional ? 12 : 10, width = functional ? 98 : 65;
    put(&t, "Model: \"%s\"\n", m->o.name[0] ? m->o.name : functional ? "model" : "sequential");
    rule(&t, '_', width);
    put(&t, " %-*s%-*s%-*s%s\n", w0 - 1, "Layer (type)", w1, "Output Shape", w2, "Param #",
        functional ? "Connected to" : "");
    rule(&t, '=', width);
    unsigned char *seen = calloc((size_t)(m->nlayers ? m->nlayers : 1), 1);
    for (int i = 0; i < m->nnodes; i++) {
        const clnn__mnode *n = &m->nodes[i];
        char label[128], shape[128], params[32], conn[400] = "";
        if (n->layer < 0) {
            if (!functional)
                continue;
            snprintf(label, sizeof label, "%s (InputLayer)", n->name);
            char s[120];
            snprintf(shape, sizeof shape, "[%s]", batch_shape(n, s, sizeof s));
            snprintf(params, sizeof params, "0");
        } else {
            const clnn__layer *L = m->layers[n->layer];
            snprintf(label, sizeof label, "%s (%s)", L->spec.name, clnn__layer_type(L->spec.kind));
            batch_shape(n, shape, sizeof shape);
            int first = !seen || !seen[n->layer];
            if (seen)
                seen[n->layer] = 1;
            /* a shared layer's parameters are counted at its first application */
            grouped(first ? layer_params(L) : 0, params, sizeof params);
            /* Keras's "Connected to": ['conv2d', 'dense'] */
            int o = 0;
            for (int k = 0; functional && k < n->nin && o < (int)sizeof conn - 60; k++)
                o += snprintf(conn + o, sizeof conn - (size_t)o, "%s'%.48s'%s", k ? ", " : "[",
                              m->nodes[n->in[k]].name, k + 1 == n->nin ? "]" : "");
        }
        /* Keras wraps a long cell onto the next lines of its column */
        const int lw = w0 - 2, sw = w1 - 1;
        const char *lp = label, *sp = shape;
        for (int line = 0; line == 0 || *lp || *sp; line++) {
            int ln = (int)strlen(lp) > lw ? lw : (int)strlen(lp);
            int sn = (int)strlen(sp) > sw ? sw : (int)strlen(sp);
            put(&t, " %-*.*s %-*.*s %-*s%s\n", lw, ln, lp, sw, sn, sp, w2, line ? "" : params,
                line ? "" : conn);
            lp += ln;
            sp += sn;
        }
    }
    free(seen);
    rule(&t, '=', width);
    int64_t tr, all = clnn_model_count_params(m, &tr);
    char a[32], b[32], c[32];
    put(&t, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n",
        grouped(all, a, sizeof a), grouped(tr, b, sizeof b), grouped(all - tr, c, sizeof c));
    rule(&t, '_', width);
    return t.len;
}

/* ---- user metadata -------------------------------------------------------------------------- */
const char *clnn_model_metadata(const clnn_model *m, const char *key)
{
    for (int i = 0; m && key && i < m->nmeta; i++)
        if (!strcmp(m->meta[2 * i], key))
            return m->meta[2 * i + 1];
    return NULL;
}

clnn_status clnn_model_set_metadata(clnn_model *m, const char *key, const char *value)
{
    if (!m)
        return CLNN_ERR_INVALID;
    if (!key || !key[0] || strlen(key) > 63)
        return clnn__fail(m->ctx, CLNN_ERR_INVALID,
                          "clnn_model_set_metadata: expected a key of 1 to 63 characters, got %s",
                          key ? "a longer or empty one" : "NULL");
    int at = -1;
    for (int i = 0; i < m->nmeta; i++)
        if (!strcmp(m->meta[2 * i], key))
            at = i;
    if (!value) {
        if (at >= 0) {
            free(m->meta[2 * at]);
            free(m->meta[2 * at + 1]);
            memmove(m->meta + 2 * at, m->meta + 2 * at + 2,
                    (size_t)(2 * (m->nmeta - at - 1)) * sizeof *m->meta);
            m->nmeta--;
        }
        return CLNN_OK;
    }
    char *v = clnn__strdup(value);
    if (!v)
        return clnn__fail(m->ctx, CLNN_ERR_NOMEM, "clnn_model_set_metadata: out of host memory");
    if (at >= 0) {
        free(m->meta[2 * at + 1]);
        m->meta[2 * at + 1] = v;
        return CLNN_OK;
    }
    char *k = clnn__strdup(key);
    char **grown = k ? realloc(m->meta, (size_t)(2 * (m->nmeta + 1)) * sizeof *grown) : NULL;
    if (!grown) {
        free(k);
        free(v);
        return clnn__fail(m->ctx, CLNN_ERR_NOMEM, "clnn_model_set_metadata: out of host memory");
    }
    m->meta = grown;
    m->meta[2 * m->nmeta] = k;
    m->meta[2 * m->nmeta + 1] = v;
    m->nmeta++;
    return CLNN_OK;
}
