"""Test setup for the GR00T plugin: importable helpers and one intra-op thread.

The tiny model's matmuls are far smaller than OpenMP's spin-up cost; with
other test processes on the same 2 cores, 2 threads made each act ~100x slower.
"""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
