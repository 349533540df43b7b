"""gen_core.py — golden cases of the first ops (issue 2's: add, sub, mul with broadcasting, scale,
relu, sigmoid, tanh, sum, mean, matmul, transpose, expand) for tests/test_ops.c, run through
gen_golden.py. PyTorch computes in float64 from float32 inputs (the values the C test writes).

Every case has
    int op        0 add, 1 sub, 2 mul, 3 scale, 4 relu, 5 sigmoid, 6 tanh, 7 sum, 8 mean,
                  9 matmul, 10 transpose, 11 expand
    int axes      sum/mean axes (absent: all), transpose's two axes, expand's shape
    int keepdim   sum/mean;  int trans  matmul's trans_a, trans_b
    float alpha   scale
    tensors       a [b], y, r, and the gradients da [db] of sum(y * r)
"""


def generate(w, torch):
    def rnd(*shape, lo=-1.0, hi=1.0):
        t = torch.rand(*shape, dtype=torch.float32) * (hi - lo) + lo
        return t.double().requires_grad_(True)

    def emit(name, op, inputs, y, ints=None, floats=None):
        r = torch.rand(tuple(y.shape), dtype=torch.float32).double() * 2 - 1
        (y * r).sum().backward()
        tensors = dict(inputs)
        tensors['y'] = y
        tensors['r'] = r
        for key, t in inputs.items():
            tensors['d' + key] = t.grad
        w.case(name, ints=dict(op=op, **(ints or {})), floats=floats, tensors=tensors)

    for op, fn, sa, sb in [(0, torch.add, (4, 1, 3), (5, 1)), (1, torch.sub, (3, 4), (4,)),
                           (2, torch.mul, (2, 3, 4), (3, 1)), (2, torch.mul, (7,), (1,))]:
        a, b = rnd(*sa), rnd(*sb)
        emit(f'binary{op}_{len(sa)}x{len(sb)}_{sa[0]}', op, {'a': a, 'b': b}, fn(a, b))
    a = rnd(3, 5)
    emit('scale', 3, {'a': a}, -1.75 * a, floats={'alpha': -1.75})
    for op, fn in [(4, torch.relu), (5, torch.sigmoid), (6, torch.tanh)]:
        a = rnd(3, 7, lo=-6, hi=6)
        emit(f'unary{op}', op, {'a': a}, fn(a))
    a = rnd(3, 4, 5)
    emit('sum_axis1', 7, {'a': a}, a.sum(dim=1), ints={'axes': [1], 'keepdim': 0})
    a = rnd(3, 4, 5)
    emit('mean_axes02_keep', 8, {'a': a}, a.mean(dim=(0, 2), keepdim=True),
         ints={'axes': [0, 2], 'keepdim': 1})
    a = rnd(4, 70)
    emit('sum_all', 7, {'a': a}, a.sum(), ints={'keepdim': 0})
    for name, sa, sb, ta, tb in [('mm', (5, 7), (7, 3), 0, 0), ('mm_tt', (7, 5), (3, 7), 1, 1),
                                 ('bmm', (2, 5, 7), (2, 7, 3), 0, 0),
                                 ('bmm_shared', (2, 5, 7), (7, 3), 0, 0),
                                 ('bmm_shared_ta', (2, 7, 5), (3, 7), 1, 1)]:
        a, b = rnd(*sa), rnd(*sb)
        aa = a.transpose(-2, -1) if ta else a
        bb = b.transpose(-2, -1) if tb else b
        emit(name, 9, {'a': a, 'b': b}, torch.matmul(aa, bb), ints={'trans': [ta, tb]})
    a = rnd(2, 3, 4)
    emit('transpose02', 10, {'a': a}, a.transpose(0, 2), ints={'axes': [0, 2]})
    a = rnd(3, 1)
    emit('expand', 11, {'a': a}, a.expand(2, 3, 4), ints={'axes': [2, 3, 4]})
