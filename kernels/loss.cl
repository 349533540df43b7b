// loss.cl — the losses of src/ops/op_loss.c and their backward kernels:
//   elementwise (one work-item per element): mse, bce (PyTorch BCELoss, log clamped at -100),
//   bce_logits (stable BCEWithLogitsLoss), each with a backward kernel for pred or target;
//   per row of (N, C) (one work-group of L work-items per row, L a power of two <= LOSS_WG chosen
//   by the host, a tree in local memory with a barrier after every step): cce (Keras categorical
//   cross-entropy on probabilities) and ce (PyTorch CrossEntropyLoss on logits with class indices
//   and label smoothing: a fused, stable log-softmax), each with one backward kernel;
//   ce_valid (the mask of labels in [0, C), whose sum is the count of a mean) and loss_div.
// Reductions of the per-element / per-row losses to a scalar are not here: op_loss.c uses the
// parallel sum of sum.cl. No float atomics. Offsets (in elements) let tensors start inside a
// buffer.

#ifndef LOSS_WG
#define LOSS_WG 64 // the largest row work-group (op_loss.c uses the same bound)
#endif
#define LOSS_LOG_MIN (-100.0f) // PyTorch BCELoss clamps its logs here
#define LOSS_BCE_EPS 1e-12f    // PyTorch BCELoss backward: (p - t) / max(p (1 - p), eps)
#define LOSS_CLIP    1e-7f     // Keras backend epsilon()

// ---- elementwise: p, t, y: (n) ------------------------------------------------------------
// y = (p - t)^2
__kernel void mse_fwd(const int n, __global const float *p, const int op, __global const float *t,
                      const int ot, __global float *y, const int oy)
{
    const int i = get_global_id(0);
    if (i >= n)
        return;
    const float d = p[op + i] - t[ot + i];
    y[oy + i] = d * d;
}

// y = -(t max(log p, -100) + (1 - t) max(log(1 - p), -100)), as PyTorch computes it
__kernel void bce_fwd(const int n, __global const float *p, const int op, __global const float *t,
                      const int ot, __global float *y, const int oy)
{
    const int i = get_global_id(0);
    if (i >= n)
        return;
    const float pv = p[op + i], tv = t[ot + i];
    const float lp = fmax(log(pv), LOSS_LOG_MIN), lq = fmax(log1p(-pv), LOSS_LOG_MIN);
    y[oy + i] = (tv - 1.0f) * lq - tv * lp;
}

// y = max(x, 0) - x t + log1p(exp(-|x|)): no overflow for any x
__kernel void bce_logits_fwd(const int n, __global const float *x, const int ox,
                             __global const float *t, const int ot, __global float *y, const int oy)
{
    const int i = get_global_id(0);
    if (i >= n)
        return;
    const float xv = x[ox + i];
    y[oy + i] = fmax(xv, 0.0f) - xv * t[ot + i] + log1p(exp(-fabs(xv)));
}

// p, t, dy -> dx: (n); wrt 0: d/dp, 1: d/dt
__kernel void mse_bwd(const int n, const int wrt, __global const float *p, const int op,
                      __global const float *t, const int ot, __global const float *dy,
                      const int ody, __global float *dx, const int odx)
{
    const int i = get_global_id(0);
    if (i >= n)
        return;
    const float g = 2.0f * (p[op + i] - t[ot + i]) * dy[ody + i];
    dx[odx + i] = wrt == 0 ? g : -g;
}

// d/dp = dy (p - t) / max(p (1 - p), 1e-12) (PyTorch's formula, finite at the clamp);
// d/dt = dy (max(log(1 - p), -100) - max(log p, -100)), the derivative of the clamped loss
__kernel void bce_bwd(const int n, const int wrt, __global const float *p, const int op,
                      __global const float *t, const int ot, __global const float *dy,
                      const int ody, __global float *dx, const int odx)
{
    const int i = get_global_id(0);
    if (i >= n)
        return;
    const float pv = p[op + i], tv = t[ot + i], d = dy[ody + i];
    if (wrt == 0)
        dx[odx + i] = d * (pv - tv) / fmax((1.0f - pv) * pv, LOSS_BCE_EPS);
    else
        dx[odx + i] = d * (fmax(log1p(-pv), LOSS_LOG_MIN) - fmax(log(pv), LOSS_LOG_MIN));
}

// d/dx = dy (sigmoid(x) - t); d/dt = -dy x
__kernel void bce_logits_bwd(const int n, const int wrt, __global const float *x, const int ox,
                             __global const float *t, const int ot, __global const float *dy,
                             const int ody, __global float *dx, const int odx)
{
    const int i = get_global_id(0);
    if (i >= n)
        return;
    const float xv = x[ox + i], d = dy[ody + i];
    if (wrt == 0) {
        const float e = exp(-fabs(xv));
        const float s = xv >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        dx[odx + i] = d * (s - t[ot + i]);
    } else {
        dx[odx + i] = -d * xv;
    }
}

// labels: (n) i32 -> y: (n) f32, 1 where 0 <= label < classes (the samples a mean counts)
__kernel void ce_valid(const int n, const int classes, __global const int *labels, const int ol,
                       __global float *y, const int oy)
{
    const int i = get_global_id(0);
    if (i >= n)
        return;
    const int l = labels[ol + i];
    y[oy + i] = (l >= 0 && l < classes) ? 1.0f : 0.0f;
}

// a, b: () -> y: () = a / b (the mean of a cross-entropy: sum over the counted samples / count)
__kernel void loss_div(__global const float *a, const int oa, __global const float *b, const int ob,
                       __global float *y, const int oy)
{
    if (get_global_id(0) == 0)
        y[oy] = a[oa] / b[ob];
}

// ---- per row: a work-group of L = get_local_size(0) work-items per row ----------------------
// (reductions: clnn_group_sum / clnn_group_max of common.cl)
// Keras clip of a rescaled probability, and whether the clip passes the gradient (as
// tf.clip_by_value: inside [eps, 1 - eps], bounds included)
inline float cce_clip(const float q)
{
    return clamp(q, LOSS_CLIP, 1.0f - LOSS_CLIP);
}
inline int cce_inside(const float q)
{
    return q >= LOSS_CLIP && q <= 1.0f - LOSS_CLIP;
}

// probs, target: (N, C) -> y: (N); y_n = -sum_c t log(clip(p / sum_c p))
__kernel void cce_rows(const int N, const int C, __global const float *p, const int op,
                       __global const float *t, const int ot, __global float *y, const int oy)
{
    __local float red[LOSS_WG];
    const int n = get_group_id(0), lid = get_local_id(0), L = get_local_size(0);
    if (n >= N)
        return; // whole work-groups only: the barriers below stay uniform
    __global const float *pr = p + op + (size_t)n * C;
    __global const float *tr = t + ot + (size_t)n * C;
    float s = 0.0f;
    for (int c = lid; c < C; c += L)
        s += pr[c];
    s = clnn_group_sum(red, s);
    float acc = 0.0f;
    for (int c = lid; c < C; c += L)
        acc += tr[c] * log(cce_clip(pr[c] / s));
    acc = clnn_group_sum(red, acc);
    if (lid == 0)
        y[oy + n] = -acc;
}

// probs, target: (N, C), dy: (N) -> dx: (N, C). With s = sum_c p, q = p / s and
// g_c = -t_c / q_c where the clip passes the gradient (else 0):
//   wrt 0 (probs):  dx_j = dy (g_j - sum_c g_c q_c) / s
//   wrt 1 (target): dx_c = -dy log(clip(q_c))
__kernel void cce_bwd(const int N, const int C, const int wrt, __global const float *p,
                      const int op, __global const float *t, const int ot, __global const float *dy,
                      const int ody, __global float *dx, const int odx)
{
    __local float red[LOSS_WG];
    const int n = get_group_id(0), lid = get_local_id(0), L = get_local_size(0);
    if (n >= N)
        return;
    __global const float *pr = p + op + (size_t)n * C;
    __global const float *tr = t + ot + (size_t)n * C;
    __global float *dr = dx + odx + (size_t)n * C;
    const float d = dy[ody + n];
    float s = 0.0f;
    for (int c = lid; c < C; c += L)
        s += pr[c];
    s = clnn_group_sum(red, s);
    if (wrt == 1) {
        for (int c = lid; c < C; c += L)
            dr[c] = -d * log(cce_clip(pr[c] / s));
        return;
    }
    float gq = 0.0f; // sum_c g_c q_c = -sum of t_c where the clip passes the gradient
    for (int c = lid; c < C; c += L)
        gq -= cce_inside(pr[c] / s) ? tr[c] : 0.0f;
    gq = clnn_group_sum(red, gq);
    for (int c = lid; c < C; c += L) {
        const float q = pr[c] / s;
        const float g = cce_inside(q) ? -tr[c] / q : 0.0f;
        dr[c] = d * (g - gq) / s;
    }
}

// Row statistics of logits x_c: m = max_c x_c and se = sum_c exp(x_c - m) (log-sum-exp =
// m + log se). sd = sum_c (x_c - m) is added when want_sd (label smoothing).
inline void ce_stats(__local float *red, __global const float *xr, const int C, const int want_sd,
                     float *m, float *se, float *sd)
{
    const int lid = get_local_id(0), L = get_local_size(0);
    float v = -INFINITY;
    for (int c = lid; c < C; c += L)
        v = fmax(v, xr[c]);
    const float mx = clnn_group_max(red, v);
    float e = 0.0f, dsum = 0.0f;
    for (int c = lid; c < C; c += L) {
        e += exp(xr[c] - mx);
        dsum += xr[c] - mx;
    }
    *m = mx;
    *se = clnn_group_sum(red, e);
    *sd = want_sd ? clnn_group_sum(red, dsum) : 0.0f;
}

// logits: (N, C), labels: (N) i32 -> y: (N). With log p_c = x_c - m - log se:
//   y_n = (1 - eps) (-log p_label) + eps mean_c(-log p_c), and 0 for a label outside [0, C)
//   (ignored, as PyTorch's ignore_index).
__kernel void ce_rows(const int N, const int C, const float eps, __global const float *x,
                      const int ox, __global const int *labels, const int ol, __global float *y,
                      const int oy)
{
    __local float red[LOSS_WG];
    const int n = get_group_id(0), lid = get_local_id(0);
    if (n >= N)
        return;
    __global const float *xr = x + ox + (size_t)n * C;
    float m, se, sd;
    ce_stats(red, xr, C, eps != 0.0f, &m, &se, &sd);
    if (lid != 0)
        return;
    const int l = labels[ol + n];
    if (l < 0 || l >= C) {
        y[oy + n] = 0.0f;
        return;
    }
    const float lse = log(se); // log-sum-exp - m
    const float nll = lse - (xr[l] - m);
    const float smooth = lse - sd / (float)C;
    y[oy + n] = eps != 0.0f ? (1.0f - eps) * nll + eps * smooth : nll;
}

// logits: (N, C), labels: (N) i32, dy: (N) -> dx: (N, C) =
//   dy (softmax_c - (1 - eps) [c = label] - eps / C), and 0 for an ignored label
__kernel void ce_bwd(const int N, const int C, const float eps, __global const float *x,
                     const int ox, __global const int *labels, const int ol,
                     __global const float *dy, const int ody, __global float *dx, const int odx)
{
    __local float red[LOSS_WG];
    const int n = get_group_id(0), lid = get_local_id(0), L = get_local_size(0);
    if (n >= N)
        return;
    __global const float *xr = x + ox + (size_t)n * C;
    __global float *dr = dx + odx + (size_t)n * C;
    const int l = labels[ol + n];
    if (l < 0 || l >= C) { // uniform over the work-group: no barrier is skipped by some only
        for (int c = lid; c < C; c += L)
            dr[c] = 0.0f;
        return;
    }
    float m, se, sd;
    ce_stats(red, xr, C, 0, &m, &se, &sd);
    const float d = dy[ody + n], inv = 1.0f / se, off = eps / (float)C;
    for (int c = lid; c < C; c += L) {
        const float target = (c == l ? 1.0f - eps : 0.0f) + off;
        dr[c] = d * (exp(xr[c] - m) * inv - target);
    }
}
