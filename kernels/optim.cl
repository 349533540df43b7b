// optim.cl — the optimizers' device work (src/optim/optim.c): the two passes of the global
// gradient norm (partial sums of squares per work-group, then one work-group that combines them
// and writes the clipping scale) and one fused update kernel per optimizer (SGD, Adam/AdamW,
// RMSprop), one work-item per element. No float atomics: reductions are trees in local memory
// with a barrier after every step. Every update kernel multiplies the gradient by
// scale[0] when bit 0 of clip is set (the clipping scale written by optim_norm_final) and does
// nothing when bit 1 is set and scale[2] is not 1 (a non-finite gradient or loss).

#ifndef OPTIM_WG
#define OPTIM_WG 64 // largest work-group of the reductions (the host passes a power of two <= it)
#endif

// g: (n) at goff -> partials[slot + group] = sum of g^2 over the group's work-items, each of
// which takes a contiguous span of 16-float blocks (float16 loads and FMAs: a grid-stride loop of
// scalars cost more than the Adam update itself on POCL). The order is fixed: deterministic.
__kernel void optim_norm_partial(__global const float *g, const int goff, const int n,
                                 __global float *partials, const int slot)
{
    __local float red[OPTIM_WG];
    const int blocks = (n + 15) / 16, items = get_global_size(0);
    const int per = (blocks + items - 1) / items, b0 = get_global_id(0) * per;
    const int b1 = min(blocks, b0 + per);
    float16 acc = (float16)(0.0f);
    for (int b = b0; b < b1; b++) {
        const float16 x = clnn_ld16(g + goff + b * 16, n - b * 16);
        acc = fma(x, x, acc);
    }
    float8 h8 = acc.lo + acc.hi;
    float4 h4 = h8.lo + h8.hi;
    float2 h2 = h4.lo + h4.hi;
    const float s = clnn_group_sum(red, h2.x + h2.y);
    if (get_local_id(0) == 0)
        partials[slot + get_group_id(0)] = s;
}

// One work-group: partials: (count) -> scale[0] = min(1, max_norm / (sqrt(total) + 1e-6)),
// scale[1] = sqrt(total) (the norm before clipping, for clnn_optimizer_grad_norm), scale[2] = 1
// when that norm and the loss (loss[oloss], when has_loss) are finite, else 0 (a guarded update
// skips itself then: fit's non-finite guard without a host wait before the update).
__kernel void optim_norm_final(__global const float *partials, const int count,
                               __global float *scale, const float max_norm,
                               __global const float *loss, const int oloss, const int has_loss)
{
    __local float red[OPTIM_WG];
    float acc = 0.0f;
    for (int i = get_local_id(0); i < count; i += get_local_size(0))
        acc += partials[i];
    const float total = sqrt(clnn_group_sum(red, acc));
    if (get_local_id(0) == 0) {
        scale[0] = fmin(1.0f, max_norm / (total + 1e-6f));
        scale[1] = total;
        scale[2] = isfinite(total) && (!has_loss || isfinite(loss[oloss])) ? 1.0f : 0.0f;
    }
}

// flags of the update kernels: bit 0 multiplies the gradient by scale[0] (clipping), bit 1 skips
// the update unless scale[2] is 1 (guarded)
#define OPTIM_CLIP    1
#define OPTIM_GUARDED 2
#define OPTIM_SKIP(flags, scale) (((flags)&OPTIM_GUARDED) && (scale)[2] != 1.0f)

inline float optim_grad(__global const float *g, const int i, __global const float *scale,
                        const int clip)
{
    return clip & OPTIM_CLIP ? g[i] * scale[0] : g[i];
}

// SGD (torch.optim.SGD): p, g, buf: (n); buf is unused when momentum == 0.
__kernel void optim_sgd(const int n, __global float *p, const int poff, __global const float *g,
                        const int goff, __global float *buf, __global const float *scale,
                        const int clip, const float lr, const float momentum,
                        const float dampening, const float wd, const int nesterov,
                        const int first)
{
    const int i = get_global_id(0);
    if (i >= n || OPTIM_SKIP(clip, scale))
        return;
    const float w = p[poff + i];
    float d = optim_grad(g, goff + i, scale, clip) + wd * w;
    if (momentum != 0.0f) {
        const float b = first ? d : momentum * buf[i] + (1.0f - dampening) * d;
        buf[i] = b;
        d = nesterov ? d + momentum * b : b;
    }
    p[poff + i] = w - lr * d;
}

// Adam / AdamW (torch.optim.Adam, AdamW): p, g, m, v: (n). wd is the L2 term added to the
// gradient (Adam), decay the decoupled factor 1 - lr wd (AdamW; 1 for Adam); step_size =
// lr / (1 - b1^t), inv_sqrt_bc2 = 1 / sqrt(1 - b2^t).
__kernel void optim_adam(const int n, __global float *p, const int poff, __global const float *g,
                         const int goff, __global float *m, __global float *v,
                         __global const float *scale, const int clip, const float beta1,
                         const float beta2, const float eps, const float wd, const float decay,
                         const float step_size, const float inv_sqrt_bc2)
{
    const int i = get_global_id(0);
    if (i >= n || OPTIM_SKIP(clip, scale))
        return;
    const float w = p[poff + i] * decay;
    const float d = optim_grad(g, goff + i, scale, clip) + wd * w;
    const float mi = beta1 * m[i] + (1.0f - beta1) * d;
    const float vi = beta2 * v[i] + (1.0f - beta2) * d * d;
    m[i] = mi;
    v[i] = vi;
    p[poff + i] = w - step_size * (mi / (sqrt(vi) * inv_sqrt_bc2 + eps));
}

// RMSprop (torch.optim.RMSprop): p, g, sq: (n); avg (centered) and buf (momentum > 0) are
// unused otherwise.
__kernel void optim_rmsprop(const int n, __global float *p, const int poff,
                            __global const float *g, const int goff, __global float *sq,
                            __global float *avg, __global float *buf, __global const float *scale,
                            const int clip, const float lr, const float alpha, const float eps,
                            const float wd, const float momentum, const int centered)
{
    const int i = get_global_id(0);
    if (i >= n || OPTIM_SKIP(clip, scale))
        return;
    const float w = p[poff + i];
    const float d = optim_grad(g, goff + i, scale, clip) + wd * w;
    const float s = alpha * sq[i] + (1.0f - alpha) * d * d;
    sq[i] = s;
    float var = s;
    if (centered) {
        const float a = alpha * avg[i] + (1.0f - alpha) * d;
        avg[i] = a;
        var = s - a * a;
    }
    const float denom = sqrt(var) + eps;
    if (momentum > 0.0f) {
        const float b = momentum * buf[i] + d / denom;
        buf[i] = b;
        p[poff + i] = w - lr * b;
    } else {
        p[poff + i] = w - lr * d / denom;
    }
}
