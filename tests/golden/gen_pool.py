"""gen_pool.py — golden cases of the pooling family (see gen_golden.py): maxpool2d, avgpool2d,
global_avgpool2d and upsample_nearest against PyTorch.

Every case holds: int op (0 maxpool2d, 1 avgpool2d, 2 global_avgpool2d, 3 upsample_nearest),
for pooling int kernel/stride/pad (h, w), int padding (0 explicit, 1 valid, 2 same), ceil_mode,
count_include_pad; for upsampling int scale (h, w); tensors x, r, y = op(x) and dx = d sum(y r)/dx.
PyTorch has no asymmetric "same" pooling: those cases pad with F.pad as TensorFlow does (-inf for
the max; for the mean a window sum divided by the count of input elements in it).
"""

OP_MAX, OP_AVG, OP_GLOBAL, OP_UPSAMPLE = 0, 1, 2, 3


def same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def emit(w, torch, name, op, x, f, ints):
    x = x.clone().requires_grad_(True)
    y = f(x)
    r = torch.randn(y.shape)
    (y * r).sum().backward()
    w.case(name, ints=dict(op=op, **ints), tensors=dict(x=x, r=r, y=y, dx=x.grad))


def pool_case(w, torch, name, op, shape, k, s=None, p=(0, 0), padding=0, ceil=0, include=1,
              x=None):
    F = torch.nn.functional
    s = s or k
    if x is None:
        x = torch.randn(shape)

    def f(t):
        if padding == 2:  # TensorFlow "same"
            pt, pb = same_pads(t.shape[2], k[0], s[0])
            pl, pr = same_pads(t.shape[3], k[1], s[1])
            if op == OP_MAX:
                return F.max_pool2d(F.pad(t, (pl, pr, pt, pb), value=float('-inf')), k, s)
            total = F.avg_pool2d(F.pad(t, (pl, pr, pt, pb)), k, s, divisor_override=1)
            ones = F.pad(torch.ones_like(t), (pl, pr, pt, pb))
            return total / F.avg_pool2d(ones, k, s, divisor_override=1)
        if op == OP_MAX:
            return F.max_pool2d(t, k, s, p, ceil_mode=bool(ceil))
        return F.avg_pool2d(t, k, s, p, ceil_mode=bool(ceil), count_include_pad=bool(include))

    ints = dict(kernel=list(k), stride=list(s), pad=list(p), padding=padding, ceil_mode=ceil,
                count_include_pad=include)
    emit(w, torch, name, op, x, f, ints)


def generate(w, torch):
    F = torch.nn.functional
    pool_case(w, torch, 'maxpool_2x2', OP_MAX, (2, 2, 6, 6), (2, 2))
    pool_case(w, torch, 'maxpool_3x3_s2_p1', OP_MAX, (1, 2, 9, 7), (3, 3), (2, 2), (1, 1))
    pool_case(w, torch, 'maxpool_3x3_s2_p1_ceil', OP_MAX, (1, 2, 8, 10), (3, 3), (2, 2), (1, 1),
              ceil=1)
    pool_case(w, torch, 'maxpool_2x2_ceil', OP_MAX, (1, 2, 5, 7), (2, 2), ceil=1)
    # integer values in {0, 1, 2}: many ties; PyTorch gives the gradient to the first maximum
    ties = torch.randint(0, 3, (1, 2, 7, 7)).float()
    pool_case(w, torch, 'maxpool_3x3_s2_p1_ties', OP_MAX, None, (3, 3), (2, 2), (1, 1), x=ties)
    pool_case(w, torch, 'maxpool_2x2_ties', OP_MAX, None, (2, 2), x=ties)
    pool_case(w, torch, 'maxpool_same_3x3_s2', OP_MAX, (1, 2, 7, 8), (3, 3), (2, 2), padding=2)
    pool_case(w, torch, 'avgpool_2x2', OP_AVG, (2, 2, 6, 6), (2, 2))
    pool_case(w, torch, 'avgpool_3x3_s2_p1_include', OP_AVG, (1, 2, 9, 7), (3, 3), (2, 2), (1, 1))
    pool_case(w, torch, 'avgpool_3x3_s2_p1_exclude', OP_AVG, (1, 2, 9, 7), (3, 3), (2, 2), (1, 1),
              include=0)
    pool_case(w, torch, 'avgpool_3x3_s2_p1_ceil_include', OP_AVG, (1, 2, 8, 10), (3, 3), (2, 2),
              (1, 1), ceil=1)
    pool_case(w, torch, 'avgpool_3x3_s2_p1_ceil_exclude', OP_AVG, (1, 2, 8, 10), (3, 3), (2, 2),
              (1, 1), ceil=1, include=0)
    pool_case(w, torch, 'avgpool_2x2_ceil', OP_AVG, (1, 2, 5, 7), (2, 2), ceil=1)
    pool_case(w, torch, 'avgpool_same_3x3_s2', OP_AVG, (1, 2, 7, 8), (3, 3), (2, 2), padding=2)
    emit(w, torch, 'global_avgpool', OP_GLOBAL, torch.randn(2, 3, 5, 7),
         lambda t: t.mean(dim=(2, 3)), {})
    emit(w, torch, 'upsample_x2', OP_UPSAMPLE, torch.randn(2, 2, 3, 4),
         lambda t: F.interpolate(t, scale_factor=2, mode='nearest'), dict(scale=[2, 2]))
    emit(w, torch, 'upsample_2x3', OP_UPSAMPLE, torch.randn(1, 2, 3, 4),
         lambda t: F.interpolate(t, scale_factor=(2, 3), mode='nearest'), dict(scale=[2, 3]))
