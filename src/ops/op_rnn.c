/* op_rnn.c — recurrent layers (kernels/rnn.cl): one layer, one direction, PyTorch's semantics and
 * parameter layout (see clnn.h). Ops:
 *   rnn        (x, w_ih, w_hh [, b_ih, b_hh, h0, c0, lengths]) -> y (N, T, H) or LSTM (N, T, 2H).
 *              emit: rnn_init (state slot 0), ONE GEMM x (N T, I) W_ih^T for all steps into the
 *              scratch, W_hh^T into the scratch once per run (rnn_transpose; for the own
 *              SGEMM straight into its panels, clnn__gemm_pack_b: CLBlast would otherwise
 *              transpose it inside every step's GEMM, ~3x slower on POCL), then per
 *              step ONE GEMM h_s W_hh^T (N, GH) and ONE fused gate kernel
 *              (biases, activations, state update, length masking, the output step; the gate
 *              activations replace the projection in the scratch for the backward pass).
 *   rnn_bwd    (y, dy, w_hh [, lengths]) -> dG (N, T, GH): the pre-activation gradients of the
 *              ih side, by backpropagation through time: per step (s = T-1 .. 0) one fused gate-
 *              backward kernel and one GEMM d h_{s} += dGh_s W_hh. Its scratch keeps dGh
 *              (T, N, GH) in step order (for GRU the n block is r dn), d h0 / d c0 and, for
 *              the own SGEMM, W_hh in its panels (packed once per run).
 *   then dx = dG W_ih (matmul), dW_ih = dG^T x (matmul), db_ih = sum(dG) (sum), and three small
 *   ops that read the scratch of rnn_bwd and rnn the way maxpool2d_bwd reads the argmax:
 *   rnn_dw_hh  (bwd, y) -> (GH, H) = dGh^T (T N, GH)^T hist (T N, H): one GEMM
 *   rnn_db_hh  (bwd) -> (GH): column sums of dGh (rnn_colsum, in a fixed order)
 *   rnn_dstate (bwd) -> (N, H): d h0 or d c0 (a copy)
 *   rnn_last   (seq [, lengths]) -> (N, F) gather of the last real step; rnn_last_bwd scatters.
 * Everything is enqueued: no host synchronisation inside the sequence. Lengths are read on the
 * device (clamped to [0, T]); padded steps give zero output, keep the state and pass the state
 * gradient through. Deterministic: no atomics. */
#include <stdio.h>

#include "ops_util.h"

typedef struct rnn_params {
    int mode, reverse;
    int N, T, I, H, G;
    int ix_bih, ix_bhh, ix_h0, ix_c0, ix_len; /* src indices of the forward node, or -1 */
    int bwd_len;                              /* rnn_bwd: src index of lengths, or -1 */
    int which;                                /* rnn_dstate: 0 d h0, 1 d c0 */
} rnn_params;

typedef struct rnn_last_params {
    int reverse, has_len, T;
} rnn_last_params;

static const char *const mode_names[] = {"RNN_TANH", "RNN_RELU", "LSTM", "GRU"};

/* scratch offsets in floats */
typedef struct fwd_layout {
    int64_t xp, gh, hist, chist, ghn, whh_t, total;
} fwd_layout;

typedef struct bwd_layout {
    int64_t dgh, dh, dc, whh_p, total;
} bwd_layout;

/* Floats of W_hh^T (H, GH) transposed, or in the own SGEMM's panels (more where GH is not a
 * multiple of 32) */
static int64_t whh_room(int64_t rows, int64_t cols)
{
    return (int64_t)clnn__gemm_panel_floats((size_t)rows, (size_t)cols);
}

static fwd_layout layout_fwd(const rnn_params *p)
{
    int64_t N = p->N, T = p->T, H = p->H, GH = (int64_t)p->G * p->H;
    fwd_layout l;
    l.xp = 0;
    l.gh = N * T * GH;
    l.hist = l.gh + N * GH;
    l.chist = l.hist + (T + 1) * N * H;
    l.ghn = l.chist + (p->mode == CLNN_RNN_LSTM ? (T + 1) * N * H : 0);
    l.whh_t = l.ghn + (p->mode == CLNN_RNN_GRU ? N * T * H : 0);
    l.total = l.whh_t + whh_room(H, GH);
    return l;
}

static bwd_layout layout_bwd(const rnn_params *p)
{
    int64_t N = p->N, T = p->T, H = p->H, GH = (int64_t)p->G * p->H;
    bwd_layout l;
    l.dgh = 0;
    l.dh = T * N * GH;
    l.dc = l.dh + 2 * N * H;
    l.whh_p = l.dc + (p->mode == CLNN_RNN_LSTM ? 2 * N * H : 0);
    l.total = l.whh_p + whh_room(GH, H);
    return l;
}

static clnn_status ensure_scratch(clnn_tensor *node, int64_t floats)
{
    if (node->scratch)
        return CLNN_OK;
    cl_int err;
    node->scratch =
        clCreateBuffer(node->ctx->context, CL_MEM_READ_WRITE,
                       (size_t)(floats > 0 ? floats : 1) * sizeof(cl_float), NULL, &err);
    if (err != CL_SUCCESS) {
        node->scratch = NULL;
        return clnn__cl_fail(node->ctx, err, "clCreateBuffer for the scratch of '%s'", node->name);
    }
    return CLNN_OK;
}

static clnn_status set_arg(clnn_tensor *node, cl_kernel k, cl_uint index, size_t size,
                           const void *value)
{
    cl_int err = clSetKernelArg(k, index, size, value);
    return err == CL_SUCCESS
               ? CLNN_OK
               : clnn__cl_fail(node->ctx, err, "clSetKernelArg %u for '%s'", index, node->name);
}

static clnn_status forget_kernel(clnn_tensor *node, int i, clnn_status st)
{
    clReleaseKernel(node->kernels[i]);
    node->kernels[i] = NULL;
    return st;
}

static clnn_status enqueue_n(clnn_tensor *node, cl_kernel k, int64_t n)
{
    size_t global = (size_t)n, local = 64;
    return clnn__enqueue(node, k, 1, &global, &local);
}

/* The work-items of rnn_fwd_step / rnn_bwd_step: 16 consecutive j of one sample each (rnn.cl's
 * RNN_W) */
static int64_t step_items(const rnn_params *p)
{
    return (int64_t)p->N * ((p->H + 15) / 16);
}

/* a tensor's (buffer, offset), or (fallback, 0) when absent */
static void buf_of(const clnn_tensor *t, cl_mem fallback, cl_mem *mem, int *off)
{
    *mem = t ? t->storage->mem : fallback;
    *off = t ? (int)t->offset : 0;
}

/* ---- rnn: forward -------------------------------------------------------------------------- */
static const clnn_tensor *opt_src(const clnn_tensor *node, int ix)
{
    return ix >= 0 ? node->src[ix] : NULL;
}

static clnn_status check_f32(clnn_graph *g, const char *what, const clnn_tensor *t)
{
    if (t && t->dtype != CLNN_F32)
        return clnn__graph_fail(g, CLNN_ERR_INVALID, "rnn: expected an f32 %s, '%s' is not", what,
                                t->name);
    return CLNN_OK;
}

static clnn_status check_shape(clnn_graph *g, const char *op, const char *what,
                               const clnn_tensor *t, int ndim, const int64_t *want,
                               const char *meaning)
{
    if (!t || clnn__same_shape(
                  t, &(clnn_tensor){.ndim = ndim, .shape = {want[0], ndim > 1 ? want[1] : 0}}))
        return CLNN_OK;
    char a[128], b[128];
    return clnn__graph_fail(g, CLNN_ERR_SHAPE, "%s: expected %s of shape %s %s, got '%s' %s", op,
                            what, clnn__shape_str(ndim, want, a, sizeof a), meaning, t->name,
                            clnn__shape_str(t->ndim, t->shape, b, sizeof b));
}

static clnn_status check_lengths(clnn_graph *g, const char *op, const clnn_tensor *len, int64_t N)
{
    if (!len)
        return CLNN_OK;
    char s[128];
    if (len->dtype != CLNN_I32)
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "%s: expected i32 lengths (clnn_input_i32), got '%s' of another "
                                "dtype",
                                op, len->name);
    if (len->ndim != 1 || len->shape[0] != N)
        return clnn__graph_fail(
            g, CLNN_ERR_SHAPE, "%s: expected lengths of shape (%lld,) (N), got '%s' %s", op,
            (long long)N, len->name, clnn__shape_str(len->ndim, len->shape, s, sizeof s));
    return CLNN_OK;
}

static clnn_status infer_rnn(clnn_graph *g, clnn_tensor *y)
{
    rnn_params *p = CLNN__PARAMS(y, rnn_params);
    const clnn_tensor *x = y->src[0], *wih = y->src[1], *whh = y->src[2];
    const clnn_tensor *bih = opt_src(y, p->ix_bih), *bhh = opt_src(y, p->ix_bhh);
    const clnn_tensor *h0 = opt_src(y, p->ix_h0), *c0 = opt_src(y, p->ix_c0);
    const clnn_tensor *len = opt_src(y, p->ix_len);
    char a[128], b[128];
    clnn_status st;
    if ((st = check_f32(g, "x", x)) || (st = check_f32(g, "w_ih", wih)) ||
        (st = check_f32(g, "w_hh", whh)) || (st = check_f32(g, "b_ih", bih)) ||
        (st = check_f32(g, "b_hh", bhh)) || (st = check_f32(g, "h0", h0)) ||
        (st = check_f32(g, "c0", c0)))
        return st;
    if (x->ndim != 3)
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "rnn: expected x of shape (N, T, I) (batch first), got '%s' %s",
                                x->name, clnn__shape_str(x->ndim, x->shape, a, sizeof a));
    if (whh->ndim != 2 || whh->shape[0] != p->G * whh->shape[1])
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "rnn (%s): expected w_hh of shape (%d H, H), got '%s' %s",
                                mode_names[p->mode], p->G, whh->name,
                                clnn__shape_str(whh->ndim, whh->shape, a, sizeof a));
    int64_t N = x->shape[0], T = x->shape[1], I = x->shape[2], H = whh->shape[1], GH = p->G * H;
    snprintf(b, sizeof b, "(%d H = %lld, I = %lld)", p->G, (long long)GH, (long long)I);
    if ((st = check_shape(g, "rnn", "w_ih", wih, 2, (int64_t[]){GH, I}, b)))
        return st;
    snprintf(b, sizeof b, "(%d H with H = %lld from w_hh)", p->G, (long long)H);
    if ((st = check_shape(g, "rnn", "b_ih", bih, 1, (int64_t[]){GH}, b)) ||
        (st = check_shape(g, "rnn", "b_hh", bhh, 1, (int64_t[]){GH}, b)))
        return st;
    snprintf(b, sizeof b, "(N, H)");
    if ((st = check_shape(g, "rnn", "h0", h0, 2, (int64_t[]){N, H}, b)) ||
        (st = check_shape(g, "rnn", "c0", c0, 2, (int64_t[]){N, H}, b)) ||
        (st = check_lengths(g, "rnn", len, N)))
        return st;
    fwd_layout l = layout_fwd(&(rnn_params){
        .mode = p->mode, .N = (int)N, .T = (int)T, .H = (int)H, .G = p->G}); /* p not filled yet */
    int64_t F = p->mode == CLNN_RNN_LSTM ? 2 * H : H;
    if (N * T * (GH > I ? GH : I) >= ((int64_t)1 << 31) || l.total >= ((int64_t)1 << 31) ||
        N * T * F >= ((int64_t)1 << 31) || GH * (H > I ? H : I) >= ((int64_t)1 << 31))
        return clnn__graph_fail(g, CLNN_ERR_UNSUPPORTED,
                                "rnn: x %s with H = %lld needs 2^31 or more elements in a buffer; "
                                "this version indexes with 32 bits",
                                clnn__shape_str(x->ndim, x->shape, a, sizeof a), (long long)H);
    p->N = (int)N;
    p->T = (int)T;
    p->I = (int)I;
    p->H = (int)H;
    y->ndim = 3;
    y->shape[0] = N;
    y->shape[1] = T;
    y->shape[2] = F;
    return CLNN_OK;
}

static clnn_status emit_rnn(clnn_tensor *y)
{
    const rnn_params *p = CLNN__PARAMS(y, rnn_params);
    const clnn_tensor *x = y->src[0], *wih = y->src[1], *whh = y->src[2];
    const fwd_layout l = layout_fwd(p);
    const int GH = p->G * p->H, NH = p->N * p->H;
    clnn_status st = ensure_scratch(y, l.total);
    if (st)
        return st;
    cl_kernel kinit, kstep;
    int fresh;
    /* state slot 0 */
    if ((st = clnn__node_kernel(y, 0, "rnn_init", &kinit, &fresh)))
        return st;
    if (fresh) {
        cl_mem h0, c0;
        int oh0, oc0, has_h0 = p->ix_h0 >= 0, has_c0 = p->ix_c0 >= 0;
        int has_c = p->mode == CLNN_RNN_LSTM, oh = (int)l.hist, oc = (int)l.chist;
        buf_of(opt_src(y, p->ix_h0), y->scratch, &h0, &oh0);
        buf_of(opt_src(y, p->ix_c0), y->scratch, &c0, &oc0);
        st = clnn__set_args(y->ctx, kinit, "rnn_init", 12, CLNN__ARG(NH), CLNN__ARG(has_h0),
                            CLNN__ARG(h0), CLNN__ARG(oh0), CLNN__ARG(has_c0), CLNN__ARG(c0),
                            CLNN__ARG(oc0), CLNN__ARG(y->scratch), CLNN__ARG(oh), CLNN__ARG(has_c),
                            CLNN__ARG(y->scratch), CLNN__ARG(oc));
        if (st)
            return forget_kernel(y, 0, st);
    }
    if ((st = enqueue_n(y, kinit, NH)))
        return st;
    /* the input projection of every step: xp (N T, GH) = x (N T, I) W_ih^T */
    clnn__gemm_args proj = {.trans_b = 1,
                            .m = (size_t)p->N * (size_t)p->T,
                            .n = (size_t)GH,
                            .k = (size_t)p->I,
                            .alpha = 1.0f,
                            .a = x->storage->mem,
                            .b = wih->storage->mem,
                            .c = y->scratch,
                            .a_off = x->offset,
                            .b_off = wih->offset,
                            .c_off = (size_t)l.xp,
                            .lda = (size_t)p->I,
                            .ldb = (size_t)p->I,
                            .ldc = (size_t)GH,
                            .batch = 1};
    if ((st = clnn__gemm(y->ctx, y, &proj)))
        return st;
    if ((st = clnn__node_kernel(y, 1, "rnn_fwd_step", &kstep, &fresh)))
        return st;
    if (fresh) {
        cl_mem len, bih, bhh;
        int olen, obih, obhh, has_len = p->ix_len >= 0, has_bih = p->ix_bih >= 0,
                              has_bhh = p->ix_bhh >= 0, zero = 0;
        buf_of(opt_src(y, p->ix_len), y->scratch, &len, &olen);
        buf_of(opt_src(y, p->ix_bih), y->scratch, &bih, &obih);
        buf_of(opt_src(y, p->ix_bhh), y->scratch, &bhh, &obhh);
        int oxp = (int)l.xp, ogh = (int)l.gh, oh = (int)l.hist, oc = (int)l.chist,
            ognh = (int)l.ghn, oy = (int)y->offset;
        st = clnn__set_args(
            y->ctx, kstep, "rnn_fwd_step", 23, CLNN__ARG(p->mode), CLNN__ARG(p->N), CLNN__ARG(p->T),
            CLNN__ARG(p->H), CLNN__ARG(zero), CLNN__ARG(p->reverse), CLNN__ARG(has_len),
            CLNN__ARG(len), CLNN__ARG(olen), CLNN__ARG(has_bih), CLNN__ARG(bih), CLNN__ARG(obih),
            CLNN__ARG(has_bhh), CLNN__ARG(bhh), CLNN__ARG(obhh), CLNN__ARG(y->scratch),
            CLNN__ARG(oxp), CLNN__ARG(ogh), CLNN__ARG(oh), CLNN__ARG(oc), CLNN__ARG(ognh),
            CLNN__ARG(y->storage->mem), CLNN__ARG(oy));
        if (st)
            return forget_kernel(y, 1, st);
    }
    clnn__gemm_args rec = {.m = (size_t)p->N,
                           .n = (size_t)GH,
                           .k = (size_t)p->H,
                           .alpha = 1.0f,
                           .a = y->scratch,
                           .b = y->scratch,
                           .c = y->scratch,
                           .b_off = (size_t)l.whh_t,
                           .c_off = (size_t)l.gh,
                           .lda = (size_t)p->H,
                           .ldb = (size_t)GH,
                           .ldc = (size_t)GH,
                           .batch = 1};
    if (clnn__gemm_panels_ok(y->ctx, y, &rec)) {
        /* W_hh^T in the own SGEMM's panels once, not once per step's GEMM */
        clnn__gemm_args whh_t = rec;
        whh_t.trans_b = 1;
        whh_t.b = whh->storage->mem;
        whh_t.b_off = whh->offset;
        whh_t.ldb = (size_t)p->H;
        if ((st = clnn__gemm_pack_b(y->ctx, y, &whh_t, y->scratch, (size_t)l.whh_t)))
            return st;
        rec.b_panels = 1;
    } else {
        /* W_hh^T (H, GH) once, so that the per-step GEMMs need no transposition */
        cl_kernel ktr;
        if ((st = clnn__node_kernel(y, 2, "rnn_transpose", &ktr, &fresh)))
            return st;
        if (fresh) {
            int ow = (int)whh->offset, ot = (int)l.whh_t;
            st = clnn__set_args(y->ctx, ktr, "rnn_transpose", 6, CLNN__ARG(GH), CLNN__ARG(p->H),
                                CLNN__ARG(whh->storage->mem), CLNN__ARG(ow), CLNN__ARG(y->scratch),
                                CLNN__ARG(ot));
            if (st)
                return forget_kernel(y, 2, st);
        }
        if ((st = enqueue_n(y, ktr, (int64_t)GH * p->H)))
            return st;
    }
    for (int s = 0; s < p->T; s++) {
        rec.a_off = (size_t)(l.hist + (int64_t)s * NH);
        if ((st = clnn__gemm(y->ctx, y, &rec)) || (st = set_arg(y, kstep, 4, sizeof s, &s)) ||
            (st = enqueue_n(y, kstep, step_items(p))))
            return st;
    }
    return CLNN_OK;
}

/* ---- rnn_bwd ------------------------------------------------------------------------------- */
static clnn_status infer_rnn_bwd(clnn_graph *g, clnn_tensor *dg)
{
    const rnn_params *p = CLNN__PARAMS(dg, rnn_params);
    const clnn_tensor *y = dg->src[0], *dy = dg->src[1];
    if (!clnn__same_shape(y, dy)) {
        char a[128], b[128];
        return clnn__graph_fail(g, CLNN_ERR_SHAPE, "rnn_bwd: expected dy of shape %s, got %s",
                                clnn__shape_str(y->ndim, y->shape, a, sizeof a),
                                clnn__shape_str(dy->ndim, dy->shape, b, sizeof b));
    }
    dg->ndim = 3;
    dg->shape[0] = p->N;
    dg->shape[1] = p->T;
    dg->shape[2] = (int64_t)p->G * p->H;
    return CLNN_OK;
}

static clnn_status emit_rnn_bwd(clnn_tensor *dg)
{
    const rnn_params *p = CLNN__PARAMS(dg, rnn_params);
    const clnn_tensor *y = dg->src[0], *dy = dg->src[1], *whh = dg->src[2];
    if (!y->scratch)
        return clnn__fail(dg->ctx, CLNN_ERR_STATE,
                          "rnn_bwd '%s': the forward node '%s' has not stored its activations",
                          dg->name, y->name);
    const fwd_layout f = layout_fwd(p);
    const bwd_layout l = layout_bwd(p);
    const int GH = p->G * p->H, NH = p->N * p->H;
    clnn_status st = ensure_scratch(dg, l.total);
    if (st)
        return st;
    cl_kernel k;
    int fresh;
    if ((st = clnn__node_kernel(dg, 0, "rnn_bwd_step", &k, &fresh)))
        return st;
    if (fresh) {
        cl_mem len;
        int olen, has_len = p->bwd_len >= 0, zero = 0;
        buf_of(opt_src(dg, p->bwd_len), dg->scratch, &len, &olen);
        int ody = (int)dy->offset, oxp = (int)f.xp, oh = (int)f.hist, oc = (int)f.chist,
            ognh = (int)f.ghn, odgh = (int)l.dgh, odh = (int)l.dh, odc = (int)l.dc,
            odg = (int)dg->offset;
        st = clnn__set_args(
            dg->ctx, k, "rnn_bwd_step", 23, CLNN__ARG(p->mode), CLNN__ARG(p->N), CLNN__ARG(p->T),
            CLNN__ARG(p->H), CLNN__ARG(zero), CLNN__ARG(p->reverse), CLNN__ARG(zero),
            CLNN__ARG(has_len), CLNN__ARG(len), CLNN__ARG(olen), CLNN__ARG(dy->storage->mem),
            CLNN__ARG(ody), CLNN__ARG(y->scratch), CLNN__ARG(oxp), CLNN__ARG(oh), CLNN__ARG(oc),
            CLNN__ARG(ognh), CLNN__ARG(dg->scratch), CLNN__ARG(odgh), CLNN__ARG(odh),
            CLNN__ARG(odc), CLNN__ARG(dg->storage->mem), CLNN__ARG(odg));
        if (st)
            return forget_kernel(dg, 0, st);
    }
    /* d h_{s} (N, H) += dGh_s (N, GH) W_hh (GH, H) */
    clnn__gemm_args rec = {.m = (size_t)p->N,
                           .n = (size_t)p->H,
                           .k = (size_t)GH,
                           .alpha = 1.0f,
                           .beta = 1.0f,
                           .a = dg->scratch,
                           .b = whh->storage->mem,
                           .c = dg->scratch,
                           .b_off = whh->offset,
                           .lda = (size_t)GH,
                           .ldb = (size_t)p->H,
                           .ldc = (size_t)p->H,
                           .batch = 1};
    if (clnn__gemm_panels_ok(dg->ctx, dg, &rec)) { /* W_hh in panels once, not once per step */
        if ((st = clnn__gemm_pack_b(dg->ctx, dg, &rec, dg->scratch, (size_t)l.whh_p)))
            return st;
        rec.b = dg->scratch;
        rec.b_off = (size_t)l.whh_p;
        rec.b_panels = 1;
    }
    for (int s = p->T - 1; s >= 0; s--) {
        int first = s == p->T - 1;
        rec.a_off = (size_t)(l.dgh + (int64_t)s * p->N * GH);
        rec.c_off = (size_t)(l.dh + (int64_t)(s & 1) * NH);
        if ((st = set_arg(dg, k, 4, sizeof s, &s)) ||
            (st = set_arg(dg, k, 6, sizeof first, &first)) ||
            (st = enqueue_n(dg, k, step_items(p))) || (st = clnn__gemm(dg->ctx, dg, &rec)))
            return st;
    }
    return CLNN_OK;
}

/* ---- rnn_dw_hh, rnn_db_hh, rnn_dstate: read the scratch of rnn_bwd (src 0) ------------------ */
static clnn_status infer_rnn_part(clnn_graph *g, clnn_tensor *d)
{
    (void)g;
    const rnn_params *p = CLNN__PARAMS(d, rnn_params);
    int64_t GH = (int64_t)p->G * p->H;
    if (d->op == CLNN_OP_RNN_DW_HH) {
        d->ndim = 2;
        d->shape[0] = GH;
        d->shape[1] = p->H;
    } else if (d->op == CLNN_OP_RNN_DB_HH) {
        d->ndim = 1;
        d->shape[0] = GH;
    } else {
        d->ndim = 2;
        d->shape[0] = p->N;
        d->shape[1] = p->H;
    }
    return CLNN_OK;
}

static clnn_status need_scratch(const clnn_tensor *d, const clnn_tensor *from)
{
    if (from->scratch)
        return CLNN_OK;
    return clnn__fail(d->ctx, CLNN_ERR_STATE, "%s '%s': '%s' has not stored its scratch",
                      clnn__ops[d->op]->name, d->name, from->name);
}

static clnn_status emit_rnn_dw_hh(clnn_tensor *d)
{
    const rnn_params *p = CLNN__PARAMS(d, rnn_params);
    const clnn_tensor *bwd = d->src[0], *y = d->src[1];
    clnn_status st;
    if ((st = need_scratch(d, bwd)) || (st = need_scratch(d, y)))
        return st;
    const size_t GH = (size_t)p->G * (size_t)p->H;
    /* (GH, H) = dGh (T N, GH)^T hist[0 .. T) (T N, H) */
    clnn__gemm_args a = {.trans_a = 1,
                         .m = GH,
                         .n = (size_t)p->H,
                         .k = (size_t)p->T * (size_t)p->N,
                         .alpha = 1.0f,
                         .a = bwd->scratch,
                         .b = y->scratch,
                         .c = d->storage->mem,
                         .a_off = (size_t)layout_bwd(p).dgh,
                         .b_off = (size_t)layout_fwd(p).hist,
                         .c_off = d->offset,
                         .lda = GH,
                         .ldb = (size_t)p->H,
                         .ldc = (size_t)p->H,
                         .batch = 1};
    return clnn__gemm(d->ctx, d, &a);
}

static clnn_status emit_rnn_small(clnn_tensor *d)
{
    const rnn_params *p = CLNN__PARAMS(d, rnn_params);
    const clnn_tensor *bwd = d->src[0];
    clnn_status st = need_scratch(d, bwd);
    if (st)
        return st;
    const bwd_layout l = layout_bwd(p);
    int colsum = d->op == CLNN_OP_RNN_DB_HH;
    int wide = colsum && d->numel % 16 == 0 && clnn__cpu_path(d->ctx);
    const char *name = wide ? "rnn_colsum16" : colsum ? "rnn_colsum" : "rnn_copy";
    cl_kernel k;
    int fresh;
    /* rnn_colsum16 in a slot of its own: $CLNN_KERNEL_PATH may change between runs */
    if ((st = clnn__node_kernel(d, wide, name, &k, &fresh)))
        return st;
    if (fresh) {
        int n = (int)d->numel, od = (int)d->offset;
        if (colsum) {
            int rows = p->T * p->N, o = (int)l.dgh;
            st = clnn__set_args(d->ctx, k, name, 6, CLNN__ARG(rows), CLNN__ARG(n),
                                CLNN__ARG(bwd->scratch), CLNN__ARG(o), CLNN__ARG(d->storage->mem),
                                CLNN__ARG(od));
        } else {
            int o = (int)(p->which ? l.dc : l.dh); /* buffer 0 holds the gradient after s = 0 */
            st = clnn__set_args(d->ctx, k, name, 5, CLNN__ARG(n), CLNN__ARG(bwd->scratch),
                                CLNN__ARG(o), CLNN__ARG(d->storage->mem), CLNN__ARG(od));
        }
        if (st)
            return forget_kernel(d, wide, st);
    }
    if (wide) { /* a few dozen long columns: one per work-group so that every core gets some */
        size_t global = (size_t)d->numel / 16, one = 1;
        return clnn__enqueue(d, k, 1, &global, &one);
    }
    return enqueue_n(d, k, d->numel);
}

static clnn_status backward_rnn(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    rnn_params q = *CLNN__PARAMS(y, rnn_params);
    clnn_tensor *x = y->src[0], *wih = y->src[1], *whh = y->src[2];
    clnn_tensor *src[4] = {y, dy, whh, q.ix_len >= 0 ? y->src[q.ix_len] : NULL};
    q.bwd_len = q.ix_len >= 0 ? 3 : -1;
    clnn_tensor *dg = clnn__node(g, CLNN_OP_RNN_BWD, q.ix_len >= 0 ? 4 : 3, src, &q, sizeof q);
    if (!dg)
        return g->status;
    clnn_status st;
    int64_t GH = (int64_t)q.G * q.H;
    if (x->requires_grad && (st = clnn__grad_accum(g, x, clnn_matmul(g, dg, wih, 0, 0))))
        return st;
    if (wih->requires_grad) {
        clnn_tensor *dg2 = clnn_reshape(g, dg, 2, (int64_t[]){-1, GH});
        clnn_tensor *x2 = clnn_reshape(g, x, 2, (int64_t[]){-1, q.I});
        if ((st = clnn__grad_accum(g, wih, clnn_matmul(g, dg2, x2, 1, 0))))
            return st;
    }
    if (q.ix_bih >= 0 && y->src[q.ix_bih]->requires_grad &&
        (st = clnn__grad_accum(g, y->src[q.ix_bih], clnn_sum(g, dg, 2, (int[]){0, 1}, 0))))
        return st;
    clnn_tensor *both[2] = {dg, y};
    if (whh->requires_grad &&
        (st = clnn__grad_accum(g, whh, clnn__node(g, CLNN_OP_RNN_DW_HH, 2, both, &q, sizeof q))))
        return st;
    if (q.ix_bhh >= 0 && y->src[q.ix_bhh]->requires_grad &&
        (st = clnn__grad_accum(g, y->src[q.ix_bhh],
                               clnn__node(g, CLNN_OP_RNN_DB_HH, 1, &dg, &q, sizeof q))))
        return st;
    for (int which = 0; which < 2; which++) {
        int ix = which ? q.ix_c0 : q.ix_h0;
        if (ix < 0 || !y->src[ix]->requires_grad)
            continue;
        q.which = which;
        if ((st = clnn__grad_accum(g, y->src[ix],
                                   clnn__node(g, CLNN_OP_RNN_DSTATE, 1, &dg, &q, sizeof q))))
            return st;
    }
    return CLNN_OK;
}

/* forward: 2 (I + H) G H per (n, t) for the GEMMs; backward: the same again for BPTT. The
 * profile adds the cost once per recorded event, and rnn / rnn_bwd enqueue 2 T + 2 / 2 T of them
 * per run, so their cost is given per enqueue (the totals come out right). */
static void cost_rnn(const clnn_tensor *node, double *flops, double *bytes)
{
    const rnn_params *p = CLNN__PARAMS(node, rnn_params);
    double NT = (double)p->N * p->T, GH = (double)p->G * p->H;
    double hh = 2.0 * NT * GH * p->H, ih = 2.0 * NT * GH * p->I;
    switch (node->op) {
    case CLNN_OP_RNN:
        *flops = (ih + hh + 10.0 * NT * GH) / (2.0 * p->T + 2.0);
        *bytes =
            4.0 * (NT * (p->I + 3.0 * GH + 3.0 * p->H) + p->T * GH * p->H) / (2.0 * p->T + 2.0);
        break;
    case CLNN_OP_RNN_BWD:
        *flops = (hh + 10.0 * NT * GH) / (2.0 * p->T);
        *bytes = 4.0 * (NT * (4.0 * GH + 4.0 * p->H) + p->T * GH * p->H) / (2.0 * p->T);
        break;
    case CLNN_OP_RNN_DW_HH:
        *flops = hh;
        *bytes = 4.0 * (NT * (GH + p->H) + GH * p->H);
        break;
    default:
        *flops = node->op == CLNN_OP_RNN_DB_HH ? NT * GH : 0.0;
        *bytes = 4.0 * (node->op == CLNN_OP_RNN_DB_HH ? NT * GH : 2.0 * p->N * p->H);
    }
}

const clnn__op_def clnn__op_rnn = {"rnn", 3, infer_rnn, emit_rnn, backward_rnn, cost_rnn, "rnn"};
const clnn__op_def clnn__op_rnn_bwd = {"rnn_bwd", 3,        infer_rnn_bwd, emit_rnn_bwd,
                                       NULL,      cost_rnn, "rnn"};
const clnn__op_def clnn__op_rnn_dw_hh = {"rnn_dw_hh", 2,   infer_rnn_part, emit_rnn_dw_hh, NULL,
                                         cost_rnn,    NULL};
const clnn__op_def clnn__op_rnn_db_hh = {"rnn_db_hh", 1,        infer_rnn_part, emit_rnn_small,
                                         NULL,        cost_rnn, "rnn"};
const clnn__op_def clnn__op_rnn_dstate = {"rnn_dstate", 1,        infer_rnn_part, emit_rnn_small,
                                          NULL,         cost_rnn, "rnn"};

clnn_tensor *clnn_rnn(clnn_graph *g, clnn_rnn_mode mode, clnn_tensor *x, clnn_tensor *w_ih,
                      clnn_tensor *w_hh, clnn_tensor *b_ih, clnn_tensor *b_hh, clnn_tensor *h0,
                      clnn_tensor *c0, clnn_tensor *lengths, int reverse)
{
    if (!g || g->status)
        return NULL;
    if ((int)mode < CLNN_RNN_TANH || (int)mode > CLNN_RNN_GRU) {
        clnn__graph_fail(g, CLNN_ERR_INVALID,
                         "rnn: mode %d: expected CLNN_RNN_TANH (0), CLNN_RNN_RELU (1), "
                         "CLNN_RNN_LSTM (2) or CLNN_RNN_GRU (3)",
                         (int)mode);
        return NULL;
    }
    if (!x || !w_ih || !w_hh) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "rnn: %s is NULL",
                         !x      ? "x"
                         : !w_ih ? "w_ih"
                                 : "w_hh");
        return NULL;
    }
    if (c0 && mode != CLNN_RNN_LSTM) {
        clnn__graph_fail(g, CLNN_ERR_INVALID,
                         "rnn: c0 '%s' is given for mode %s: only CLNN_RNN_LSTM has a cell state "
                         "(expected NULL)",
                         c0->name, mode_names[mode]);
        return NULL;
    }
    rnn_params p = {.mode = (int)mode,
                    .reverse = reverse != 0,
                    .G = mode == CLNN_RNN_LSTM  ? 4
                         : mode == CLNN_RNN_GRU ? 3
                                                : 1,
                    .bwd_len = -1};
    clnn_tensor *src[CLNN__MAX_SRC] = {x, w_ih, w_hh};
    int n = 3;
    clnn_tensor *opt[5] = {b_ih, b_hh, h0, c0, lengths};
    int *ix[5] = {&p.ix_bih, &p.ix_bhh, &p.ix_h0, &p.ix_c0, &p.ix_len};
    for (int i = 0; i < 5; i++) {
        *ix[i] = opt[i] ? n : -1;
        if (opt[i])
            src[n++] = opt[i];
    }
    return clnn__node(g, CLNN_OP_RNN, n, src, &p, sizeof p);
}

/* ---- rnn_last ------------------------------------------------------------------------------ */
static clnn_status infer_rnn_last(clnn_graph *g, clnn_tensor *y)
{
    rnn_last_params *p = CLNN__PARAMS(y, rnn_last_params);
    const clnn_tensor *seq = y->src[0];
    char s[128];
    if (seq->dtype != CLNN_F32)
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "rnn_last: expected an f32 sequence, '%s' is not", seq->name);
    if (seq->ndim != 3)
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "rnn_last: expected seq of shape (N, T, F), got '%s' %s", seq->name,
                                clnn__shape_str(seq->ndim, seq->shape, s, sizeof s));
    clnn_status st = check_lengths(g, "rnn_last", p->has_len ? y->src[1] : NULL, seq->shape[0]);
    if (st)
        return st;
    p->T = (int)seq->shape[1];
    y->ndim = 2;
    y->shape[0] = seq->shape[0];
    y->shape[1] = seq->shape[2];
    return clnn__check_numel(g, "rnn_last", seq);
}

static clnn_status infer_rnn_last_bwd(clnn_graph *g, clnn_tensor *d)
{
    (void)g;
    const rnn_last_params *p = CLNN__PARAMS(d, rnn_last_params);
    const clnn_tensor *dy = d->src[0];
    d->ndim = 3;
    d->shape[0] = dy->shape[0];
    d->shape[1] = p->T;
    d->shape[2] = dy->shape[1];
    return CLNN_OK;
}

/* rnn_last_fwd (seq -> y) and rnn_last_bwd (dy -> dseq) take the same arguments */
static clnn_status emit_rnn_last(clnn_tensor *out)
{
    const rnn_last_params *p = CLNN__PARAMS(out, rnn_last_params);
    const clnn_tensor *in = out->src[0];
    int fwd = out->op == CLNN_OP_RNN_LAST;
    const char *name = fwd ? "rnn_last_fwd" : "rnn_last_bwd";
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(out, 0, name, &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        const clnn_tensor *seq = fwd ? in : out;
        int N = (int)seq->shape[0], F = (int)seq->shape[2], olen, oin = (int)in->offset,
            oout = (int)out->offset;
        cl_mem len;
        buf_of(p->has_len ? out->src[1] : NULL, in->storage->mem, &len, &olen);
        st = clnn__set_args(out->ctx, k, name, 11, CLNN__ARG(N), CLNN__ARG(p->T), CLNN__ARG(F),
                            CLNN__ARG(p->reverse), CLNN__ARG(p->has_len), CLNN__ARG(len),
                            CLNN__ARG(olen), CLNN__ARG(in->storage->mem), CLNN__ARG(oin),
                            CLNN__ARG(out->storage->mem), CLNN__ARG(oout));
        if (st)
            return forget_kernel(out, 0, st);
    }
    return enqueue_n(out, k, out->numel);
}

static clnn_status backward_rnn_last(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    const rnn_last_params *p = CLNN__PARAMS(y, rnn_last_params);
    clnn_tensor *src[2] = {dy, p->has_len ? y->src[1] : NULL};
    return clnn__grad_accum(
        g, y->src[0], clnn__node(g, CLNN_OP_RNN_LAST_BWD, p->has_len ? 2 : 1, src, p, sizeof *p));
}

static void cost_rnn_last(const clnn_tensor *node, double *flops, double *bytes)
{
    *flops = 0.0;
    *bytes = 4.0 * 2.0 * (double)node->numel;
}

const clnn__op_def clnn__op_rnn_last = {
    "rnn_last", 1, infer_rnn_last, emit_rnn_last, backward_rnn_last, cost_rnn_last, "rnn"};
const clnn__op_def clnn__op_rnn_last_bwd = {
    "rnn_last_bwd", 1, infer_rnn_last_bwd, emit_rnn_last, NULL, cost_rnn_last, "rnn"};

clnn_tensor *clnn_rnn_last(clnn_graph *g, clnn_tensor *seq, clnn_tensor *lengths, int reverse)
{
    rnn_last_params p = {.reverse = reverse != 0, .has_len = lengths != NULL};
    clnn_tensor *src[2] = {seq, lengths};
    return clnn__node(g, CLNN_OP_RNN_LAST, lengths ? 2 : 1, src, &p, sizeof p);
}
