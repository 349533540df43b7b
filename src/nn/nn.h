/* nn.h — what src/nn shares between the layer kinds (layer_spec.c: the constructors and kind
 * names; layers.c: checks, parameter shapes, initialisers, build; layer_forward.c: the ops each
 * layer adds) and model.c (the graph of layer applications, compile, fit, evaluate, predict,
 * summary, history). Nothing here is exported. */
#ifndef CLNN_NN_H
#define CLNN_NN_H

#include "../core/internal.h"

#define CLNN__LAYER_MAX_PARAMS 64 /* 8 bidirectional recurrent layers x 4 tensors */
#define CLNN__LAYER_MAX_INPUTS 8

typedef struct clnn__layer {
    int refs;             /* models that use the layer (clnn_model_apply_model shares it) */
    clnn_layer_spec spec; /* with its final name */
    int trainable;        /* 1 */
    int built;            /* parameters made (on the first application) */
    int nparams;
    clnn_tensor *params[CLNN__LAYER_MAX_PARAMS]; /* caller-owned tensors (clnn_tensor_create),
                                                  * named "<layer>.weight", ".bias", ... */
    int param_trainable[CLNN__LAYER_MAX_PARAMS]; /* 0 for running statistics */
    uint64_t seed;                               /* dropout */
} clnn__layer;

/* Keras's class name ("Conv2D") and the prefix of default names ("conv2d"); NULL for a kind
 * that does not exist. */
const char *clnn__layer_type(clnn_layer_kind kind);
const char *clnn__layer_prefix(clnn_layer_kind kind);

/* Checks L->spec (ranges of every field the kind uses) and the number, dtypes and shapes of its
 * inputs (batch axis excluded: in_shape[i][0 .. in_ndim[i]-1]), then makes and initialises the
 * parameters (style init, random numbers from seed alone) and sets L->built. in_dtype[i] is
 * CLNN_F32 or CLNN_I32. fill 0 makes the parameters without initial values, for a caller that
 * writes every one (clnn_model_load): no host work in proportion to their size. Errors go to
 * clnn__fail(ctx, ...) with a message naming the layer ("conv2d 'conv2d_1': expected an input
 * (C, H, W), got (784)"); on error no parameter is left. */
clnn_status clnn__layer_build(clnn_ctx *ctx, clnn__layer *L, int nin, const clnn_dtype *in_dtype,
                              const int *in_ndim, const int64_t (*in_shape)[CLNN_MAX_DIMS],
                              clnn_init_style init, uint64_t seed, int fill);

/* Adds the layer's ops to g. x[i]: graph tensors with the batch axis first; p[i]: L->params[i]
 * bound into g (clnn_graph_bind). Returns the output, or NULL with the error on the graph. */
clnn_tensor *clnn__layer_forward(clnn_graph *g, const clnn__layer *L, int nin,
                                 clnn_tensor *const *x, clnn_tensor *const *p);

/* Drops one reference; the last one destroys the parameters and the layer. NULL is a no-op. */
void clnn__layer_release(clnn__layer *L);

#endif
