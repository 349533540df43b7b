/* graphs.c — the device graphs of a compiled model, one per (use, batch size): training (the
 * loss, its backward, the optimizer attached), evaluation, prediction and a training-mode forward
 * pass, each binding the model's parameter tensors; made on first use and kept in a few slots
 * with least-recently-used eviction. Running them, and feeding them batches, is in train.c and
 * feed.c. */
#include <stdlib.h>
#include <string.h>

#include "train.h"

static clnn_status build_graph(clnn_model *m, clnn__mgraph *mg, clnn__gkind kind, int64_t n)
{
    clnn_graph *g;
    clnn_status st = clnn_graph_create(m->ctx, &g);
    if (st)
        return st;
    clnn_tensor **t = calloc((size_t)m->nnodes, sizeof *t);
    clnn_tensor **bound = calloc((size_t)m->nlayers * CLNN__LAYER_MAX_PARAMS, sizeof *bound);
    if (!t || !bound) {
        free(t);
        free(bound);
        clnn_graph_destroy(g);
        return clnn__fail(m->ctx, CLNN_ERR_NOMEM, "model: out of host memory");
    }
    const int train = kind == CLNN__G_TRAIN;
    for (int i = 0; i < m->nnodes && !clnn_graph_status(g); i++) {
        const clnn__mnode *nd = &m->nodes[i];
        int64_t shape[CLNN_MAX_DIMS];
        shape[0] = n;
        memcpy(shape + 1, nd->shape, (size_t)nd->ndim * sizeof *shape);
        if (nd->layer < 0) {
            t[i] = nd->dtype == CLNN_I32 ? clnn_input_i32(g, nd->name, nd->ndim + 1, shape)
                                         : clnn_input(g, nd->name, nd->ndim + 1, shape);
            continue;
        }
        const clnn__layer *L = m->layers[nd->layer];
        clnn_tensor **p = bound + (size_t)nd->layer * CLNN__LAYER_MAX_PARAMS;
        int trainable = m->trainable_at_compile ? m->trainable_at_compile[nd->layer] : 0;
        for (int k = 0; k < L->nparams; k++)
            if (!p[k])
                p[k] =
                    clnn_graph_bind(g, L->params[k], train && trainable && L->param_trainable[k]);
        clnn_tensor *x[CLNN__LAYER_MAX_INPUTS];
        for (int k = 0; k < nd->nin; k++)
            x[k] = t[nd->in[k]];
        t[i] = clnn__layer_forward(g, L, nd->nin, x, p);
    }
    clnn__mgraph r = {g, kind, n, 0, NULL, NULL, NULL, NULL};
    if (!clnn_graph_status(g)) {
        r.x = t[m->inputs[0]];
        r.output = clnn_graph_keep(g, t[m->output]);
    }
    free(t);
    free(bound);
    if (kind != CLNN__G_PREDICT && kind != CLNN__G_FORWARD_TRAIN && r.output) {
        const clnn__mnode *o = &m->nodes[m->output];
        int64_t shape[CLNN_MAX_DIMS];
        shape[0] = n;
        memcpy(shape + 1, o->shape, (size_t)o->ndim * sizeof *shape);
        if (clnn__target_is_labels(m))
            r.target = clnn_input_i32(g, "labels", 1, &n);
        else
            r.target = clnn_input(g, "targets", o->ndim + 1, shape);
        switch (m->c.loss) {
        case CLNN_LOSS_CATEGORICAL_CROSSENTROPY:
        case CLNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY:
            r.loss = clnn_categorical_crossentropy(g, r.output, r.target, CLNN_REDUCTION_MEAN);
            break;
        case CLNN_LOSS_CROSS_ENTROPY:
            r.loss = clnn_cross_entropy(g, r.output, r.target, CLNN_REDUCTION_MEAN,
                                        m->c.label_smoothing);
            break;
        case CLNN_LOSS_MSE:
            r.loss = clnn_mse_loss(g, r.output, r.target, CLNN_REDUCTION_MEAN);
            break;
        case CLNN_LOSS_BINARY_CROSSENTROPY:
            r.loss = clnn_binary_crossentropy(g, r.output, r.target, CLNN_REDUCTION_MEAN);
            break;
        case CLNN_LOSS_BINARY_CROSSENTROPY_LOGITS:
            r.loss = clnn_binary_crossentropy_logits(g, r.output, r.target, CLNN_REDUCTION_MEAN);
            break;
        }
        clnn_tensor_set_name(r.loss, "loss");
        clnn_graph_keep(g, r.loss);
    }
    if (kind != CLNN__G_TRAIN && kind != CLNN__G_FORWARD_TRAIN)
        clnn_graph_set_training(g, 0);
    st = clnn_graph_status(g);
    if (st == CLNN_OK && train) {
        int trainable = 0;
        for (size_t i = 0; i < g->nnodes; i++)
            trainable |= g->nodes[i]->kind == CLNN__BOUND && g->nodes[i]->requires_grad;
        if (!trainable)
            st = clnn__fail(m->ctx, CLNN_ERR_STATE,
                            "model: nothing to train: every layer is frozen or has no parameters "
                            "(frozen layers are captured at compile)");
    }
    if (st == CLNN_OK && train)
        st = clnn_graph_backward(g, r.loss);
    if (st == CLNN_OK && train) {
        if (!m->opt) {
            st = clnn_optimizer_create(g, &m->c.optimizer, &m->opt);
            if (st == CLNN_OK)
                st = clnn__model_apply_pending_opt(m);

        } else {
            st = clnn__optimizer_attach(m->opt, g);
        }
    }
    if (st == CLNN_OK)
        st = clnn_graph_plan(g);
    if (st) {
        const char *msg = clnn_graph_status(g) ? clnn_graph_last_error(g) : NULL;
        if (msg)
            clnn__fail(m->ctx, st, "model: building the graph for batch %lld: %s", (long long)n,
                       msg);
        clnn_graph_destroy(g);
        return st;
    }
    *mg = r;
    return CLNN_OK;
}

/* The graph of (kind, n), made on first use; the least recently used one is dropped when all
 * slots are taken (never the training graph the optimizer is attached to). */
clnn_status clnn__model_get_graph(clnn_model *m, clnn__gkind kind, int64_t n, clnn__mgraph **out)
{
    clnn__mgraph *slot = NULL;
    for (int i = 0; i < CLNN__MODEL_GRAPHS; i++) {
        clnn__mgraph *mg = &m->graphs[i];
        if (mg->g && mg->kind == kind && mg->batch == n) {
            mg->used = ++m->clock;
            *out = mg;
            return CLNN_OK;
        }
    }
    for (int i = 0; i < CLNN__MODEL_GRAPHS && !slot; i++)
        if (!m->graphs[i].g)
            slot = &m->graphs[i];
    for (int i = 0; i < CLNN__MODEL_GRAPHS && !slot; i++) {
        clnn__mgraph *mg = &m->graphs[i];
        if (!slot || mg->used < slot->used)
            slot = mg;
    }
    if (slot->g) {
        if (slot->kind == CLNN__G_TRAIN && m->opt) {
            /* the optimizer may point at it: re-attached before its next step (attach keeps the
             * optimizer's state and needs only the caller-owned parameters) */
            clnn__optimizer_detach(m->opt);
        }
        clnn_graph_destroy(slot->g);
        memset(slot, 0, sizeof *slot);
    }
    clnn_status st = build_graph(m, slot, kind, n);
    if (st)
        return st;
    slot->used = ++m->clock;
    *out = slot;
    return CLNN_OK;
}
