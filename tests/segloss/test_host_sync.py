"""No host synchronisation in any loss's forward + backward with value checks off (issue 11, item 14).

Structural check on the CPU: :class:`loss_zoo.HostSyncCounter` records every call that would synchronise with the
host on an accelerator. The ABL torch path (the one used on a GPU) is forced instead of the CPU kernels. The
same cases run on CUDA under ``torch.cuda.set_sync_debug_mode("error")`` in ``test_gpu.py``.
"""

from __future__ import annotations

import pytest
import torch
from loss_zoo import HostSyncCounter, cases

import segloss
import segloss.active_boundary as abl_module

NAMES = list(cases())


@pytest.fixture
def checks_off(monkeypatch):
    monkeypatch.setattr(abl_module, "_cpu_kernels", lambda device: False)  # the GPU code path
    segloss.set_value_checks(False)
    yield
    segloss.set_value_checks(True)


@pytest.mark.parametrize("name", NAMES)
def test_forward_backward_without_host_sync(name, checks_off):
    x, fn = cases(h=24, w=24)[name]
    with HostSyncCounter() as counter:
        loss = fn(x)
        loss.backward()
    assert counter.calls == [], f"{name}: {counter.calls}"
    assert torch.isfinite(loss) and x.grad is not None and torch.isfinite(x.grad).all()


def test_counter_sees_the_syncs_it_is_meant_to():
    x = torch.ones(3)
    with HostSyncCounter() as counter:
        x.sum().item()
        bool(x.any())
        torch.tensor([1.0, 2.0], device=x.device)
        _ = x[x > 0]
    assert counter.calls == ["item", "__bool__", "tensor(python data, device=...)", "boolean-mask indexing"]


def test_value_checks_cost_one_read():
    x, fn = cases(h=16, w=16)["HindsightLoss"]
    with HostSyncCounter() as counter:
        fn(x)
    assert counter.calls == ["tolist"]


@pytest.mark.parametrize("name", [n for n in NAMES if n != "CrossEntropy (reference)"])
def test_value_checks_cost_one_read_in_every_loss(name, monkeypatch):
    # SelectionLoss (scores, then masks / target), CELovaszABLLoss (ABL's checks, then Lovász's again) and
    # CASLoss(max_regions=...) (the values, then `bool(any(region >= max_regions))`) read the device twice
    monkeypatch.setattr(abl_module, "_cpu_kernels", lambda device: False)
    x, fn = cases(h=16, w=16)[name]
    with HostSyncCounter() as counter:
        fn(x)
    assert counter.calls == ["tolist"], f"{name}: {counter.calls}"
