/* layer_forward.c — the ops one application of a layer adds to a graph (clnn__layer_forward):
 * dense, convolution and transposed convolution (bias and activation in the conv's epilogue when
 * it has one), pooling, reshapes, dropout, normalisations, embeddings, merges and the recurrent
 * layers (num_layers layers of one or two directions, PyTorch's parameter order). It reads the
 * layer's spec and its bound parameters only. What does not live here: the constructors and kind
 * names (layer_spec.c), the checks of a layer's configuration and inputs, its parameters and build
 * (layers.c), and the graph of layer applications (model.c). */
#include <string.h>

#include "nn.h"

/* ---- forward ------------------------------------------------------------------------------- */
static clnn_tensor *conv_forward(clnn_graph *g, const clnn__layer *L, clnn_tensor *x,
                                 clnn_tensor *const *p)
{
    const clnn_layer_spec *s = &L->spec;
    clnn_conv2d_options o;
    clnn_conv2d_options_init(&o);
    o.stride_h = s->stride_h;
    o.stride_w = s->stride_w;
    o.padding = s->padding;
    o.pad_h = s->pad_h;
    o.pad_w = s->pad_w;
    o.dilation_h = s->dilation_h;
    o.dilation_w = s->dilation_w;
    o.groups = s->groups;
    clnn_tensor *y;
    if (s->kind == CLNN_LAYER_CONV2D_TRANSPOSE) {
        o.output_pad_h = s->output_pad_h;
        o.output_pad_w = s->output_pad_w;
        y = clnn_conv2d_transpose(g, x, p[0], NULL, &o);
    } else if (clnn__act_epilogue(s->activation, s->alpha)) {
        /* bias and activation in the conv's epilogue */
        return clnn__conv2d_act(g, x, p[0], s->use_bias ? p[1] : NULL, &o, s->activation, s->alpha);
    } else {
        y = clnn_conv2d(g, x, p[0], NULL, &o);
    }
    if (!y)
        return NULL;
    if (s->use_bias) /* bias_act runs a softmax over the bias axis (the channels) */
        return clnn_bias_act(g, y, p[1], 1, s->activation, s->alpha);
    if (s->activation == CLNN_ACT_SOFTMAX)
        return clnn_softmax(g, y, 1);
    return clnn_activate(g, y, s->activation, s->alpha);
}

static clnn_tensor *pool_forward(clnn_graph *g, const clnn__layer *L, clnn_tensor *x)
{
    const clnn_layer_spec *s = &L->spec;
    clnn_pool2d_options o;
    clnn_pool2d_options_init(&o, s->kernel_h, s->kernel_w);
    o.stride_h = s->stride_h;
    o.stride_w = s->stride_w;
    o.padding = s->padding;
    o.pad_h = s->pad_h;
    o.pad_w = s->pad_w;
    if (s->padding == CLNN_PADDING_SAME)
        o.count_include_pad = 0; /* Keras "same" averages over the window inside the input */
    return s->kind == CLNN_LAYER_MAXPOOL2D ? clnn_maxpool2d(g, x, &o) : clnn_avgpool2d(g, x, &o);
}

/* num_layers layers of one or two directions (clnn_rnn), PyTorch's parameter order (see
 * make_rnn_params); dropout between layers; the output sequence or the final hidden state, each
 * direction's taken at each sequence's own last real step. */
static clnn_tensor *rnn_forward(clnn_graph *g, const clnn__layer *L, clnn_tensor *x,
                                clnn_tensor *ids, clnn_tensor *const *p)
{
    const clnn_layer_spec *s = &L->spec;
    const int dirs = 1 + (s->bidirectional != 0), per = s->use_bias ? 4 : 2;
    const int64_t H = s->units;
    clnn_rnn_mode mode = s->kind == CLNN_LAYER_LSTM       ? CLNN_RNN_LSTM
                         : s->kind == CLNN_LAYER_GRU      ? CLNN_RNN_GRU
                         : s->activation == CLNN_ACT_RELU ? CLNN_RNN_RELU
                                                          : CLNN_RNN_TANH;
    clnn_tensor *lengths = ids ? clnn_sequence_lengths(g, ids, 0) : NULL;
    clnn_tensor *seq = x, *h[2] = {NULL, NULL};
    for (int l = 0; l < s->num_layers && seq; l++) {
        for (int d = 0; d < dirs; d++) {
            clnn_tensor *const *q = p + (size_t)(l * dirs + d) * (size_t)per;
            clnn_tensor *out = clnn_rnn(g, mode, seq, q[0], q[1], s->use_bias ? q[2] : NULL,
                                        s->use_bias ? q[3] : NULL, NULL, NULL, lengths, d);
            h[d] = mode == CLNN_RNN_LSTM ? clnn_slice(g, out, 2, 0, H, 1) : out;
        }
        seq = dirs == 2 ? clnn_concat(g, 2, h, 2) : h[0];
        if (l + 1 < s->num_layers && s->rate > 0)
            seq = clnn_dropout(g, seq, s->rate, L->seed + (uint64_t)l * 0x9e3779b97f4a7c15ull);
    }
    if (!seq || s->return_sequences)
        return seq;
    clnn_tensor *last[2];
    for (int d = 0; d < dirs; d++)
        last[d] = clnn_rnn_last(g, h[d], lengths, d);
    return dirs == 2 ? clnn_concat(g, 2, last, 1) : last[0];
}

clnn_tensor *clnn__layer_forward(clnn_graph *g, const clnn__layer *L, int nin,
                                 clnn_tensor *const *x, clnn_tensor *const *p)
{
    if (!g || !L || !x || nin < 1)
        return NULL;
    const clnn_layer_spec *s = &L->spec;
    clnn_tensor *y = NULL, *x0 = x[0];

    switch (s->kind) {
    case CLNN_LAYER_DENSE:
        y = clnn_linear(g, x0, p[0], s->use_bias ? p[1] : NULL, s->activation, s->alpha);
        break;
    case CLNN_LAYER_CONV2D:
    case CLNN_LAYER_CONV2D_TRANSPOSE:
        y = conv_forward(g, L, x0, p);
        break;
    case CLNN_LAYER_MAXPOOL2D:
    case CLNN_LAYER_AVGPOOL2D:
        y = pool_forward(g, L, x0);
        break;
    case CLNN_LAYER_GLOBAL_AVGPOOL2D:
        y = clnn_global_avgpool2d(g, x0);
        break;
    case CLNN_LAYER_FLATTEN:
        y = clnn_flatten(g, x0);
        break;
    case CLNN_LAYER_RESHAPE: {
        int64_t shape[CLNN_MAX_DIMS];
        int nd = s->ndim;
        if (!x0)
            return NULL;
        if (nd < 1 || nd > CLNN_MAX_DIMS - 1) {
            clnn__graph_fail(g, CLNN_ERR_INVALID,
                             "reshape '%s': expected a target shape of 1 to %d dimensions, got %d",
                             s->name, CLNN_MAX_DIMS - 1, nd);
            return NULL;
        }
        shape[0] = clnn_tensor_dim(x0, 0);
        memcpy(shape + 1, s->shape, (size_t)nd * sizeof *shape);
        y = clnn_reshape(g, x0, nd + 1, shape);
        break;
    }
    case CLNN_LAYER_DROPOUT:
        y = s->rate == 0.0f ? x0 : clnn_dropout(g, x0, s->rate, L->seed);
        break;
    case CLNN_LAYER_BATCHNORM: {
        int k = 0;
        clnn_tensor *gamma = s->scale ? p[k++] : NULL;
        clnn_tensor *beta = s->center ? p[k++] : NULL;
        clnn_tensor *mean = p[k++], *var = p[k++];
        clnn_batchnorm_options o;
        clnn_batchnorm_options_init(&o);
        o.momentum = s->momentum;
        o.eps = s->eps;
        o.unbiased_running_var = 0; /* Keras keeps the biased batch variance */
        y = clnn_batchnorm(g, x0, gamma, beta, mean, var, &o);
        break;
    }
    case CLNN_LAYER_LAYERNORM: {
        int k = 0;
        clnn_tensor *gamma = s->scale ? p[k++] : NULL;
        clnn_tensor *beta = s->center ? p[k++] : NULL;
        y = clnn_layernorm(g, x0, 1, gamma, beta, s->eps);
        break;
    }
    case CLNN_LAYER_ACTIVATION:
        y = s->activation == CLNN_ACT_SOFTMAX ? clnn_softmax(g, x0, -1)
                                              : clnn_activate(g, x0, s->activation, s->alpha);
        break;
    case CLNN_LAYER_EMBEDDING:
        y = clnn_embedding(g, x0, p[0], s->padding_index);
        break;
    case CLNN_LAYER_LSTM:
    case CLNN_LAYER_GRU:
    case CLNN_LAYER_SIMPLE_RNN:
        y = rnn_forward(g, L, x0, nin > 1 ? x[1] : NULL, p);
        break;
    case CLNN_LAYER_ADD:
        y = x0;
        for (int i = 1; i < nin && y; i++)
            y = clnn_add(g, y, x[i]);
        break;
    case CLNN_LAYER_CONCATENATE:
        /* spec.axis counts without the batch axis; negative axes count from the end alike */
        y = clnn_concat(g, nin, x, s->axis < 0 ? s->axis : s->axis + 1);
        break;
    default:
        clnn__graph_fail(g, CLNN_ERR_INVALID, "layer '%s': unknown layer kind %d", s->name,
                         (int)s->kind);
        return NULL;
    }
    if (!y)
        return NULL;
    for (int i = 0; i < nin; i++)
        if (y == x[i])
            return y; /* an identity (Activation NONE, Dropout 0): keep the input's name */
    return clnn_tensor_set_name(y, s->name);
}
