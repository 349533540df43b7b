"""gen_loss.py — golden cases of the losses (tests/test_ops_loss.c reads tests/golden/loss.txt).

Every case: ints kind (0 mse, 1 categorical_crossentropy, 2 cross_entropy, 3 binary_crossentropy,
4 binary_crossentropy_logits) and reduction (0 mean, 1 sum, 2 none, as clnn_reduction); float
smoothing (cross_entropy); tensors x (pred, probs or logits), target (for cross_entropy: the class
indices as floats), r, y = loss(x, target) and the gradients of sum(y * r): dx, and dtarget where
the target has one. Keras's categorical_crossentropy is written out in torch exactly as Keras does
it (rescale, tf.clip_by_value whose gradient passes inside the bounds, bounds included, as
torch.clamp's does).
"""
import torch.nn.functional as F

KINDS = {'mse': 0, 'cce': 1, 'ce': 2, 'bce': 3, 'bce_logits': 4}
REDUCTIONS = {'mean': 0, 'sum': 1, 'none': 2}


def keras_cce(torch, p, t, reduction):
    q = p / p.sum(-1, keepdim=True)
    q = q.clamp(1e-7, 1.0 - 1e-7)
    loss = -(t * q.log()).sum(-1)
    return {'mean': loss.mean(), 'sum': loss.sum(), 'none': loss}[reduction]


def loss_of(torch, kind, x, target, reduction, smoothing):
    if kind == 'mse':
        return F.mse_loss(x, target, reduction=reduction)
    if kind == 'bce':
        return F.binary_cross_entropy(x, target, reduction=reduction)
    if kind == 'bce_logits':
        return F.binary_cross_entropy_with_logits(x, target, reduction=reduction)
    if kind == 'cce':
        return keras_cce(torch, x, target, reduction)
    return F.cross_entropy(x, target.long(), reduction=reduction, label_smoothing=smoothing,
                           ignore_index=-100)


def add(w, torch, name, kind, reduction, x, target, smoothing=0.0, target_grad=True):
    x = x.clone().float().requires_grad_(True)
    target = target.clone().float()
    if target_grad and kind != 'ce':
        target.requires_grad_(True)
    y = loss_of(torch, kind, x, target, reduction, smoothing)
    r = torch.randn(y.shape)
    (y * r).sum().backward()
    tensors = {'x': x, 'target': target, 'r': r, 'y': y, 'dx': x.grad}
    if target.grad is not None:
        tensors['dtarget'] = target.grad
    w.case(name, ints={'kind': KINDS[kind], 'reduction': REDUCTIONS[reduction]},
           floats={'smoothing': smoothing}, tensors=tensors)


def generate(w, torch):
    N, C = 7, 5
    for red in REDUCTIONS:
        # mse: any shape, gradients for both arguments
        add(w, torch, f'mse_{red}', 'mse', red, torch.randn(N, C), torch.randn(N, C))
        # bce: probabilities away from 0 and 1, soft targets (PyTorch differentiates them too)
        add(w, torch, f'bce_{red}', 'bce', red, torch.rand(N, C) * 0.96 + 0.02, torch.rand(N, C))
        # bce with logits: moderate logits, and |x| up to 30 (exp(30) is far beyond 1 / fp32 eps)
        add(w, torch, f'bce_logits_{red}', 'bce_logits', red, torch.randn(N, C) * 3,
            torch.rand(N, C))
        big = torch.tensor([[30.0, -30.0, 29.5, -29.5, 0.25], [-30.0, 30.0, 15.0, -15.0, 30.0]])
        add(w, torch, f'bce_logits_large_{red}', 'bce_logits', red, big,
            torch.tensor([[0.0, 1.0, 1.0, 0.0, 0.5], [0.0, 1.0, 0.3, 0.7, 1.0]]))
        # Keras categorical cross-entropy: unnormalised positive scores, soft targets
        p = torch.rand(N, C) + 0.05
        t = torch.softmax(torch.randn(N, C), -1)
        add(w, torch, f'cce_{red}', 'cce', red, p, t)
        # cross_entropy: class indices, no smoothing
        add(w, torch, f'ce_{red}', 'ce', red, torch.randn(N, C) * 2, torch.randint(0, C, (N,)))
        # label smoothing 0.1 and one ignored sample (PyTorch's default ignore_index -100)
        labels = torch.randint(0, C, (N,))
        labels[3] = -100
        add(w, torch, f'ce_smooth_ignored_{red}', 'ce', red, torch.randn(N, C) * 2, labels, 0.1)

    # bce at and near the clamp: log(0) = -inf is clamped at -100; the gradient stays finite
    # ((p - t) / max(p (1 - p), 1e-12)). PyTorch's target gradient is -logit(p), infinite at 0 and
    # 1, so the target gets no gradient here.
    p = torch.tensor([[0.0, 1.0, 1e-8, 0.99999994, 0.5],
                      [1.0, 0.0, 1e-30, 1e-4, 0.9999],
                      [0.0, 1.0, 0.0, 1.0, 0.3]])
    t = torch.tensor([[1.0, 0.0, 1.0, 0.0, 0.5],
                      [1.0, 0.0, 0.0, 1.0, 1.0],
                      [0.3, 0.6, 0.0, 1.0, 0.0]])
    for red in REDUCTIONS:
        add(w, torch, f'bce_clamp_{red}', 'bce', red, p, t, target_grad=False)

    # categorical cross-entropy with clipping at both ends: tiny scores (q < 1e-7, no gradient)
    # and a dominant one (q > 1 - 1e-7)
    p = torch.rand(4, 6) + 0.05
    p[0, 1] = 1e-9
    p[0, 4] = 3e-10
    p[1] = torch.tensor([2.0, 1e-9, 1e-9, 1e-10, 2e-9, 1e-9])
    p[2, 0] = 1e-6
    t = torch.softmax(torch.randn(4, 6), -1)
    for red in ('mean', 'none'):
        add(w, torch, f'cce_clip_{red}', 'cce', red, p, t)

    # rows wider than one work-item's share (several work-items per row on every device)
    labels = torch.randint(0, 70, (3,))
    add(w, torch, 'ce_wide_smooth_mean', 'ce', 'mean', torch.randn(3, 70) * 3, labels, 0.2)
    add(w, torch, 'cce_wide_sum', 'cce', 'sum', torch.rand(3, 70) + 0.01,
        torch.softmax(torch.randn(3, 70), -1))
    # another shape for the elementwise losses
    add(w, torch, 'mse_3d_mean', 'mse', 'mean', torch.randn(2, 3, 5), torch.randn(2, 3, 5))
