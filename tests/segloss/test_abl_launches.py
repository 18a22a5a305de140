"""The Active Boundary Loss's torch code (the code a GPU runs) stays lean (issue 11, item 16).

In eager mode on a GPU, ABL at training sizes costs (a) one kernel launch per operator and (b) any kernel that
serialises work: the gradient of an advanced-indexing read (``IndexBackward``) sorts its indices on CUDA and walks
each run of equal indices with one warp, so thousands of unused list slots that all pointed at pixel 0 cost
milliseconds. Checked structurally on the CPU with the torch profiler (operator counts, no timing): the torch code
is forced, as in ``test_host_sync.py``.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch.profiler import profile

import segloss
import segloss._distance as distance_module
import segloss.active_boundary as abl_module


@pytest.fixture
def torch_path(monkeypatch):
    monkeypatch.setattr(abl_module, "_cpu_kernels", lambda device: False)
    monkeypatch.setattr(abl_module, "squared_distance_to_mask", distance_module.squared_distance_to_mask_torch)
    monkeypatch.setattr(distance_module, "squared_distance_to_mask", distance_module.squared_distance_to_mask_torch)
    segloss.set_value_checks(False)
    yield
    segloss.set_value_checks(True)


def _inputs(n=2, c=5, h=64, w=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.nn.functional.interpolate(torch.randn(n, c, h // 8, w // 8, generator=g), size=(h, w),
                                             mode="bilinear") * 3
    labels = torch.randint(0, c, (n, 1, h // 16, w // 16), generator=g).float()
    labels = torch.nn.functional.interpolate(labels, size=(h, w))[:, 0].long()
    labels[:, : h // 10] = 255
    return logits, labels


def _profiled_step(compat):
    logits, labels = _inputs()
    abl_module.active_boundary_loss(logits.clone().requires_grad_(), labels, compat=compat).backward()  # warm-up
    x = logits.clone().requires_grad_()
    with profile() as prof:
        abl_module.active_boundary_loss(x, labels, compat=compat).backward()
    return prof.events()


@pytest.mark.parametrize("compat", ["paper", "official"])
def test_operator_budget_of_the_torch_path(torch_path, compat):
    # operators dispatched from Python / autograd in one forward + backward at (2, 5, 64, 128), each at least one
    # launch on a GPU: 531 (paper) / 534 (official) before issue 11 item 16, 280 / 275 after
    events = _profiled_step(compat)
    top = [e for e in events if e.name.startswith("aten::")
           and (e.cpu_parent is None or not e.cpu_parent.name.startswith("aten::"))]
    assert len(top) <= 320, len(top)


@pytest.mark.parametrize("compat", ["paper", "official"])
def test_no_sorting_index_gradient(torch_path, compat):
    names = {e.name for e in _profiled_step(compat)}
    assert not any("IndexBackward" in name or "IndexPutBackward" in name for name in names), sorted(names)


@pytest.mark.parametrize(("n", "h", "w", "density", "cap"), [(2, 16, 24, 0.05, 100), (3, 7, 5, 0.5, 105),
                                                            (1, 9, 9, 0.0, 1), (2, 4, 4, 1.0, 32)])
def test_compact_lists_true_entries_and_spreads_unused_slots(n, h, w, density, cap):
    mask = torch.rand(n, h, w, generator=torch.Generator().manual_seed(h * w)) < density
    index, valid = abl_module._compact(mask, cap)
    expected = mask.reshape(-1).nonzero().squeeze(1)[:cap]
    assert index.shape == valid.shape == (cap,)
    assert torch.equal(index[valid], expected) and valid.sum() == expected.numel()
    assert valid[: expected.numel()].all()  # the listed entries come first
    assert index.unique().numel() == cap or index[~valid].unique().numel() == int((~valid).sum())
    assert (index >= 0).all() and (index < mask.numel()).all()


@pytest.mark.parametrize("compat", ["paper", "official"])
def test_torch_path_traces_as_one_graph(torch_path, compat):
    # the GPU code (EDT included) has no graph break: torch.compile(fullgraph=True) traces it whole
    logits, labels = _inputs(2, 4, 24, 40)

    def loss_fn(p, t):
        return abl_module.active_boundary_loss(p, t, compat=compat, max_n_ratio=0.05)

    torch._dynamo.reset()
    getattr(torch._dynamo.utils, "warn_once_cache", set()).clear()  # dynamo warns once per process
    x = logits.clone().requires_grad_()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = torch.compile(loss_fn, backend="aot_eager", fullgraph=True)(x, labels)
    out.backward()
    # the cached schedules are plain functions while dynamo traces: no "lru_cache-wrapped function" warning
    assert not [str(w.message) for w in caught if "lru_cache" in str(w.message)]
    ref = loss_fn(logits, labels)
    assert out.item() > 0
    assert out.item() == pytest.approx(ref.item(), rel=1e-6)
