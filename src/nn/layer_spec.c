/* layer_spec.c — the layer specifications of src/nn: the public clnn_layer_*() constructors
 * (every field of clnn_layer_spec at its Keras default) and each kind's Keras class name and
 * default-name prefix (clnn__layer_type, clnn__layer_prefix). What does not live here: the checks
 * of a layer's configuration and inputs, its parameters and build (layers.c), and the ops one
 * application of a layer adds to a graph (layer_forward.c). */
#include <string.h>

#include "nn.h"

/* ---- constructors -------------------------------------------------------------------------- */
static clnn_layer_spec spec_defaults(clnn_layer_kind kind)
{
    clnn_layer_spec s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.name[0] = 0;
    s.units = 0;
    s.kernel_h = s.kernel_w = 0;
    s.stride_h = s.stride_w = 1;
    s.padding = CLNN_PADDING_VALID;
    s.pad_h = s.pad_w = 0;
    s.dilation_h = s.dilation_w = 1;
    s.groups = 1;
    s.output_pad_h = s.output_pad_w = 0;
    s.activation = CLNN_ACT_NONE;
    s.alpha = 0.0f;
    s.use_bias = 1;
    s.rate = 0.0f;
    s.momentum = 0.01f; /* PyTorch's convention: Keras momentum 0.99 */
    s.eps = 1e-3f;
    s.center = s.scale = 1;
    s.input_dim = 0;
    s.padding_index = -1;
    s.ndim = 0;
    s.axis = -1;
    s.num_layers = 1;
    s.bidirectional = 0;
    s.return_sequences = 0;
    return s;
}

/* Keras's default alpha of an activation given without one */
static float default_alpha(clnn_activation act)
{
    return act == CLNN_ACT_LEAKY_RELU ? 0.3f : act == CLNN_ACT_ELU ? 1.0f : 0.0f;
}

clnn_layer_spec clnn_layer_dense(int units, clnn_activation activation)
{
    clnn_layer_spec s = spec_defaults(CLNN_LAYER_DENSE);
    s.units = units;
    s.activation = activation;
    s.alpha = default_alpha(activation);
    return s;
}

clnn_layer_spec clnn_layer_conv2d(int filters, int kernel_h, int kernel_w,
                                  clnn_activation activation)
{
    clnn_layer_spec s = spec_defaults(CLNN_LAYER_CONV2D);
    s.units = filters;
    s.kernel_h = kernel_h;
    s.kernel_w = kernel_w;
    s.activation = activation;
    s.alpha = default_alpha(activation);
    return s;
}

clnn_layer_spec clnn_layer_conv2d_transpose(int filters, int kernel_h, int kernel_w,
                                            clnn_activation activation)
{
    clnn_layer_spec s = clnn_layer_conv2d(filters, kernel_h, kernel_w, activation);
    s.kind = CLNN_LAYER_CONV2D_TRANSPOSE;
    return s;
}

static clnn_layer_spec pool_spec(clnn_layer_kind kind, int pool_h, int pool_w)
{
    clnn_layer_spec s = spec_defaults(kind);
    s.kernel_h = pool_h;
    s.kernel_w = pool_w;
    s.stride_h = s.stride_w = 0; /* the pool size, as Keras */
    return s;
}

clnn_layer_spec clnn_layer_maxpool2d(int pool_h, int pool_w)
{
    return pool_spec(CLNN_LAYER_MAXPOOL2D, pool_h, pool_w);
}

clnn_layer_spec clnn_layer_avgpool2d(int pool_h, int pool_w)
{
    return pool_spec(CLNN_LAYER_AVGPOOL2D, pool_h, pool_w);
}

clnn_layer_spec clnn_layer_global_avgpool2d(void)
{
    return spec_defaults(CLNN_LAYER_GLOBAL_AVGPOOL2D);
}

clnn_layer_spec clnn_layer_flatten(void)
{
    return spec_defaults(CLNN_LAYER_FLATTEN);
}

clnn_layer_spec clnn_layer_reshape(int ndim, const int64_t *shape)
{
    clnn_layer_spec s = spec_defaults(CLNN_LAYER_RESHAPE);
    s.ndim = ndim; /* checked by the build */
    if (shape && ndim >= 1 && ndim <= CLNN_MAX_DIMS - 1)
        memcpy(s.shape, shape, (size_t)ndim * sizeof *shape);
    return s;
}

clnn_layer_spec clnn_layer_dropout(float rate)
{
    clnn_layer_spec s = spec_defaults(CLNN_LAYER_DROPOUT);
    s.rate = rate;
    return s;
}

clnn_layer_spec clnn_layer_batchnorm(void)
{
    return spec_defaults(CLNN_LAYER_BATCHNORM);
}

clnn_layer_spec clnn_layer_layernorm(void)
{
    return spec_defaults(CLNN_LAYER_LAYERNORM);
}

clnn_layer_spec clnn_layer_activation(clnn_activation activation, float alpha)
{
    clnn_layer_spec s = spec_defaults(CLNN_LAYER_ACTIVATION);
    s.activation = activation;
    s.alpha = alpha;
    return s;
}

clnn_layer_spec clnn_layer_embedding(int input_dim, int output_dim)
{
    clnn_layer_spec s = spec_defaults(CLNN_LAYER_EMBEDDING);
    s.input_dim = input_dim;
    s.units = output_dim;
    return s;
}

clnn_layer_spec clnn_layer_add(void)
{
    return spec_defaults(CLNN_LAYER_ADD);
}

clnn_layer_spec clnn_layer_concatenate(int axis)
{
    clnn_layer_spec s = spec_defaults(CLNN_LAYER_CONCATENATE);
    s.axis = axis;
    return s;
}

static clnn_layer_spec rnn_spec(clnn_layer_kind kind, int units, int num_layers)
{
    clnn_layer_spec s = spec_defaults(kind);
    s.units = units;
    s.num_layers = num_layers;
    if (kind == CLNN_LAYER_SIMPLE_RNN)
        s.activation = CLNN_ACT_TANH;
    return s;
}

clnn_layer_spec clnn_layer_lstm(int units, int num_layers)
{
    return rnn_spec(CLNN_LAYER_LSTM, units, num_layers);
}

clnn_layer_spec clnn_layer_gru(int units, int num_layers)
{
    return rnn_spec(CLNN_LAYER_GRU, units, num_layers);
}

clnn_layer_spec clnn_layer_simple_rnn(int units, int num_layers)
{
    return rnn_spec(CLNN_LAYER_SIMPLE_RNN, units, num_layers);
}

/* ---- names --------------------------------------------------------------------------------- */
typedef struct kind_names {
    const char *type, *prefix;
} kind_names;

static const kind_names NAMES[] = {
    [CLNN_LAYER_DENSE] = {"Dense", "dense"},
    [CLNN_LAYER_CONV2D] = {"Conv2D", "conv2d"},
    [CLNN_LAYER_CONV2D_TRANSPOSE] = {"Conv2DTranspose", "conv2d_transpose"},
    [CLNN_LAYER_MAXPOOL2D] = {"MaxPooling2D", "max_pooling2d"},
    [CLNN_LAYER_AVGPOOL2D] = {"AveragePooling2D", "average_pooling2d"},
    [CLNN_LAYER_GLOBAL_AVGPOOL2D] = {"GlobalAveragePooling2D", "global_average_pooling2d"},
    [CLNN_LAYER_FLATTEN] = {"Flatten", "flatten"},
    [CLNN_LAYER_RESHAPE] = {"Reshape", "reshape"},
    [CLNN_LAYER_DROPOUT] = {"Dropout", "dropout"},
    [CLNN_LAYER_BATCHNORM] = {"BatchNormalization", "batch_normalization"},
    [CLNN_LAYER_LAYERNORM] = {"LayerNormalization", "layer_normalization"},
    [CLNN_LAYER_ACTIVATION] = {"Activation", "activation"},
    [CLNN_LAYER_EMBEDDING] = {"Embedding", "embedding"},
    [CLNN_LAYER_ADD] = {"Add", "add"},
    [CLNN_LAYER_CONCATENATE] = {"Concatenate", "concatenate"},
    [CLNN_LAYER_LSTM] = {"LSTM", "lstm"},
    [CLNN_LAYER_GRU] = {"GRU", "gru"},
    [CLNN_LAYER_SIMPLE_RNN] = {"SimpleRNN", "simple_rnn"},
};
#define NKINDS ((int)(sizeof NAMES / sizeof NAMES[0]))

const char *clnn__layer_type(clnn_layer_kind kind)
{
    return (int)kind >= 1 && (int)kind < NKINDS ? NAMES[kind].type : NULL;
}

const char *clnn__layer_prefix(clnn_layer_kind kind)
{
    return (int)kind >= 1 && (int)kind < NKINDS ? NAMES[kind].prefix : NULL;
}
