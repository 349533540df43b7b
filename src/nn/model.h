/* model.h — the model structure shared by model.c (building, parameters, summary), persist.c
 * (save, load, checkpoints) and the training files: train.c (compile, evaluate, predict), fit.c
 * (fit) and the files split off them, graphs.c (the per-batch-size device graphs), feed.c (batch staging),
 * history.c and others, whose own shared declarations are in train.h. */
#ifndef CLNN_MODEL_H
#define CLNN_MODEL_H

#include "nn.h"

#define CLNN__MODEL_MAX_INPUTS 8
#define CLNN__MODEL_GRAPHS     6 /* device graphs kept (full and last partial batch per use) */

/* One node of the model: an input (layer -1) or an application of layers[layer] to nodes in[]. */
typedef struct clnn__mnode {
    int layer;
    int nin;
    int in[CLNN__LAYER_MAX_INPUTS];
    clnn_dtype dtype;
    int ndim; /* the value's shape without the batch axis */
    int64_t shape[CLNN_MAX_DIMS];
    char name[48];
} clnn__mnode;

/* training (loss, backward), evaluation (loss), prediction and a training-mode forward pass */
typedef enum clnn__gkind {
    CLNN__G_TRAIN,
    CLNN__G_EVAL,
    CLNN__G_PREDICT,
    CLNN__G_FORWARD_TRAIN
} clnn__gkind;

/* A device graph of the model for one batch size and use. */
typedef struct clnn__mgraph {
    clnn_graph *g; /* NULL: free slot */
    clnn__gkind kind;
    int64_t batch;
    uint64_t used; /* for least-recently-used eviction */
    clnn_tensor *x, *target, *output, *loss;
} clnn__mgraph;

struct clnn_model {
    clnn_ctx *ctx;
    clnn_model_options o;
    clnn_status status; /* first builder error, sticky */
    char error[512];
    clnn__mnode *nodes;
    int nnodes;
    size_t nodes_cap;
    clnn__layer **layers; /* each layer once, in order of first application; one reference each */
    int nlayers;
    size_t layers_cap;
    int inputs[CLNN__MODEL_MAX_INPUTS];
    int ninputs;
    int output;
    int chain; /* 1 while the model is a Sequential chain (summary without "Connected to") */
    clnn__rng init_gen;
    clnn_graph *shape_graph; /* batch 2: the shapes of every node */
    clnn_tensor **shape_t;
    size_t shape_t_cap;
    /* compile (train.c) */
    int compiled;
    clnn_compile_options c;
    unsigned char *trainable_at_compile; /* per layer */
    clnn_optimizer *opt;
    clnn__mgraph graphs[CLNN__MODEL_GRAPHS]; /* graphs.c */
    uint64_t clock;
    float *stage_x, *stage_t, *stage_out; /* host staging of one batch (feed.c) */
    int32_t *stage_xi, *stage_l;
    size_t stage_cap_x, stage_cap_t, stage_cap_out, stage_cap_xi, stage_cap_l; /* elements */
    cl_event stage_done;  /* the last upload from the staging buffers, while it may be pending */
    clnn_history history; /* history.c */
    size_t history_cap;   /* rows allocated */
    uint64_t train_steps; /* training steps done: the dropout counter of every training graph */
    char **meta;          /* user metadata: key, value pairs (2 nmeta strings) */
    int nmeta;
    float *dist_buf; /* fit over MPI (fit_dist.c): the host copy of every gradient (+ the loss) */
    size_t dist_cap; /* floats */
    struct clnn__pending_opt *pending_opt; /* optimizer state of a checkpoint, applied when the
                                            * optimizer is made (persist.c) */
    int no_init; /* 1 while clnn_model_load rebuilds the model: layers get parameters without
                  * initial values (the file's are written next) */
};

/* persist.c: puts the optimizer state of a loaded checkpoint into the optimizer just made. */
clnn_status clnn__model_apply_pending_opt(clnn_model *m);
void clnn__model_free_pending_opt(clnn_model *m);

/* Records the model's first error (also the context's last error); returns -1. */
int clnn__model_fail(clnn_model *m, clnn_status st, const char *fmt, ...) CLNN__PRINTF(3, 4);
/* Drops the compiled state: device graphs, optimizer, staging (the model must be compiled
 * again). */
void clnn__model_invalidate(clnn_model *m);

#endif
