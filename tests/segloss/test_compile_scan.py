"""Long prefix sums compile as short scans (issue 11, item 15).

Inductor's CUDA code generation of a *split scan* (a long ``cumsum`` over few rows) failed for Lovász and ABL at
(4, 21, 256, 256). While compiling, :func:`segloss._scan.cumsum` emits only scans of at most 32 elements, which
inductor never splits. Checked here on the traced graph (dynamo only: seconds on a CPU); the inductor build on CUDA
at that shape is in ``test_gpu.py``.
"""

from __future__ import annotations

import pytest
import torch

import segloss
import segloss.active_boundary as abl_module
from segloss._scan import BLOCK, blocked_cumsum, cumsum


@pytest.mark.parametrize(("shape", "dim"), [((21, 262144), 1), ((3, 1000, 7), 1), ((5,), 0), ((4, 33), 1), ((2, 32), 1),
                                            ((2, 1025), -1)])
def test_blocked_cumsum_equals_cumsum(shape, dim):
    g = torch.Generator().manual_seed(0)
    ints = torch.randint(0, 3, shape, generator=g)
    assert torch.equal(blocked_cumsum(ints, dim), ints.cumsum(dim))
    bools = torch.rand(shape, generator=g) > 0.5
    assert torch.equal(blocked_cumsum(bools, dim), bools.cumsum(dim))
    floats = torch.rand(shape, generator=g, dtype=torch.float64)
    torch.testing.assert_close(blocked_cumsum(floats, dim), floats.cumsum(dim))
    assert torch.equal(cumsum(ints, dim), ints.cumsum(dim))  # eager: the plain cumsum


def _scan_lengths(fn, *args):
    """Lengths of every cumsum in the graphs dynamo traces for ``fn(*args)`` (forward)."""
    lengths = []

    def backend(gm, example_inputs):
        for node in gm.graph.nodes:
            target = getattr(node.target, "__name__", str(node.target))
            if target == "cumsum":
                src = node.args[0].meta["example_value"]
                dim = node.args[1] if len(node.args) > 1 else node.kwargs["dim"]
                lengths.append(src.shape[dim])
        return gm.forward

    torch._dynamo.reset()
    out = torch.compile(fn, backend=backend)(*args)
    return lengths, out


@pytest.mark.parametrize("loss", ["lovasz", "abl", "abl_official", "cas"])
def test_compiled_losses_scan_at_most_32_elements(loss, monkeypatch):
    monkeypatch.setattr(abl_module, "_cpu_kernels", lambda device: False)  # the GPU code path
    n, c, h, w = 4, 21, 256, 256
    x = torch.randn(n, c, h, w)
    t = torch.randint(0, c, (n, h, w))
    fn = {
        "lovasz": segloss.LovaszSoftmaxLoss(),
        "abl": segloss.ActiveBoundaryLoss(),
        "abl_official": segloss.ActiveBoundaryLoss(compat="official"),
        "cas": segloss.CASLoss(max_regions=c),
    }[loss]
    segloss.set_value_checks(False)
    try:
        lengths, out = _scan_lengths(fn, x, t)
    finally:
        segloss.set_value_checks(True)
    assert lengths and max(lengths) <= BLOCK, lengths
    torch.testing.assert_close(out, fn(x, t), rtol=1e-5, atol=1e-6)
