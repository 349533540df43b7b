"""gen_persist.py — the PyTorch side of tests/test_persist.c's weight import
(clnn_model_load_weights): a small CNN whose attribute names (conv1, conv2, bn, fc) are the layer
names of the clnn model the test builds, its state_dict in safetensors files, and its outputs.

    class SmallCNN(nn.Module):            clnn (input (1, 12, 12)):
        conv1 = Conv2d(1, 4, 3)           Conv2D(4, 3x3, relu)     name "conv1"
        (relu, max_pool2d(2))             MaxPool2D(2, 2)
        conv2 = Conv2d(4, 8, 3)           Conv2D(8, 3x3, none)     name "conv2"
        bn = BatchNorm2d(8)               BatchNorm (eps 1e-5)     name "bn"
        (relu, flatten)                   Activation(relu), Flatten
        fc = Linear(72, 10)               Dense(10, none)          name "fc"   (logits)

Files written next to this script:
  persist_torch_cnn.safetensors      the state_dict as F32, bn.num_batches_tracked (I64) included,
                                     metadata {"format": "pt"} (what safetensors.torch.save_file
                                     writes);
  persist_torch_cnn_f64.safetensors  the float tensors as F64 (exact), without num_batches_tracked;
  persist_torch_cnn_f16.safetensors  the float tensors rounded to F16, without num_batches_tracked;
  persist.txt                        golden_io format (golden.py), case "torch_cnn": the input x
                                     (5, 1, 12, 12), the eval-mode logits y of the F32 weights and
                                     y_f16 of the F16-rounded weights (computed in f32).

The safetensors layout is written by hand (the Python package is not installed here): u64 LE
header length, compact JSON header ("__metadata__" first, then the tensors in data order: dtype
from largest to smallest as the Rust crate sorts, then by name), padded with spaces to a multiple
of 8 bytes, then the raw little-endian data.

Run with:  /usr/bin/python3 tests/golden/gen_persist.py   (torch 1.13; deterministic, CPU)
"""
import json
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

from golden import GoldenWriter

HERE = os.path.dirname(os.path.abspath(__file__))
RUST_ORDER = ['BOOL', 'U8', 'I8', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64',
              'U64']
DTYPES = {torch.float16: 'F16', torch.float32: 'F32', torch.float64: 'F64', torch.int64: 'I64'}


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.conv2 = nn.Conv2d(4, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(72, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.relu(self.bn(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))


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


def write(name, named):
    path = os.path.join(HERE, name)
    with open(path, 'wb') as f:
        f.write(serialize(named, {'format': 'pt'}))
    print('wrote', path)


def main():
    torch.manual_seed(1234)
    torch.set_grad_enabled(False)
    model = SmallCNN()
    model.bn.weight.uniform_(0.5, 1.5)  # not the default 1 and 0: they must load too
    model.bn.bias.uniform_(-0.2, 0.2)
    # non-trivial BatchNorm running statistics: a few training-mode batches
    model.train()
    for _ in range(3):
        model(torch.randn(16, 1, 12, 12) * 1.5 + 0.3)
    model.eval()
    x = torch.randn(5, 1, 12, 12)
    y = model(x)

    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    assert 'bn.num_batches_tracked' in sd and int(sd['bn.num_batches_tracked']) == 3
    floats = {k: v for k, v in sd.items() if v.dtype == torch.float32}
    write('persist_torch_cnn.safetensors', sd)
    write('persist_torch_cnn_f64.safetensors', {k: v.double() for k, v in floats.items()})
    half = {k: v.half() for k, v in floats.items()}
    write('persist_torch_cnn_f16.safetensors', half)

    model16 = SmallCNN()
    model16.load_state_dict({k: v.float() for k, v in half.items()}, strict=False)
    model16.eval()
    y16 = model16(x)
    assert (y16 - y).abs().max() > 1e-4  # the F16 file is really different

    w = GoldenWriter(os.path.join(HERE, 'persist.txt'))
    w.case('torch_cnn', ints={'num_batches_tracked': int(sd['bn.num_batches_tracked'])},
           tensors={'x': x, 'y': y, 'y_f16': y16})
    w.close()
    print('wrote', os.path.join(HERE, 'persist.txt'))


if __name__ == '__main__':
    main()
