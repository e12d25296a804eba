from __future__ import annotations

import pytest

pytest.importorskip("vlarl_gymnasium", reason="the sb3 bridge tests run on the gymnasium env plugin")


@pytest.fixture(autouse=True)
def one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
