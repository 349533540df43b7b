"""gen_rnn_layers.py — the PyTorch side of tests/test_rnn_layers.c: recurrent LAYERS (LSTM, GRU,
SimpleRNN of src/nn/layers.c) loaded from a PyTorch state_dict with clnn_model_load_weights, fed
padded token-id batches of varying lengths.

    class TextRNN(nn.Module):                        clnn (input_i32 ids (T)):
        emb = Embedding(V, E, padding_idx=0)         Embedding(V, E, padding_index 0)  "emb"
        rnn = LSTM / GRU / RNN(E, H, batch_first)    LSTM / GRU / SimpleRNN(H, layers)  "lstm", ...
              (attribute named like the clnn layer)     inputs (emb node, ids node)
        fc = Linear(D H, C)                          Dense(C, none)                     "fc"

    forward(ids): lengths = number of nonzero ids (every row is nonzero up to its length, then 0);
        packed = pack_padded_sequence(emb(ids), lengths, batch_first=True, enforce_sorted=False)
        out, h_n = rnn(packed)            (LSTM: h_n of (h_n, c_n))
        y = fc(cat(h_n[-2], h_n[-1]))     bidirectional, else fc(h_n[-1])
        seq = pad_packed_sequence(out, batch_first=True, total_length=T)  (zeros at padding)

Cases (golden_io format, rnn_layers.txt; one safetensors file each, the state_dict in F32 with
metadata {"format": "pt"}):
    lstm  LSTM(E, 3, num_layers=2, bidirectional)        rnn_layers_lstm.safetensors
    gru   GRU(E, 4, num_layers=1)                        rnn_layers_gru.safetensors
    rnn   RNN(E, 5, num_layers=2, nonlinearity='relu')   rnn_layers_rnn.safetensors
Each case holds ints V, E, H, C, layers, bidirectional, relu, N, T, lengths (N), params (the
state_dict's element count: emb + rnn + fc) and rnn_params (the recurrent module's alone);
tensors ids (N, T) padded with 0 after each length, y (N, C), seq (N, T, D H); and the no-lengths
case (unpacked input, every sequence T steps): ids_full (N, T) without any 0, y_full, seq_full.

The safetensors layout is written by hand as in gen_persist.py (the Python package is not
installed here).

Run with:  /usr/bin/python3 tests/golden/gen_rnn_layers.py   (torch 1.13; deterministic, CPU)
"""
import json
import os
import struct

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from golden import GoldenWriter

HERE = os.path.dirname(os.path.abspath(__file__))
RUST_ORDER = ['BOOL', 'U8', 'I8', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64',
              'U64']
DTYPES = {torch.float16: 'F16', torch.float32: 'F32', torch.float64: 'F64', torch.int64: 'I64'}

V, E, C, N, T = 12, 4, 3, 5, 6
LENGTHS = [6, 3, 1, 4, 2]


class TextRNN(nn.Module):
    def __init__(self, kind, name, H, layers, bidir):
        super().__init__()
        self.name = name
        self.bidir = bidir
        self.emb = nn.Embedding(V, E, padding_idx=0)
        args = dict(input_size=E, hidden_size=H, num_layers=layers, batch_first=True,
                    bidirectional=bidir)
        if kind == 'lstm':
            rnn = nn.LSTM(**args)
        elif kind == 'gru':
            rnn = nn.GRU(**args)
        else:
            rnn = nn.RNN(nonlinearity=kind, **args)
        setattr(self, name, rnn)  # the attribute name is the clnn layer name
        self.fc = nn.Linear(H * (2 if bidir else 1), C)

    def forward(self, ids, packed):
        x = self.emb(ids)
        rnn = getattr(self, self.name)
        if packed:
            lengths = (ids != 0).sum(1)
            out, st = rnn(pack_padded_sequence(x, lengths, batch_first=True,
                                               enforce_sorted=False))
            seq, _ = pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
        else:
            seq, st = rnn(x)
        h_n = st[0] if isinstance(st, tuple) else st
        last = torch.cat([h_n[-2], h_n[-1]], 1) if self.bidir else h_n[-1]
        return self.fc(last), seq


def serialize(named, metadata):
    items = sorted(named.items(), key=lambda kv: (-RUST_ORDER.index(DTYPES[kv[1].dtype]), kv[0]))
    header = {'__metadata__': metadata}
    data = b''
    for name, t in items:
        b = t.contiguous().numpy().astype(t.numpy().dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': DTYPES[t.dtype], 'shape': list(t.shape),
                        'data_offsets': [len(data), len(data) + len(b)]}
        data += b
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * ((8 - len(text) % 8) % 8)
    return struct.pack('<Q', len(text)) + text + data


def case(w, key, kind, name, H, layers, bidir):
    model = TextRNN(kind, name, H, layers, bidir)
    for p in getattr(model, name).parameters():
        p.mul_(2.0)  # livelier than PyTorch's U(+-1/sqrt(H)): outputs that differ between samples
    model.eval()
    ids = torch.zeros(N, T, dtype=torch.long)
    for n, length in enumerate(LENGTHS):
        ids[n, :length] = torch.randint(1, V, (length,))
    ids_full = torch.randint(1, V, (N, T))
    y, seq = model(ids, True)
    y_full, seq_full = model(ids_full, False)
    # padding really is zero in torch's padded output
    D = 2 if bidir else 1
    assert seq.shape == (N, T, D * H)
    for n, length in enumerate(LENGTHS):
        if length < T:
            assert seq[n, length:].abs().max().item() == 0

    sd = {k: v.detach().clone().float() for k, v in model.state_dict().items()}
    path = os.path.join(HERE, f'rnn_layers_{key}.safetensors')
    with open(path, 'wb') as f:
        f.write(serialize(sd, {'format': 'pt'}))
    print('wrote', path)
    rnn_params = sum(p.numel() for p in getattr(model, name).parameters())
    w.case(key,
           ints={'V': V, 'E': E, 'H': H, 'C': C, 'layers': layers, 'bidirectional': int(bidir),
                 'relu': int(kind == 'relu'), 'N': N, 'T': T, 'lengths': LENGTHS,
                 'params': sum(v.numel() for v in sd.values()), 'rnn_params': rnn_params},
           tensors={'ids': ids, 'y': y, 'seq': seq, 'ids_full': ids_full, 'y_full': y_full,
                    'seq_full': seq_full})


def main():
    torch.manual_seed(2024)
    torch.set_grad_enabled(False)
    w = GoldenWriter(os.path.join(HERE, 'rnn_layers.txt'))
    case(w, 'lstm', 'lstm', 'lstm', 3, 2, True)
    case(w, 'gru', 'gru', 'gru', 4, 1, False)
    case(w, 'rnn', 'relu', 'rnn', 5, 2, False)
    w.close()
    print('wrote', os.path.join(HERE, 'rnn_layers.txt'))


if __name__ == '__main__':
    main()
