#!/usr/bin/env python3
"""gen_golden.py [FAMILY...] — regenerates the golden files tests/golden/<family>.txt with PyTorch
(Debian's python3-torch; run with /usr/bin/python3). Each family module gen_<family>.py has
generate(writer, torch) that adds its cases: random inputs and parameters from a fixed seed, the
op's outputs, and the gradients of sum(y * r) for a fixed random r with respect to every input
and parameter. The files are committed; the C suite reads them and never needs torch.

    /usr/bin/python3 tests/golden/gen_golden.py            # every family
    /usr/bin/python3 tests/golden/gen_golden.py conv pool  # some
"""
import importlib
import os
import sys

import torch

from golden import GoldenWriter

FAMILIES = ['core', 'conv', 'pool', 'layout', 'act', 'norm', 'loss', 'optim', 'rnn']


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    families = sys.argv[1:] or FAMILIES
    torch.set_num_threads(1)
    for fam in families:
        try:
            mod = importlib.import_module(f'gen_{fam}')
        except ModuleNotFoundError:
            print(f'gen_golden: no gen_{fam}.py, skipped')
            continue
        torch.manual_seed(1234)
        path = os.path.join(here, f'{fam}.txt')
        w = GoldenWriter(path)
        mod.generate(w, torch)
        w.close()
        print(f'gen_golden: wrote {path} ({len(w.names)} cases, torch {torch.__version__})')


if __name__ == '__main__':
    main()
