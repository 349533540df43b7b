/* fuzz_model_fixed.h — the one compiled model that fuzz_model loads checkpoints into, shared with
 * gen_model_corpus (which writes its checkpoints as seeds): a checkpoint only loads into a model
 * of the same architecture, layer names included, so both build it here with explicit names.
 *   x (6) -> Dense "hidden" (5, relu) -> BatchNorm "norm" -> Dropout "drop" (0.25)
 *         -> Dense "head" (3, softmax); Adam, sparse categorical cross-entropy. */
#ifndef CLNN_FUZZ_MODEL_FIXED_H
#define CLNN_FUZZ_MODEL_FIXED_H

#include <stdio.h>

#include "clnn.h"

#define FUZZ_FIXED_FEATURES 6
#define FUZZ_FIXED_CLASSES  3

static clnn_layer_spec fuzz_fixed_named(clnn_layer_spec s, const char *name)
{
    snprintf(s.name, sizeof s.name, "%s", name);
    return s;
}

/* The model, compiled; NULL (and the reason on stderr) on failure. */
static clnn_model *fuzz_fixed_model(clnn_ctx *ctx)
{
    clnn_model_options o;
    clnn_model_options_init(&o);
    o.seed = 7;
    snprintf(o.name, sizeof o.name, "fixed");
    clnn_model *m = NULL;
    if (clnn_model_create(ctx, &o, &m) != CLNN_OK) {
        fprintf(stderr, "fuzz_fixed_model: %s\n", clnn_ctx_last_error(ctx));
        return NULL;
    }
    const clnn_layer_spec layers[] = {
        fuzz_fixed_named(clnn_layer_dense(5, CLNN_ACT_RELU), "hidden"),
        fuzz_fixed_named(clnn_layer_batchnorm(), "norm"),
        fuzz_fixed_named(clnn_layer_dropout(0.25f), "drop"),
        fuzz_fixed_named(clnn_layer_dense(FUZZ_FIXED_CLASSES, CLNN_ACT_SOFTMAX), "head"),
    };
    clnn_model_input(m, "x", 1, (const int64_t[]){FUZZ_FIXED_FEATURES});
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
        clnn_model_push(m, &layers[i]);
    clnn_compile_options c;
    clnn_compile_options_init(&c, CLNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM);
    c.metrics = CLNN_METRIC_ACCURACY;
    if (clnn_model_status(m) != CLNN_OK || clnn_model_compile(m, &c) != CLNN_OK) {
        fprintf(stderr, "fuzz_fixed_model: %s\n", clnn_model_last_error(m));
        clnn_model_destroy(m);
        return NULL;
    }
    return m;
}

#endif
