/* layers.c — building the layers of src/nn: the checks of a layer's configuration and inputs,
 * its parameters (PyTorch layouts and names, initialised on the host from the layer's seed with
 * Keras's or PyTorch's initialisers), clnn__layer_build and the release of a layer. A layer owns
 * its parameters (caller-owned tensors) and is reference counted by the models that use it. What
 * does not live here: the public clnn_layer_*() constructors and the kind names (layer_spec.c), the
 * ops one application of the layer adds to a graph (layer_forward.c), the graph of layer
 * applications, compile, fit and the rest of the model (model.c), and the random number generator
 * (rng.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

/* ---- checks -------------------------------------------------------------------------------- */
/* Fails with the message prefixed by the layer: "conv2d 'conv2d_1': ...". */
static clnn_status lfail(clnn_ctx *ctx, const clnn__layer *L, clnn_status st, const char *fmt, ...)
    CLNN__PRINTF(4, 5);
static clnn_status lfail(clnn_ctx *ctx, const clnn__layer *L, clnn_status st, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *prefix = clnn__layer_prefix(L->spec.kind);
    return clnn__fail(ctx, st, "%s '%s': %s", prefix ? prefix : "layer", L->spec.name, msg);
}

static const char *shape_str(int ndim, const int64_t *shape, char *buf, size_t size)
{
    return clnn__shape_str(ndim, shape, buf, size);
}

static const char *dtype_name(clnn_dtype d)
{
    return d == CLNN_F32 ? "f32" : d == CLNN_I32 ? "i32" : d == CLNN_F16 ? "f16" : "unknown";
}

static int same_shape(int na, const int64_t *a, int nb, const int64_t *b)
{
    if (na != nb)
        return 0;
    for (int i = 0; i < na; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static int64_t numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

/* Output size of one axis of a convolution (as src/ops/op_conv.c computes it); < 1 when the
 * kernel does not fit. */
static int64_t conv_out(int64_t in, int k, int stride, int dil, clnn_padding_mode mode, int pad)
{
    int64_t ek = (int64_t)dil * (k - 1) + 1;
    if (mode == CLNN_PADDING_SAME)
        return (in + stride - 1) / stride;
    int64_t total = mode == CLNN_PADDING_EXPLICIT ? 2 * (int64_t)pad : 0;
    return in + total < ek ? 0 : (in + total - ek) / stride + 1;
}

static int64_t transpose_out(int64_t in, int k, int stride, int dil, clnn_padding_mode mode,
                             int pad, int opad)
{
    int64_t ek = (int64_t)dil * (k - 1) + 1, over = ek - stride > 0 ? ek - stride : 0;
    if (mode == CLNN_PADDING_VALID)
        return in * stride + over;
    if (mode == CLNN_PADDING_SAME)
        return in * stride;
    return (in - 1) * stride - 2 * (int64_t)pad + ek + opad;
}

/* Output size of one axis of a pooling window (floor mode, as src/ops/op_pool.c) */
static int64_t pool_out(int64_t in, int k, int stride, clnn_padding_mode mode, int pad)
{
    if (mode == CLNN_PADDING_SAME)
        return (in + stride - 1) / stride;
    int64_t total = mode == CLNN_PADDING_EXPLICIT ? 2 * (int64_t)pad : 0;
    return in + total < k ? 0 : (in + total - k) / stride + 1;
}

static clnn_status check_activation(clnn_ctx *ctx, const clnn__layer *L)
{
    const clnn_layer_spec *s = &L->spec;
    if ((int)s->activation < CLNN_ACT_NONE || (int)s->activation > CLNN_ACT_SOFTMAX)
        return lfail(ctx, L, CLNN_ERR_INVALID,
                     "expected an activation in CLNN_ACT_NONE..CLNN_ACT_SOFTMAX (%d to %d), got %d",
                     CLNN_ACT_NONE, CLNN_ACT_SOFTMAX, (int)s->activation);
    if (!isfinite(s->alpha))
        return lfail(ctx, L, CLNN_ERR_INVALID, "expected a finite alpha, got %g", (double)s->alpha);
    return CLNN_OK;
}

static clnn_status check_padding(clnn_ctx *ctx, const clnn__layer *L)
{
    const clnn_layer_spec *s = &L->spec;
    if (s->padding != CLNN_PADDING_EXPLICIT && s->padding != CLNN_PADDING_VALID &&
        s->padding != CLNN_PADDING_SAME)
        return lfail(ctx, L, CLNN_ERR_INVALID,
                     "expected padding CLNN_PADDING_EXPLICIT, _VALID or _SAME, got %d",
                     (int)s->padding);
    if (s->pad_h < 0 || s->pad_w < 0)
        return lfail(ctx, L, CLNN_ERR_INVALID, "expected pad_h, pad_w >= 0, got (%d, %d)", s->pad_h,
                     s->pad_w);
    if (s->padding != CLNN_PADDING_EXPLICIT && (s->pad_h || s->pad_w))
        return lfail(ctx, L, CLNN_ERR_INVALID,
                     "pad_h, pad_w apply to CLNN_PADDING_EXPLICIT only (Keras 'valid' and 'same' "
                     "choose their own): expected (0, 0), got (%d, %d)",
                     s->pad_h, s->pad_w);
    return CLNN_OK;
}

/* The configuration of a convolution and its output size for input (C, H, W). */
static clnn_status check_conv(clnn_ctx *ctx, const clnn__layer *L, const int64_t *in)
{
    const clnn_layer_spec *s = &L->spec;
    int transpose = s->kind == CLNN_LAYER_CONV2D_TRANSPOSE;
    clnn_status st;
    if (s->units < 1)
        return lfail(ctx, L, CLNN_ERR_INVALID, "expected filters (units) >= 1, got %d", s->units);
    if (s->kernel_h < 1 || s->kernel_w < 1)
        return lfail(ctx, L, CLNN_ERR_INVALID, "expected a kernel >= (1, 1), got (%d, %d)",
                     s->kernel_h, s->kernel_w);
    if (s->stride_h < 1 || s->stride_w < 1)
        return lfail(ctx, L, CLNN_ERR_INVALID, "expected strides >= (1, 1), got (%d, %d)",
                     s->stride_h, s->stride_w);
    if (s->dilation_h < 1 || s->dilation_w < 1)
        return lfail(ctx, L, CLNN_ERR_INVALID, "expected a dilation >= (1, 1), got (%d, %d)",
                     s->dilation_h, s->dilation_w);
    if ((st = check_padding(ctx, L)) || (st = check_activation(ctx, L)))
        return st;
    if (s->groups < 1 || in[0] % s->groups || s->units % s->groups)
        return lfail(ctx, L, CLNN_ERR_SHAPE,
                     "expected groups >= 1 dividing the input channels (%lld) and the filters "
                     "(%d), got groups %d",
                     (long long)in[0], s->units, s->groups);
    if (transpose) {
        if (s->output_pad_h < 0 || s->output_pad_w < 0)
            return lfail(ctx, L, CLNN_ERR_INVALID,
                         "expected output_pad_h, output_pad_w >= 0, got (%d, %d)", s->output_pad_h,
                         s->output_pad_w);
        if ((s->output_pad_h || s->output_pad_w) && s->padding != CLNN_PADDING_EXPLICIT)
            return lfail(ctx, L, CLNN_ERR_INVALID,
                         "output_pad needs CLNN_PADDING_EXPLICIT: expected (0, 0) with 'valid' or "
                         "'same' padding, got (%d, %d)",
                         s->output_pad_h, s->output_pad_w);
        int mh = s->stride_h > s->dilation_h ? s->stride_h : s->dilation_h;
        int mw = s->stride_w > s->dilation_w ? s->stride_w : s->dilation_w;
        if (s->output_pad_h >= mh || s->output_pad_w >= mw)
            return lfail(ctx, L, CLNN_ERR_INVALID,
                         "expected output_pad smaller than the stride or the dilation, got "
                         "output_pad (%d, %d), strides (%d, %d), dilation (%d, %d)",
                         s->output_pad_h, s->output_pad_w, s->stride_h, s->stride_w, s->dilation_h,
                         s->dilation_w);
    }
    int64_t oh, ow;
    if (transpose) {
        oh = transpose_out(in[1], s->kernel_h, s->stride_h, s->dilation_h, s->padding, s->pad_h,
                           s->output_pad_h);
        ow = transpose_out(in[2], s->kernel_w, s->stride_w, s->dilation_w, s->padding, s->pad_w,
                           s->output_pad_w);
    } else {
        oh = conv_out(in[1], s->kernel_h, s->stride_h, s->dilation_h, s->padding, s->pad_h);
        ow = conv_out(in[2], s->kernel_w, s->stride_w, s->dilation_w, s->padding, s->pad_w);
    }
    if (oh < 1 || ow < 1) {
        char b[128];
        return lfail(ctx, L, CLNN_ERR_SHAPE,
                     "the kernel (%d, %d) with dilation (%d, %d), strides (%d, %d) and pad (%d, "
                     "%d) leaves no output for input %s: expected an output of at least (1, 1), "
                     "got (%lld, %lld)",
                     s->kernel_h, s->kernel_w, s->dilation_h, s->dilation_w, s->stride_h,
                     s->stride_w, s->pad_h, s->pad_w, shape_str(3, in, b, sizeof b), (long long)oh,
                     (long long)ow);
    }
    return CLNN_OK;
}

static clnn_status check_pool(clnn_ctx *ctx, const clnn__layer *L, const int64_t *in)
{
    const clnn_layer_spec *s = &L->spec;
    clnn_status st;
    if (s->kernel_h < 1 || s->kernel_w < 1)
        return lfail(ctx, L, CLNN_ERR_INVALID, "expected a pool size >= (1, 1), got (%d, %d)",
                     s->kernel_h, s->kernel_w);
    if (s->stride_h < 0 || s->stride_w < 0)
        return lfail(ctx, L, CLNN_ERR_INVALID,
                     "expected strides >= (0, 0) (0: the pool size), got (%d, %d)", s->stride_h,
                     s->stride_w);
    if ((st = check_padding(ctx, L)))
        return st;
    if (s->padding == CLNN_PADDING_EXPLICIT &&
        (s->pad_h > s->kernel_h / 2 || s->pad_w > s->kernel_w / 2))
        return lfail(ctx, L, CLNN_ERR_INVALID,
                     "expected pad at most half the pool size (%d, %d), got (%d, %d)",
                     s->kernel_h / 2, s->kernel_w / 2, s->pad_h, s->pad_w);
    int sh = s->stride_h ? s->stride_h : s->kernel_h, sw = s->stride_w ? s->stride_w : s->kernel_w;
    int64_t oh = pool_out(in[1], s->kernel_h, sh, s->padding, s->pad_h);
    int64_t ow = pool_out(in[2], s->kernel_w, sw, s->padding, s->pad_w);
    if (oh < 1 || ow < 1) {
        char b[128];
        return lfail(ctx, L, CLNN_ERR_SHAPE,
                     "the pool size (%d, %d) with pad (%d, %d) does not fit input %s: expected H "
                     "and W at least the pool size",
                     s->kernel_h, s->kernel_w, s->pad_h, s->pad_w, shape_str(3, in, b, sizeof b));
    }
    return CLNN_OK;
}

static clnn_status check_reshape(clnn_ctx *ctx, const clnn__layer *L, int ndim,
                                 const int64_t *shape)
{
    const clnn_layer_spec *s = &L->spec;
    char a[128], b[128];
    if (s->ndim < 1 || s->ndim > CLNN_MAX_DIMS - 1)
        return lfail(ctx, L, CLNN_ERR_INVALID,
                     "expected a target shape of 1 to %d dimensions (batch excluded), got ndim %d",
                     CLNN_MAX_DIMS - 1, s->ndim);
    int64_t known = 1;
    int infer = -1;
    for (int i = 0; i < s->ndim; i++) {
        if (s->shape[i] == -1 && infer < 0)
            infer = i;
        else if (s->shape[i] < 1)
            return lfail(ctx, L, CLNN_ERR_INVALID,
                         "expected target dimensions >= 1 (one may be -1), got %s",
                         shape_str(s->ndim, s->shape, a, sizeof a));
        else
            known *= s->shape[i];
    }
    int64_t n = numel(ndim, shape);
    if (infer < 0 ? known != n : n % known != 0)
        return lfail(ctx, L, CLNN_ERR_SHAPE,
                     "cannot reshape input %s (%lld elements) to %s: expected the same number of "
                     "elements",
                     shape_str(ndim, shape, a, sizeof a), (long long)n,
                     shape_str(s->ndim, s->shape, b, sizeof b));
    return CLNN_OK;
}

/* Checks the configuration and the inputs of L (batch axis excluded). */
static clnn_status check_layer(clnn_ctx *ctx, const clnn__layer *L, int nin,
                               const clnn_dtype *in_dtype, const int *in_ndim,
                               const int64_t (*in_shape)[CLNN_MAX_DIMS])
{
    const clnn_layer_spec *s = &L->spec;
    clnn_layer_kind k = s->kind;
    char a[128], b[128];
    clnn_status st;
    int multi = k == CLNN_LAYER_ADD || k == CLNN_LAYER_CONCATENATE;
    int rnn = k == CLNN_LAYER_LSTM || k == CLNN_LAYER_GRU || k == CLNN_LAYER_SIMPLE_RNN;

    if (rnn ? nin < 1 || nin > 2 : multi ? nin < 2 || nin > CLNN__LAYER_MAX_INPUTS : nin != 1) {
        if (rnn)
            return lfail(ctx, L, CLNN_ERR_INVALID,
                         "expected 1 input (the sequence) or 2 (and its int32 token ids), got %d",
                         nin);
        if (multi)
            return lfail(ctx, L, CLNN_ERR_INVALID, "expected 2 to %d inputs, got %d",
                         CLNN__LAYER_MAX_INPUTS, nin);
        return lfail(ctx, L, CLNN_ERR_INVALID, "expected 1 input, got %d", nin);
    }
    if (!in_dtype || !in_ndim || !in_shape)
        return lfail(ctx, L, CLNN_ERR_INVALID, "the input descriptions are NULL");
    for (int i = 0; i < nin; i++) {
        clnn_dtype want = k == CLNN_LAYER_EMBEDDING || (rnn && i == 1) ? CLNN_I32 : CLNN_F32;
        if (in_dtype[i] != want)
            return lfail(ctx, L, CLNN_ERR_INVALID, "expected %s input%s, got input %d of dtype %s",
                         dtype_name(want), want == CLNN_I32 ? " (int32 indices)" : "", i,
                         dtype_name(in_dtype[i]));
        if (in_ndim[i] < 0 || in_ndim[i] > CLNN_MAX_DIMS - 1)
            return lfail(ctx, L, CLNN_ERR_SHAPE,
                         "expected inputs of 0 to %d dimensions (batch excluded), got input %d "
                         "with %d",
                         CLNN_MAX_DIMS - 1, i, in_ndim[i]);
    }
    int nd = in_ndim[0];
    const int64_t *sh = in_shape[0];

    switch (k) {
    case CLNN_LAYER_LSTM:
    case CLNN_LAYER_GRU:
    case CLNN_LAYER_SIMPLE_RNN:
        if (s->units < 1)
            return lfail(ctx, L, CLNN_ERR_INVALID, "expected units >= 1, got %d", s->units);
        if (s->num_layers < 1 || s->num_layers > 8)
            return lfail(ctx, L, CLNN_ERR_INVALID, "expected num_layers in [1, 8], got %d",
                         s->num_layers);
        if (!(s->rate >= 0 && s->rate < 1))
            return lfail(ctx, L, CLNN_ERR_INVALID,
                         "expected a dropout rate between layers in [0, 1), got %g",
                         (double)s->rate);
        if (k == CLNN_LAYER_SIMPLE_RNN && s->activation != CLNN_ACT_TANH &&
            s->activation != CLNN_ACT_RELU)
            return lfail(ctx, L, CLNN_ERR_INVALID,
                         "expected the activation CLNN_ACT_TANH or CLNN_ACT_RELU, got %d",
                         (int)s->activation);
        if (nd != 2)
            return lfail(ctx, L, CLNN_ERR_SHAPE,
                         "expected a batch-first sequence (T, F) (batch excluded), got %s",
                         shape_str(nd, sh, a, sizeof a));
        if (nin == 2 && (in_ndim[1] != 1 || in_shape[1][0] != sh[0]))
            return lfail(ctx, L, CLNN_ERR_SHAPE,
                         "expected token ids (T) = (%lld) as the second input, got %s",
                         (long long)sh[0], shape_str(in_ndim[1], in_shape[1], b, sizeof b));
        return CLNN_OK;
    case CLNN_LAYER_DENSE:
        if (s->units < 1)
            return lfail(ctx, L, CLNN_ERR_INVALID, "expected units >= 1, got %d", s->units);
        if ((st = check_activation(ctx, L)))
            return st;
        if (nd < 1)
            return lfail(ctx, L, CLNN_ERR_SHAPE,
                         "expected an input (..., features) of at least 1 dimension, got ()");
        return CLNN_OK;
    case CLNN_LAYER_CONV2D:
    case CLNN_LAYER_CONV2D_TRANSPOSE:
    case CLNN_LAYER_MAXPOOL2D:
    case CLNN_LAYER_AVGPOOL2D:
    case CLNN_LAYER_GLOBAL_AVGPOOL2D:
        if (nd != 3)
            return lfail(ctx, L, CLNN_ERR_SHAPE, "expected an input (C, H, W), got %s",
                         shape_str(nd, sh, a, sizeof a));
        if (k == CLNN_LAYER_CONV2D || k == CLNN_LAYER_CONV2D_TRANSPOSE)
            return check_conv(ctx, L, sh);
        if (k == CLNN_LAYER_GLOBAL_AVGPOOL2D)
            return CLNN_OK;
        return check_pool(ctx, L, sh);
    case CLNN_LAYER_FLATTEN:
        return CLNN_OK;
    case CLNN_LAYER_RESHAPE:
        return check_reshape(ctx, L, nd, sh);
    case CLNN_LAYER_DROPOUT:
        if (!(s->rate >= 0.0f && s->rate < 1.0f))
            return lfail(ctx, L, CLNN_ERR_INVALID, "expected a rate in [0, 1), got %g",
                         (double)s->rate);
        return CLNN_OK;
    case CLNN_LAYER_BATCHNORM:
    case CLNN_LAYER_LAYERNORM:
        if (!(s->eps > 0.0f) || !isfinite(s->eps))
            return lfail(ctx, L, CLNN_ERR_INVALID, "expected a finite eps > 0, got %g",
                         (double)s->eps);
        if (k == CLNN_LAYER_BATCHNORM && !(s->momentum >= 0.0f && s->momentum <= 1.0f))
            return lfail(ctx, L, CLNN_ERR_INVALID,
                         "expected momentum in [0, 1] (PyTorch's convention: Keras 0.99 is 0.01), "
                         "got %g",
                         (double)s->momentum);
        if (nd < 1)
            return lfail(ctx, L, CLNN_ERR_SHAPE,
                         "expected an input of at least 1 dimension (%s), got ()",
                         k == CLNN_LAYER_BATCHNORM ? "(C, ...)" : "(..., features)");
        return CLNN_OK;
    case CLNN_LAYER_ACTIVATION:
        return check_activation(ctx, L);
    case CLNN_LAYER_EMBEDDING:
        if (s->input_dim < 1 || s->units < 1)
            return lfail(ctx, L, CLNN_ERR_INVALID,
                         "expected input_dim >= 1 and output_dim (units) >= 1, got %d and %d",
                         s->input_dim, s->units);
        if (s->padding_index < -1 || s->padding_index >= s->input_dim)
            return lfail(ctx, L, CLNN_ERR_INVALID,
                         "expected padding_index in -1..%d (-1: none), got %d", s->input_dim - 1,
                         s->padding_index);
        if (nd > CLNN_MAX_DIMS - 2)
            return lfail(ctx, L, CLNN_ERR_SHAPE,
                         "expected indices of at most %d dimensions (the output adds one), got %s",
                         CLNN_MAX_DIMS - 2, shape_str(nd, sh, a, sizeof a));
        return CLNN_OK;
    case CLNN_LAYER_ADD:
        for (int i = 1; i < nin; i++)
            if (!same_shape(nd, sh, in_ndim[i], in_shape[i]))
                return lfail(ctx, L, CLNN_ERR_SHAPE,
                             "expected inputs of one shape, got input 0 %s and input %d %s",
                             shape_str(nd, sh, a, sizeof a), i,
                             shape_str(in_ndim[i], in_shape[i], b, sizeof b));
        return CLNN_OK;
    case CLNN_LAYER_CONCATENATE: {
        if (nd < 1 || s->axis < -nd || s->axis >= nd)
            return lfail(ctx, L, CLNN_ERR_INVALID,
                         "expected axis in -%d..%d (batch excluded) for input %s, got %d", nd,
                         nd - 1, shape_str(nd, sh, a, sizeof a), s->axis);
        int ax = s->axis < 0 ? s->axis + nd : s->axis;
        for (int i = 1; i < nin; i++) {
            int ok = in_ndim[i] == nd;
            for (int d = 0; ok && d < nd; d++)
                ok = d == ax || in_shape[i][d] == sh[d];
            if (!ok)
                return lfail(ctx, L, CLNN_ERR_SHAPE,
                             "expected inputs of one shape except on axis %d, got input 0 %s and "
                             "input %d %s",
                             s->axis, shape_str(nd, sh, a, sizeof a), i,
                             shape_str(in_ndim[i], in_shape[i], b, sizeof b));
        }
        return CLNN_OK;
    }
    }
    return lfail(ctx, L, CLNN_ERR_INVALID, "unknown layer kind %d", (int)k);
}

/* ---- parameters ---------------------------------------------------------------------------- */
static void destroy_params(clnn__layer *L)
{
    for (int i = 0; i < L->nparams; i++) {
        clnn_tensor_destroy(L->params[i]);
        L->params[i] = NULL;
        L->param_trainable[i] = 0;
    }
    L->nparams = 0;
}

/* How a parameter's initial values are drawn */
typedef enum init_kind { INIT_UNIFORM, INIT_NORMAL, INIT_CONST } init_kind;

/* Appends t to L as the parameter "<layer>.<suffix>". */
static void append_param(clnn__layer *L, const char *suffix, clnn_tensor *t, int trainable)
{
    char name[96];
    snprintf(name, sizeof name, "%s.%s", L->spec.name, suffix);
    clnn_tensor_set_name(t, name);
    L->params[L->nparams] = t;
    L->param_trainable[L->nparams] = trainable;
    L->nparams++;
}

/* Makes the parameter "<layer>.<suffix>", fills it on the host (U(-v, v), N(0, 1) or the value
 * v; drawn from r in row-major order; r NULL: not filled) and appends it to L. */
static clnn_status add_param(clnn_ctx *ctx, clnn__layer *L, const char *suffix, int ndim,
                             const int64_t *shape, int trainable, clnn__rng *r, init_kind how,
                             double v)
{
    clnn_tensor *t = NULL;
    clnn_status st = clnn_tensor_create(ctx, CLNN_F32, ndim, shape, &t);
    if (st)
        return st;
    if (!r) {
        append_param(L, suffix, t, trainable);
        return CLNN_OK;
    }
    size_t n = (size_t)numel(ndim, shape);
    float *buf = malloc((n ? n : 1) * sizeof *buf);
    if (!buf) {
        clnn_tensor_destroy(t);
        return lfail(ctx, L, CLNN_ERR_NOMEM, "out of host memory for parameter '%s'", suffix);
    }
    for (size_t i = 0; i < n; i++) {
        double x = how == INIT_UNIFORM  ? (2.0 * clnn__rng_uniform(r) - 1.0) * v
                   : how == INIT_NORMAL ? clnn__rng_normal(r)
                                        : v;
        buf[i] = (float)x;
    }
    /* PyTorch nn.Embedding zeroes the padding_idx row at initialisation */
    if (L->spec.kind == CLNN_LAYER_EMBEDDING && L->spec.padding_index >= 0 && ndim == 2)
        memset(buf + (size_t)L->spec.padding_index * (size_t)shape[1], 0,
               (size_t)shape[1] * sizeof *buf);
    st = clnn_tensor_write(t, buf, n * sizeof *buf);
    free(buf);
    if (st) {
        clnn_tensor_destroy(t);
        return st;
    }
    append_param(L, suffix, t, trainable);
    return CLNN_OK;
}

/* Keras's orthogonal initialiser for a recurrent kernel, in PyTorch's layout (rows = G H, cols =
 * H): a normal matrix whose columns are made orthonormal by modified Gram-Schmidt (Keras takes the
 * Q of a QR with the signs of R's diagonal, which Gram-Schmidt makes positive). */
static clnn_status add_orthogonal(clnn_ctx *ctx, clnn__layer *L, const char *suffix, int64_t rows,
                                  int64_t cols, clnn__rng *r)
{
    if (!r) /* not filled: no O(rows cols^2) work for values that are overwritten */
        return add_param(ctx, L, suffix, 2, (const int64_t[]){rows, cols}, 1, NULL, INIT_CONST, 0);
    double *a = malloc((size_t)(rows * cols) * sizeof *a);
    float *f = malloc((size_t)(rows * cols) * sizeof *f);
    clnn_tensor *t = NULL;
    clnn_status st = CLNN_OK;
    if (!a || !f)
        st = lfail(ctx, L, CLNN_ERR_NOMEM, "out of host memory for parameter '%s'", suffix);
    for (int64_t i = 0; st == CLNN_OK && i < rows * cols; i++)
        a[i] = clnn__rng_normal(r);
    for (int64_t j = 0; st == CLNN_OK && j < cols; j++) {
        for (int64_t k = 0; k < j; k++) {
            double dot = 0;
            for (int64_t i = 0; i < rows; i++)
                dot += a[i * cols + j] * a[i * cols + k];
            for (int64_t i = 0; i < rows; i++)
                a[i * cols + j] -= dot * a[i * cols + k];
        }
        double norm = 0;
        for (int64_t i = 0; i < rows; i++)
            norm += a[i * cols + j] * a[i * cols + j];
        norm = sqrt(norm);
        for (int64_t i = 0; i < rows; i++)
            a[i * cols + j] = norm > 0 ? a[i * cols + j] / norm : 0.0;
    }
    int64_t shape[2] = {rows, cols};
    if (st == CLNN_OK)
        st = clnn_tensor_create(ctx, CLNN_F32, 2, shape, &t);
    for (int64_t i = 0; st == CLNN_OK && i < rows * cols; i++)
        f[i] = (float)a[i];
    if (st == CLNN_OK)
        st = clnn_tensor_write(t, f, (size_t)(rows * cols) * sizeof *f);
    free(a);
    free(f);
    if (st) {
        clnn_tensor_destroy(t);
        return st;
    }
    append_param(L, suffix, t, 1);
    return CLNN_OK;
}

static int rnn_gates(clnn_layer_kind k)
{
    return k == CLNN_LAYER_LSTM ? 4 : k == CLNN_LAYER_GRU ? 3 : 1;
}

/* PyTorch's names and order per layer and direction: weight_ih_l<k>[_reverse], weight_hh,
 * bias_ih, bias_hh. PyTorch: every tensor U(-1/sqrt(H), 1/sqrt(H)). Keras: glorot_uniform
 * weight_ih (fans F and G H), orthogonal weight_hh, zero biases with the LSTM forget gate's input
 * bias 1 (unit_forget_bias; the second block of PyTorch's i, f, g, o). */
static clnn_status make_rnn_params(clnn_ctx *ctx, clnn__layer *L, int64_t features, int keras,
                                   clnn__rng *r)
{
    const clnn_layer_spec *s = &L->spec;
    const int64_t H = s->units, G = rnn_gates(s->kind);
    const double pt = 1.0 / sqrt((double)H);
    clnn_status st = CLNN_OK;
    for (int l = 0; l < s->num_layers && st == CLNN_OK; l++)
        for (int dir = 0; dir < 1 + (s->bidirectional != 0) && st == CLNN_OK; dir++) {
            const int64_t in = l == 0 ? features : H * (1 + (s->bidirectional != 0));
            char n[4][40];
            snprintf(n[0], sizeof n[0], "weight_ih_l%d%s", l, dir ? "_reverse" : "");
            snprintf(n[1], sizeof n[1], "weight_hh_l%d%s", l, dir ? "_reverse" : "");
            snprintf(n[2], sizeof n[2], "bias_ih_l%d%s", l, dir ? "_reverse" : "");
            snprintf(n[3], sizeof n[3], "bias_hh_l%d%s", l, dir ? "_reverse" : "");
            int64_t wih[2] = {G * H, in}, bsh[1] = {G * H};
            if (!keras) {
                int64_t whh[2] = {G * H, H};
                if ((st = add_param(ctx, L, n[0], 2, wih, 1, r, INIT_UNIFORM, pt)) ||
                    (st = add_param(ctx, L, n[1], 2, whh, 1, r, INIT_UNIFORM, pt)))
                    break;
                if (s->use_bias &&
                    ((st = add_param(ctx, L, n[2], 1, bsh, 1, r, INIT_UNIFORM, pt)) ||
                     (st = add_param(ctx, L, n[3], 1, bsh, 1, r, INIT_UNIFORM, pt))))
                    break;
                continue;
            }
            double limit = sqrt(6.0 / (double)(in + G * H));
            if ((st = add_param(ctx, L, n[0], 2, wih, 1, r, INIT_UNIFORM, limit)) ||
                (st = add_orthogonal(ctx, L, n[1], G * H, H, r)))
                break;
            if (!s->use_bias)
                continue;
            if ((st = add_param(ctx, L, n[2], 1, bsh, 1, r, INIT_CONST, 0.0)) ||
                (st = add_param(ctx, L, n[3], 1, bsh, 1, r, INIT_CONST, 0.0)))
                break;
            if (s->kind == CLNN_LAYER_LSTM && r) { /* unit_forget_bias */
                float *b = malloc((size_t)(G * H) * sizeof *b);
                if (!b)
                    return lfail(ctx, L, CLNN_ERR_NOMEM, "out of host memory");
                for (int64_t i = 0; i < G * H; i++)
                    b[i] = i >= H && i < 2 * H ? 1.0f : 0.0f;
                st = clnn_tensor_write(L->params[L->nparams - 2], b, (size_t)(G * H) * sizeof *b);
                free(b);
            }
        }
    return st;
}

/* Initialisers (computed in double, stored as float):
 *   Keras glorot_uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)), fans from the Keras kernel
 *     shape (compute_fans: fan_in = shape[-2] * receptive, fan_out = shape[-1] * receptive):
 *     Dense (in, units); Conv2D (kh, kw, C/groups, filters); Conv2DTranspose (kh, kw, filters, C).
 *     Biases 0; Embedding U(-0.05, 0.05).
 *   PyTorch kaiming_uniform(a = sqrt(5)): bound = gain sqrt(3 / fan_in) with gain = sqrt(2 / (1 +
 *     a^2)) = sqrt(1/3), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = weight.size(1) *
 *     receptive of the PyTorch layout: Linear in; Conv2d C/groups kh kw; ConvTranspose2d
 *     (filters/groups) kh kw. Biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)), same fan_in. Embedding
 *     N(0, 1).
 *   Both: normalisation gamma 1, beta 0; running mean 0, running variance 1. */
static clnn_status make_params(clnn_ctx *ctx, clnn__layer *L, const int *in_ndim,
                               const int64_t (*in_shape)[CLNN_MAX_DIMS], clnn_init_style init,
                               uint64_t seed, int fill)
{
    const clnn_layer_spec *s = &L->spec;
    int keras = init != CLNN_INIT_PYTORCH;
    clnn__rng gen, *r = fill ? &gen : NULL; /* NULL: the parameters are not filled */
    clnn__rng_seed(&gen, seed);
    clnn_status st;
    int nd = in_ndim[0];
    const int64_t *in = in_shape[0];

    switch (s->kind) {
    case CLNN_LAYER_DENSE:
    case CLNN_LAYER_CONV2D:
    case CLNN_LAYER_CONV2D_TRANSPOSE: {
        int64_t w[4], b[1] = {s->units};
        int wnd;
        double fan_in, fan_out, pt_fan_in;
        if (s->kind == CLNN_LAYER_DENSE) {
            int64_t features = in[nd - 1];
            wnd = 2;
            w[0] = s->units;
            w[1] = features;
            fan_in = (double)features;
            fan_out = (double)s->units;
            pt_fan_in = (double)features;
        } else {
            double rec = (double)s->kernel_h * s->kernel_w, c = (double)in[0];
            wnd = 4;
            w[2] = s->kernel_h;
            w[3] = s->kernel_w;
            if (s->kind == CLNN_LAYER_CONV2D) {
                w[0] = s->units;
                w[1] = in[0] / s->groups;
                fan_in = rec * (c / s->groups);
                fan_out = rec * s->units;
            } else {
                w[0] = in[0];
                w[1] = s->units / s->groups;
                fan_in = rec * s->units;
                fan_out = rec * c;
            }
            pt_fan_in = rec * (double)w[1];
        }
        double wb = keras ? sqrt(6.0 / (fan_in + fan_out)) : 1.0 / sqrt(pt_fan_in);
        if ((st = add_param(ctx, L, "weight", wnd, w, 1, r, INIT_UNIFORM, wb)))
            return st;
        if (s->use_bias) {
            if (keras)
                st = add_param(ctx, L, "bias", 1, b, 1, r, INIT_CONST, 0.0);
            else
                st = add_param(ctx, L, "bias", 1, b, 1, r, INIT_UNIFORM, 1.0 / sqrt(pt_fan_in));
        }
        return st;
    }
    case CLNN_LAYER_BATCHNORM:
    case CLNN_LAYER_LAYERNORM: {
        int64_t c[1] = {s->kind == CLNN_LAYER_BATCHNORM ? in[0] : in[nd - 1]};
        if (s->scale && (st = add_param(ctx, L, "weight", 1, c, 1, r, INIT_CONST, 1.0)))
            return st;
        if (s->center && (st = add_param(ctx, L, "bias", 1, c, 1, r, INIT_CONST, 0.0)))
            return st;
        if (s->kind == CLNN_LAYER_BATCHNORM &&
            ((st = add_param(ctx, L, "running_mean", 1, c, 0, r, INIT_CONST, 0.0)) ||
             (st = add_param(ctx, L, "running_var", 1, c, 0, r, INIT_CONST, 1.0))))
            return st;
        return CLNN_OK;
    }
    case CLNN_LAYER_LSTM:
    case CLNN_LAYER_GRU:
    case CLNN_LAYER_SIMPLE_RNN:
        return make_rnn_params(ctx, L, in[nd - 1], keras, r);
    case CLNN_LAYER_EMBEDDING: {
        int64_t w[2] = {s->input_dim, s->units};
        return keras ? add_param(ctx, L, "weight", 2, w, 1, r, INIT_UNIFORM, 0.05)
                     : add_param(ctx, L, "weight", 2, w, 1, r, INIT_NORMAL, 0.0);
    }
    default:
        return CLNN_OK;
    }
}

clnn_status clnn__layer_build(clnn_ctx *ctx, clnn__layer *L, int nin, const clnn_dtype *in_dtype,
                              const int *in_ndim, const int64_t (*in_shape)[CLNN_MAX_DIMS],
                              clnn_init_style init, uint64_t seed, int fill)
{
    if (!ctx)
        return CLNN_ERR_INVALID;
    if (!L)
        return clnn__fail(ctx, CLNN_ERR_INVALID, "clnn__layer_build: the layer is NULL");
    if (!clnn__layer_prefix(L->spec.kind))
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "layer '%s': expected a clnn_layer_kind (%d to %d), got %d", L->spec.name,
                          (int)CLNN_LAYER_DENSE, (int)CLNN_LAYER_CONCATENATE, (int)L->spec.kind);
    if (L->built)
        return lfail(ctx, L, CLNN_ERR_STATE, "the layer is already built");
    if (init != CLNN_INIT_KERAS && init != CLNN_INIT_PYTORCH)
        return lfail(ctx, L, CLNN_ERR_INVALID,
                     "expected an init style CLNN_INIT_KERAS or CLNN_INIT_PYTORCH, got %d",
                     (int)init);
    clnn_status st = check_layer(ctx, L, nin, in_dtype, in_ndim, in_shape);
    if (st)
        return st;
    destroy_params(L);
    st = make_params(ctx, L, in_ndim, in_shape, init, seed, fill);
    if (st) {
        destroy_params(L);
        return st;
    }
    L->seed = seed;
    L->built = 1;
    return CLNN_OK;
}

/* ---- lifetime ------------------------------------------------------------------------------ */
void clnn__layer_release(clnn__layer *L)
{
    if (!L)
        return;
    if (--L->refs > 0)
        return;
    destroy_params(L);
    free(L);
}
