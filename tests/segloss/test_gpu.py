"""Every loss on a CUDA device (issue 11, item 17): no host sync, the CPU's value, bf16 autocast, torch.compile.

The ``gpu``-marked tests are skipped without CUDA (``tests/conftest.py``); run them with
``python -m pytest -m gpu tests/segloss/test_gpu.py``. Their bodies are plain functions of a device, and the
unmarked ``test_bodies_on_cpu`` runs them on the CPU so that their logic is checked on every machine.
Value checks are off throughout (the documented set-up of a tuned training loop).
"""

from __future__ import annotations

import contextlib

import pytest
import torch
from loss_zoo import SMALL_ONLY, cases

import segloss

NAMES = list(cases())
SIZE = dict(n=2, c=5, h=48, w=64)


@contextlib.contextmanager
def checks_off():
    segloss.set_value_checks(False)
    try:
        yield
    finally:
        segloss.set_value_checks(True)


@contextlib.contextmanager
def sync_debug_error(device: torch.device):
    """``torch.cuda.set_sync_debug_mode("error")`` on CUDA: any host synchronisation raises."""
    if device.type != "cuda":
        yield
        return
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(0)


def run_case(name: str, device, **size) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss value and gradient of one zoo case on ``device``."""
    x, fn = cases(device, **{**SIZE, **size})[name]
    loss = fn(x)
    loss.backward()
    return loss.detach(), x.grad


def check_no_host_sync(name: str, device) -> None:
    device = torch.device(device)
    with checks_off():
        run_case(name, device)  # warm-up: lazy initialisation (cuBLAS handles, caches) may sync once
        x, fn = cases(device, **SIZE)[name]  # building the inputs copies them to the device: not the loss's doing
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        with sync_debug_error(device):
            loss = fn(x)
            loss.backward()
        assert torch.isfinite(loss).item() and torch.isfinite(x.grad).all().item()


def check_matches_cpu(name: str, device) -> None:
    with checks_off():
        val, grad = run_case(name, device)
        ref_val, ref_grad = run_case(name, "cpu")
    torch.testing.assert_close(val.cpu(), ref_val, rtol=1e-4, atol=1e-5)
    scale = ref_grad.abs().max().clamp_min(1e-12)
    torch.testing.assert_close(grad.cpu() / scale, ref_grad / scale, rtol=0, atol=2e-3)


def check_bf16_autocast(name: str, device) -> None:
    device = torch.device(device)
    with checks_off():
        ref, _ = run_case(name, device)
        x, fn = cases(device, **SIZE)[name]
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = fn(x)
        loss.backward()
    assert loss.dtype == torch.float32, loss.dtype
    assert torch.isfinite(loss).item() and torch.isfinite(x.grad).all().item()
    torch.testing.assert_close(loss.detach(), ref, rtol=5e-2, atol=5e-3)


def check_compiled(name: str, device, backend: str = "inductor", **size) -> None:
    with checks_off():
        ref, ref_grad = run_case(name, device, **size)
        x, fn = cases(device, **{**SIZE, **size})[name]
        torch._dynamo.reset()
        loss = torch.compile(fn, backend=backend)(x)
        loss.backward()
    torch.testing.assert_close(loss.detach(), ref, rtol=1e-3, atol=1e-5)
    scale = ref_grad.abs().max().clamp_min(1e-12)
    torch.testing.assert_close(x.grad / scale, ref_grad / scale, rtol=0, atol=2e-3)


# --------------------------------------------------------------------------------------------------------------
# on CUDA
@pytest.mark.gpu
@pytest.mark.parametrize("name", NAMES)
def test_no_host_sync_on_cuda(name):
    check_no_host_sync(name, "cuda")


@pytest.mark.gpu
@pytest.mark.parametrize("name", NAMES)
def test_cuda_matches_cpu(name):
    check_matches_cpu(name, "cuda")


@pytest.mark.gpu
@pytest.mark.parametrize("name", NAMES)
def test_bf16_autocast_on_cuda(name):
    check_bf16_autocast(name, "cuda")


@pytest.mark.gpu
@pytest.mark.parametrize("name", [n for n in NAMES if n not in SMALL_ONLY])
def test_torch_compile_inductor_on_cuda(name):
    check_compiled(name, "cuda")


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["LovaszSoftmaxLoss", "ActiveBoundaryLoss", "ActiveBoundaryLoss-official"])
def test_inductor_long_scans_compile_on_cuda(name):
    # issue 11 item 15: inductor's split scan failed here at (4, 21, 256, 256) on torch 2.11
    check_compiled(name, "cuda", n=4, c=21, h=256, w=256)


# --------------------------------------------------------------------------------------------------------------
# the same bodies on the CPU (compile with aot_eager: inductor's C++ build takes minutes on a small machine)
@pytest.mark.parametrize("name", ["SoftJaccardLoss", "SizeTargetLoss", "PottsCRFLoss", "LovaszSoftmaxLoss"])
def test_bodies_on_cpu(name):
    check_no_host_sync(name, "cpu")
    check_matches_cpu(name, "cpu")
    check_bf16_autocast(name, "cpu")
    check_compiled(name, "cpu", backend="aot_eager")
