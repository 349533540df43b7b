"""golden.py — writes the golden files that the C tests read through tests/golden_io.c.

Format (text, one case after another, all numbers in C locale):
    clnn-golden 1
    case <name>
    int <key> <n> <v1> ... <vn>
    float <key> <n> <v1> ... <vn>
    tensor <key> <ndim> <d0> ... <d(ndim-1)>
    <numel float32 values, 8 per line, %.9g: exact round trip>
    end
Keys and case names have no spaces. Tensors are written in C (row-major) order as float32.
"""
import math


class GoldenWriter:
    def __init__(self, path):
        self.path = path
        self.f = open(path, 'w')
        self.f.write('clnn-golden 1\n')
        self.names = set()

    def case(self, name, ints=None, floats=None, tensors=None):
        """ints/floats: {key: number or list}; tensors: {key: torch tensor or nested lists}."""
        assert ' ' not in name and name not in self.names, name
        self.names.add(name)
        w = self.f.write
        w(f'case {name}\n')
        for key, v in (ints or {}).items():
            v = list(v) if isinstance(v, (list, tuple)) else [v]
            w(f'int {key} {len(v)} ' + ' '.join(str(int(x)) for x in v) + '\n')
        for key, v in (floats or {}).items():
            v = list(v) if isinstance(v, (list, tuple)) else [v]
            w(f'float {key} {len(v)} ' + ' '.join(f'{float(x):.17g}' for x in v) + '\n')
        for key, t in (tensors or {}).items():
            t = t.detach().to('cpu').float().contiguous() if hasattr(t, 'detach') else t
            shape = list(t.shape)
            flat = t.reshape(-1).tolist()
            for x in flat:
                assert math.isfinite(x), f'{name}/{key}: non-finite value'
            w(f'tensor {key} {len(shape)} ' + ' '.join(str(d) for d in shape) + '\n')
            for i in range(0, len(flat), 8):
                w(' '.join(f'{x:.9g}' for x in flat[i:i + 8]) + '\n')
        w('end\n')

    def close(self):
        self.f.close()
