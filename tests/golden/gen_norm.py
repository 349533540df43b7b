"""gen_norm.py — golden cases of the normalisation family for tests/test_ops_norm.c: PyTorch's
batch_norm (training: output, gradients and the running statistics after one step with PyTorch's
momentum and unbiased running variance; evaluation), layer_norm over 1, 2 and 3 axes, and
embedding with repeated indices and padding_idx. Every case holds its inputs, r, the output y
and the gradients of sum(y * r). Run through gen_golden.py (see there)."""

KIND_BATCHNORM, KIND_LAYERNORM, KIND_EMBEDDING = 0, 1, 2


def batchnorm(w, torch, name, shape, training, affine, momentum=0.1, eps=1e-5):
    F = torch.nn.functional
    c = shape[1]
    x = (torch.randn(*shape) * 1.5 + 0.7).requires_grad_()
    gamma = (torch.rand(c) + 0.5).requires_grad_()
    beta = (torch.randn(c) * 0.5).requires_grad_()
    rm, rv = torch.randn(c) * 0.3, torch.rand(c) + 0.5
    new_rm, new_rv = rm.clone(), rv.clone()  # batch_norm updates these in place
    y = F.batch_norm(x, new_rm, new_rv, gamma if affine else None, beta if affine else None,
                     training=training, momentum=momentum, eps=eps)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    tensors = {'x': x, 'running_mean': rm, 'running_var': rv, 'r': r, 'y': y, 'dx': x.grad,
               'new_running_mean': new_rm, 'new_running_var': new_rv}
    if affine:
        tensors.update(gamma=gamma, beta=beta, dgamma=gamma.grad, dbeta=beta.grad)
    w.case(name, ints={'kind': KIND_BATCHNORM, 'training': int(training), 'affine': int(affine)},
           floats={'momentum': momentum, 'eps': eps}, tensors=tensors)


def layernorm(w, torch, name, shape, naxes, affine, eps=1e-5):
    F = torch.nn.functional
    norm_shape = shape[len(shape) - naxes:]
    x = (torch.randn(*shape) * 2.0 - 0.3).requires_grad_()
    gamma = (torch.rand(*norm_shape) + 0.5).requires_grad_()
    beta = (torch.randn(*norm_shape) * 0.5).requires_grad_()
    y = F.layer_norm(x, norm_shape, gamma if affine else None, beta if affine else None, eps)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    tensors = {'x': x, 'r': r, 'y': y, 'dx': x.grad}
    if affine:
        tensors.update(gamma=gamma, beta=beta, dgamma=gamma.grad, dbeta=beta.grad)
    w.case(name, ints={'kind': KIND_LAYERNORM, 'naxes': naxes, 'affine': int(affine)},
           floats={'eps': eps}, tensors=tensors)


def embedding(w, torch, name, indices, v, d, padding):
    F = torch.nn.functional
    idx = torch.tensor(indices, dtype=torch.long)
    weight = torch.randn(v, d).requires_grad_()
    y = F.embedding(idx, weight, padding_idx=padding if padding >= 0 else None)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    w.case(name, ints={'kind': KIND_EMBEDDING, 'padding': padding},
           tensors={'indices': idx.float(), 'weight': weight, 'r': r, 'y': y,
                    'dweight': weight.grad})


def generate(w, torch):
    batchnorm(w, torch, 'bn_train_2d', (7, 3), True, True)
    batchnorm(w, torch, 'bn_train_3d', (5, 2, 9), True, True)
    batchnorm(w, torch, 'bn_train_4d', (3, 4, 5, 3), True, True)
    batchnorm(w, torch, 'bn_train_4d_momentum0.3_eps1e-3_noaffine', (2, 3, 3, 5), True, False,
              momentum=0.3, eps=1e-3)
    batchnorm(w, torch, 'bn_eval_2d', (7, 3), False, True)
    batchnorm(w, torch, 'bn_eval_4d', (2, 4, 3, 5), False, True)
    layernorm(w, torch, 'ln_1axis', (3, 5, 9), 1, True)
    layernorm(w, torch, 'ln_2axes', (3, 5, 6), 2, True)
    layernorm(w, torch, 'ln_3axes', (2, 3, 4, 5), 3, True, eps=1e-3)
    layernorm(w, torch, 'ln_1axis_noaffine', (6, 13), 1, False)
    embedding(w, torch, 'emb_repeats_padding2', [[2, 0, 5, 2, 6], [1, 5, 5, 2, 3], [0, 0, 6, 5, 2]],
              7, 4, 2)
    embedding(w, torch, 'emb_repeats', [3, 1, 3, 3, 0, 4, 1, 3, 2, 3, 0, 3, 1], 5, 6, -1)
    embedding(w, torch, 'emb_padding0', [[0, 1, 1, 0], [3, 0, 2, 2], [1, 1, 1, 1], [0, 3, 3, 0]],
              4, 5, 0)
