"""gen_safetensors.py — writes tests/golden/safetensors_small.safetensors, the file
tests/test_safetensors.c reads as "a file written by PyTorch's safetensors": the tensors below,
made by torch, laid out exactly as safetensors.torch.save_file(tensors, path,
metadata={"format": "pt"}) lays them out (the Python package is not needed, nor installed here):

  * the data sorted by dtype, largest dtype first in the Rust enum's order (U64, I64, F64, F32,
    U32, I32, BF16, F16, U16, I16, I8, U8, BOOL), then by name; each tensor's little-endian
    bytes back to back, data_offsets relative to the end of the header;
  * the header compact JSON (separators ',' and ':'), "__metadata__" first, then the tensors in
    data order, each {"dtype", "shape", "data_offsets"} in that key order;
  * the header padded with spaces to a multiple of 8 bytes, preceded by its length as u64 LE.

Run with:  /usr/bin/python3 tests/golden/gen_safetensors.py   (torch 1.13; deterministic)
The values are simple on purpose: the C test checks them literally.
"""
import json
import os
import struct

import torch

RUST_ORDER = ['BOOL', 'U8', 'I8', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64',
              'U64']
DTYPES = {torch.bool: 'BOOL', torch.uint8: 'U8', torch.int8: 'I8', torch.int16: 'I16',
          torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int32: 'I32',
          torch.float32: 'F32', torch.float64: 'F64', torch.int64: 'I64'}


def tensors():
    return {
        'weight': (torch.arange(6, dtype=torch.float32) * 0.5 - 1.0).reshape(2, 3),
        'bias': torch.tensor([0.25, -2.0, 3.5], dtype=torch.float16),
        'step': torch.tensor(7, dtype=torch.int64),  # 0-d
        'mask': torch.tensor([True, False, False, True]),
        'scale': torch.tensor([1.5, -0.125], dtype=torch.bfloat16),
        'empty': torch.zeros(0, 3, dtype=torch.float32),
        'pixels': torch.tensor([[0, 127], [128, 255]], dtype=torch.uint8),
        'delta': torch.tensor([-128, 5, 127], dtype=torch.int8),
        'ids': torch.tensor([-1, 2147483647], dtype=torch.int32),
        'hist': torch.tensor([-32768, 1, 32767], dtype=torch.int16),
        'var': torch.tensor([[1e-300], [-2.5]], dtype=torch.float64),
    }


def raw_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: the same 16 bits as int16
        t = t.view(torch.int16)
    return t.numpy().astype(t.numpy().dtype.newbyteorder('<')).tobytes()


def serialize(named, metadata):
    items = sorted(named.items(), key=lambda kv: (-RUST_ORDER.index(DTYPES[kv[1].dtype]), kv[0]))
    header = {'__metadata__': metadata}
    data = b''
    for name, t in items:
        b = raw_bytes(t)
        header[name] = {'dtype': DTYPES[t.dtype], 'shape': list(t.shape),
                        'data_offsets': [len(data), len(data) + len(b)]}
        data += b
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * ((8 - len(text) % 8) % 8)
    return struct.pack('<Q', len(text)) + text + data


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       'safetensors_small.safetensors')
    with open(out, 'wb') as f:
        f.write(serialize(tensors(), {'format': 'pt'}))
    print('wrote', out)


if __name__ == '__main__':
    main()
