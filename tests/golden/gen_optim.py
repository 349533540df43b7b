"""gen_optim.py — golden cases of the optimizers (tests/test_optim.c reads tests/golden/optim.txt).

Optimizer cases: ints kind (0 sgd, 1 adam, 2 adamw, 3 rmsprop, as clnn_optim_kind), nesterov,
centered; floats lr, momentum, dampening, weight_decay, beta1, beta2, eps, alpha, clip (0: no
clipping, else torch.nn.utils.clip_grad_norm_ before each step); tensors p0 (the initial
parameter), g1 g2 g3 (the gradient of each step) and p1 p2 p3 (the parameter after each step of
torch.optim).
Schedule cases (names sched_*): ints schedule (1 step, 2 exponential, 3 cosine as
clnn_schedule_kind), step_size, t_max; floats lr, gamma, eta_min and lrs: the learning rate of
epochs 0 .. 9 from PyTorch's scheduler (read after each scheduler.step()).
"""
KINDS = {'sgd': 0, 'adam': 1, 'adamw': 2, 'rmsprop': 3}


def make(torch, kind, p, cfg):
    if kind == 'sgd':
        return torch.optim.SGD([p], lr=cfg['lr'], momentum=cfg.get('momentum', 0.0),
                               dampening=cfg.get('dampening', 0.0),
                               weight_decay=cfg.get('weight_decay', 0.0),
                               nesterov=bool(cfg.get('nesterov', 0)))
    if kind in ('adam', 'adamw'):
        cls = torch.optim.Adam if kind == 'adam' else torch.optim.AdamW
        return cls([p], lr=cfg['lr'], betas=(cfg.get('beta1', 0.9), cfg.get('beta2', 0.999)),
                   eps=cfg['eps'], weight_decay=cfg.get('weight_decay', 0.0))
    return torch.optim.RMSprop([p], lr=cfg['lr'], alpha=cfg.get('alpha', 0.99), eps=cfg['eps'],
                               weight_decay=cfg.get('weight_decay', 0.0),
                               momentum=cfg.get('momentum', 0.0),
                               centered=bool(cfg.get('centered', 0)))


def add(w, torch, name, kind, cfg, n=7, gscale=1.0):
    p0 = torch.randn(n)
    p = p0.clone().requires_grad_(True)
    opt = make(torch, kind, p, cfg)
    tensors = {'p0': p0}
    for s in range(1, 4):
        g = torch.randn(n) * gscale
        tensors[f'g{s}'] = g
        p.grad = g.clone()
        if cfg.get('clip', 0.0) > 0:
            torch.nn.utils.clip_grad_norm_([p], cfg['clip'])
        opt.step()
        tensors[f'p{s}'] = p.detach().clone()
    floats = {k: cfg.get(k, d) for k, d in
              (('lr', 0.0), ('momentum', 0.0), ('dampening', 0.0), ('weight_decay', 0.0),
               ('beta1', 0.9), ('beta2', 0.999), ('eps', 0.0), ('alpha', 0.99), ('clip', 0.0))}
    w.case(name, ints={'kind': KINDS[kind], 'nesterov': cfg.get('nesterov', 0),
                       'centered': cfg.get('centered', 0)},
           floats=floats, tensors=tensors)


def add_schedule(w, torch, name, kind, lr, **kw):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    S = torch.optim.lr_scheduler
    if kind == 1:
        sched = S.StepLR(opt, step_size=kw['step_size'], gamma=kw['gamma'])
    elif kind == 2:
        sched = S.ExponentialLR(opt, gamma=kw['gamma'])
    else:
        sched = S.CosineAnnealingLR(opt, T_max=kw['t_max'], eta_min=kw['eta_min'])
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]['lr'])
        opt.step()
        sched.step()
    w.case(name, ints={'schedule': kind, 'step_size': kw.get('step_size', 1),
                       't_max': kw.get('t_max', 1)},
           floats={'lr': lr, 'gamma': kw.get('gamma', 0.1), 'eta_min': kw.get('eta_min', 0.0),
                   'lrs': lrs})


def generate(w, torch):
    add(w, torch, 'sgd_plain', 'sgd', {'lr': 0.1})
    add(w, torch, 'sgd_momentum', 'sgd', {'lr': 0.1, 'momentum': 0.9})
    add(w, torch, 'sgd_nesterov_wd', 'sgd',
        {'lr': 0.05, 'momentum': 0.9, 'nesterov': 1, 'weight_decay': 0.01})
    add(w, torch, 'sgd_dampening_wd', 'sgd',
        {'lr': 0.05, 'momentum': 0.8, 'dampening': 0.3, 'weight_decay': 0.1}, n=13)
    add(w, torch, 'adam_eps1e-8', 'adam', {'lr': 0.01, 'eps': 1e-8})
    add(w, torch, 'adam_eps1e-7', 'adam', {'lr': 0.01, 'eps': 1e-7}, n=11)
    add(w, torch, 'adam_wd_betas', 'adam',
        {'lr': 0.02, 'eps': 1e-8, 'weight_decay': 0.1, 'beta1': 0.8, 'beta2': 0.99})
    add(w, torch, 'adamw', 'adamw', {'lr': 0.01, 'eps': 1e-8, 'weight_decay': 0.1})
    add(w, torch, 'adamw_eps1e-7', 'adamw', {'lr': 0.003, 'eps': 1e-7, 'weight_decay': 0.01},
        n=9)
    add(w, torch, 'rmsprop', 'rmsprop', {'lr': 0.01, 'eps': 1e-8})
    add(w, torch, 'rmsprop_centered_momentum_wd', 'rmsprop',
        {'lr': 0.01, 'eps': 1e-8, 'momentum': 0.5, 'centered': 1, 'weight_decay': 0.05,
         'alpha': 0.9})
    # clipping by global norm: gradients of norm ~ 6, clipped to 0.5 before every step
    add(w, torch, 'sgd_momentum_clip', 'sgd', {'lr': 0.1, 'momentum': 0.9, 'clip': 0.5},
        gscale=2.0)
    add(w, torch, 'adam_clip', 'adam', {'lr': 0.01, 'eps': 1e-8, 'clip': 1.0}, n=300)
    add_schedule(w, torch, 'sched_step', 1, 0.1, step_size=3, gamma=0.5)
    add_schedule(w, torch, 'sched_exponential', 2, 0.05, gamma=0.9)
    add_schedule(w, torch, 'sched_cosine', 3, 0.1, t_max=6, eta_min=0.001)
