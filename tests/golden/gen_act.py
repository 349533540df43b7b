"""gen_act.py — golden cases of the activation family for tests/test_ops_act.c (run through
gen_golden.py). PyTorch computes in float64 from float32 inputs (the values the C test writes), so
the golden numbers carry no float32 rounding of their own.

Every case has
    int kind       0 the op's own builder (clnn_leaky_relu, clnn_elu, clnn_gelu), 1 clnn_activate,
                   2 softmax, 3 log_softmax, 4 bias_act, 5 linear
    int act        clnn_activation code (0 none, 1 relu, 2 leaky_relu, 3 elu, 4 sigmoid, 5 tanh,
                   6 gelu, 7 gelu_tanh)
    int axis       softmax and bias_act axis
    float alpha    leaky_relu slope, elu alpha
    tensors        x [w] [b], y, r, and the gradients dx [dw] [db] of sum(y * r)
"""

ACTS = ['none', 'relu', 'leaky_relu', 'elu', 'sigmoid', 'tanh', 'gelu', 'gelu_tanh']


def generate(w, torch):
    F = torch.nn.functional

    def rnd(*shape, lo=-1.0, hi=1.0):
        t = torch.rand(*shape, dtype=torch.float32) * (hi - lo) + lo
        return t.double().requires_grad_(True)

    def act_fn(act, alpha):
        return {
            'none': lambda z: z,
            'relu': F.relu,
            'leaky_relu': lambda z: F.leaky_relu(z, alpha),
            'elu': lambda z: F.elu(z, alpha),
            'sigmoid': torch.sigmoid,
            'tanh': torch.tanh,
            'gelu': lambda z: F.gelu(z, approximate='none'),
            'gelu_tanh': lambda z: F.gelu(z, approximate='tanh'),
        }[act]

    def emit(name, kind, act, alpha, axis, inputs, y):
        r = torch.rand(*y.shape, dtype=torch.float32).double() * 2 - 1
        (y * r).sum().backward()
        tensors = dict(inputs)
        tensors['y'] = y
        tensors['r'] = r
        for key, t in inputs.items():
            tensors['d' + key] = t.grad
        w.case(name, ints={'kind': kind, 'act': ACTS.index(act), 'axis': axis},
               floats={'alpha': alpha}, tensors=tensors)

    # activations through their own builders, on both sides of every kink
    for act, alpha, lo, hi in [('leaky_relu', 0.01, -3, 3), ('leaky_relu', 0.3, -3, 3),
                               ('elu', 1.0, -4, 2), ('elu', 0.5, -4, 2),
                               ('gelu', 0.0, -5, 5), ('gelu_tanh', 0.0, -5, 5)]:
        x = rnd(3, 4, 5, lo=lo, hi=hi)
        emit(f'{act}_{alpha:g}', 0, act, alpha, 0, {'x': x}, act_fn(act, alpha)(x))
    # clnn_activate with the activations it maps to the core ops
    for act in ['relu', 'sigmoid', 'tanh']:
        x = rnd(4, 5, lo=-4, hi=4)
        emit(f'activate_{act}', 1, act, 0.0, 0, {'x': x}, act_fn(act, 0.0)(x))

    # softmax and log-softmax along the last and the middle axis of a 3-D tensor
    for kind, fn in [(2, torch.softmax), (3, torch.log_softmax)]:
        for axis in [-1, 1]:
            x = rnd(3, 4, 5, lo=-4, hi=4)
            name = 'softmax' if kind == 2 else 'log_softmax'
            emit(f'{name}_axis{axis}', kind, 'none', 0.0, axis, {'x': x}, fn(x, axis))

    # F.linear with and without a bias, followed by each activation
    alphas = {'leaky_relu': 0.1, 'elu': 0.7}
    for bias in [True, False]:
        for act in ACTS:
            alpha = alphas.get(act, 0.0)
            x, wt = rnd(2, 3, 4, lo=-2, hi=2), rnd(5, 4)
            inputs = {'x': x, 'w': wt}
            b = None
            if bias:
                b = rnd(5)
                inputs['b'] = b
            y = act_fn(act, alpha)(F.linear(x, wt, b))
            emit(f'linear_{"bias" if bias else "nobias"}_{act}', 5, act, alpha, -1, inputs, y)

    # bias_act on NCHW along axis 1 (a convolution's bias)
    for act, alpha in [('relu', 0.0), ('gelu_tanh', 0.0), ('elu', 0.7)]:
        x, b = rnd(2, 3, 3, 4, lo=-2, hi=2), rnd(3)
        y = act_fn(act, alpha)(x + b.reshape(1, 3, 1, 1))
        emit(f'bias_act_nchw_{act}', 4, act, alpha, 1, {'x': x, 'b': b}, y)
