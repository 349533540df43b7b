"""gen_layout.py — golden cases of the layout family (see gen_golden.py): permute, concat, slice,
pad and flatten against PyTorch.

Every case holds: int op (0 permute, 1 concat, 2 slice, 3 pad, 4 flatten), int n (inputs),
tensors x0 .. x(n-1), r, y = op(x...) and dx0 .. = d sum(y r)/dx; op parameters: permute int perm;
concat int axis; slice int axis and int range (start, end, step); pad int pads (before, after per
axis, in clnn's axis order) and float value.
"""

OP_PERMUTE, OP_CONCAT, OP_SLICE, OP_PAD, OP_FLATTEN = 0, 1, 2, 3, 4


def emit(w, torch, name, op, xs, f, ints=None, floats=None):
    xs = [x.clone().requires_grad_(True) for x in xs]
    y = f(*xs)
    r = torch.randn(y.shape)
    (y * r).sum().backward()
    tensors = {f'x{i}': x for i, x in enumerate(xs)}
    tensors.update(r=r, y=y)
    tensors.update({f'dx{i}': x.grad for i, x in enumerate(xs)})
    w.case(name, ints=dict(op=op, n=len(xs), **(ints or {})), floats=floats, tensors=tensors)


def slice_along(t, axis, start, end, step):
    index = [slice(None)] * t.dim()
    index[axis] = slice(start, end, step)
    return t[tuple(index)]


def generate(w, torch):
    F = torch.nn.functional
    randn = torch.randn
    emit(w, torch, 'permute_0231', OP_PERMUTE, [randn(2, 3, 4, 5)],
         lambda x: x.permute(0, 2, 3, 1), dict(perm=[0, 2, 3, 1]))
    emit(w, torch, 'permute_201', OP_PERMUTE, [randn(3, 5, 7)], lambda x: x.permute(2, 0, 1),
         dict(perm=[2, 0, 1]))
    emit(w, torch, 'concat_axis0', OP_CONCAT, [randn(2, 3), randn(1, 3), randn(3, 3)],
         lambda *xs: torch.cat(xs, 0), dict(axis=0))
    emit(w, torch, 'concat_axis1', OP_CONCAT, [randn(2, 2, 3), randn(2, 1, 3), randn(2, 3, 3)],
         lambda *xs: torch.cat(xs, 1), dict(axis=1))
    emit(w, torch, 'concat_axis-1', OP_CONCAT, [randn(2, 3, 2), randn(2, 3, 1), randn(2, 3, 4)],
         lambda *xs: torch.cat(xs, -1), dict(axis=-1))
    for name, shape, axis, rng in [('slice_step2', (5, 9), 1, (1, 8, 2)),
                                   ('slice_negative', (6, 4), 0, (-5, -1, 1)),
                                   ('slice_negative_start_step3', (3, 10, 2), 1, (-8, 100, 3)),
                                   ('slice_to_negative_end', (2, 3, 7), -1, (0, -2, 1))]:
        emit(w, torch, name, OP_SLICE, [randn(*shape)],
             lambda x, axis=axis, rng=rng: slice_along(x, axis, *rng),
             dict(axis=axis, range=list(rng)))
    # F.pad lists the last axis first: (left, right, top, bottom) pads W by (1, 2) and H by (0, 1)
    emit(w, torch, 'pad_hw', OP_PAD, [randn(2, 3, 4, 5)],
         lambda x: F.pad(x, (1, 2, 0, 1), value=0.5),
         dict(pads=[0, 0, 0, 0, 0, 1, 1, 2]), dict(value=0.5))
    emit(w, torch, 'pad_all_axes', OP_PAD, [randn(3, 4)],
         lambda x: F.pad(x, (0, 3, 2, 1), value=-1.0),
         dict(pads=[2, 1, 0, 3]), dict(value=-1.0))
    emit(w, torch, 'flatten', OP_FLATTEN, [randn(2, 3, 4)], lambda x: torch.flatten(x, 1))
