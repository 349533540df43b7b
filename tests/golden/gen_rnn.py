"""gen_rnn.py — golden cases of the recurrent family (see gen_golden.py): torch.nn.LSTM, nn.GRU and
nn.RNN (tanh, relu) with 1 and 2 layers, one or two directions, batch_first true and false, with
and without biases, and packed sequences (pack_padded_sequence with per-sample lengths).

Every case holds: int mode (clnn_rnn_mode: 0 RNN tanh, 1 RNN relu, 2 LSTM, 3 GRU), layers,
bidirectional, batch_first, bias, has_lengths, lengths (N values), N, T, I, H; tensors x (in the
module's layout: (N, T, I) or (T, N, I)), h0 (and c0 for LSTM) of shape (layers * dirs, N, H), the
module's parameters under PyTorch's names (weight_ih_l0, bias_hh_l1_reverse, ...), r, r_h (r_c)
and the results: y (padded with zeros past each length), h_n (c_n), and the gradients of
sum(y r) + sum(h_n r_h) (+ sum(c_n r_c)) with respect to x, h0 (c0) and every parameter (d_<name>).
The C suite builds the same stack from single-layer single-direction clnn_rnn calls.
"""

MODES = {'rnn_tanh': 0, 'rnn_relu': 1, 'lstm': 2, 'gru': 3}


def rnn_case(w, torch, name, kind, N=3, T=5, I=4, H=3, layers=1, bidir=False, batch_first=True,
             bias=True, lengths=None):
    nn = torch.nn
    D = 2 if bidir else 1
    args = dict(input_size=I, hidden_size=H, num_layers=layers, bias=bias,
                batch_first=batch_first, bidirectional=bidir)
    if kind == 'lstm':
        m = nn.LSTM(**args)
    elif kind == 'gru':
        m = nn.GRU(**args)
    else:
        m = nn.RNN(nonlinearity=kind[4:], **args)
    x = torch.randn((N, T, I) if batch_first else (T, N, I), requires_grad=True)
    h0 = (0.5 * torch.randn(layers * D, N, H)).requires_grad_(True)
    c0 = (0.5 * torch.randn(layers * D, N, H)).requires_grad_(True)
    state = (h0, c0) if kind == 'lstm' else h0
    if lengths is not None:
        packed = nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths),
                                                   batch_first=batch_first, enforce_sorted=False)
        out, st = m(packed, state)
        y, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    else:
        y, st = m(x, state)
    h_n, c_n = st if kind == 'lstm' else (st, None)
    r, r_h = torch.randn(y.shape), torch.randn(h_n.shape)
    loss = (y * r).sum() + (h_n * r_h).sum()
    tensors = dict(x=x, h0=h0)
    if kind == 'lstm':
        r_c = torch.randn(c_n.shape)
        loss = loss + (c_n * r_c).sum()
        tensors.update(c0=c0)
    loss.backward()
    params = dict(m.named_parameters())
    tensors.update({k: v for k, v in params.items()})
    tensors.update(r=r, r_h=r_h, y=y, h_n=h_n, dx=x.grad, dh0=h0.grad)
    if kind == 'lstm':
        tensors.update(r_c=r_c, c_n=c_n, dc0=c0.grad)
    tensors.update({'d_' + k: v.grad for k, v in params.items()})
    ints = dict(mode=MODES[kind], layers=layers, bidirectional=int(bidir),
                batch_first=int(batch_first), bias=int(bias), has_lengths=int(lengths is not None),
                lengths=list(lengths or [T] * N), N=N, T=T, I=I, H=H)
    w.case(name, ints=ints, tensors=tensors)


def generate(w, torch):
    rnn_case(w, torch, 'lstm_1layer', 'lstm')
    rnn_case(w, torch, 'lstm_2layer_bidir_lengths_seqfirst', 'lstm', layers=2, bidir=True,
             batch_first=False, lengths=[5, 2, 1])
    rnn_case(w, torch, 'lstm_bidir_lengths', 'lstm', N=4, T=6, I=3, H=4, bidir=True,
             lengths=[3, 6, 1, 4])
    rnn_case(w, torch, 'lstm_nobias_seqfirst', 'lstm', batch_first=False, bias=False)
    rnn_case(w, torch, 'gru_1layer_lengths', 'gru', lengths=[1, 5, 3])
    rnn_case(w, torch, 'gru_2layer_bidir', 'gru', layers=2, bidir=True)
    rnn_case(w, torch, 'rnn_tanh_bidir_lengths', 'rnn_tanh', bidir=True, lengths=[2, 5, 4])
    rnn_case(w, torch, 'rnn_relu_2layer_seqfirst', 'rnn_relu', layers=2, batch_first=False)
