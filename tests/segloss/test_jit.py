"""segloss's own JIT switch and its independence from segmetrics' private modules."""

import json
import os
import pathlib
import subprocess
import sys

import torch

import segloss
from segloss._distance import NO_MASK_SQDIST, squared_distance_to_mask_torch

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run_python(code: str, **env: str) -> str:
    full_env = {k: v for k, v in os.environ.items() if not k.endswith("_DISABLE_JIT")}
    full_env.update(env)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full_env, capture_output=True, text=True,
                         timeout=300, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_import_segloss_loads_no_segmetrics_module():
    loaded = json.loads(run_python(
        "import json, sys, segloss; print(json.dumps(sorted(m for m in sys.modules if m.startswith('segmetrics'))))"
    ))
    assert loaded == []


def test_segloss_sources_import_nothing_private_from_segmetrics():
    for path in (ROOT / "segloss").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "from segmetrics._" not in text and "import segmetrics._" not in text, path.name


def test_disable_switch_runs_kernels_as_python_with_the_same_values():
    code = (
        "import torch, segloss._cpu_ops as ops, segloss._jit as jit\n"
        "g = torch.Generator().manual_seed(0)\n"
        "z = torch.randn(1, 3, 6, 7, generator=g)\n"
        "a, b, lse = ops.pair_kl_maps_cpu(z)\n"
        "print(jit.JIT_DISABLED, type(ops._pair_kl_kernel).__module__, repr([a.sum().item(), lse.sum().item()]))"
    )
    disabled, module, values = run_python(code, SEGLOSS_DISABLE_JIT="1").split(" ", 2)
    assert disabled == "True" and not module.startswith("numba")
    enabled, module_on, values_on = run_python(code).split(" ", 2)
    assert enabled == "False" and module_on.startswith("numba")
    torch.testing.assert_close(torch.tensor(eval(values)), torch.tensor(eval(values_on)), rtol=1e-5, atol=1e-5)


def test_segmetrics_switch_does_not_govern_segloss_kernels():
    code = "import segloss._jit as jit, segloss._cpu_ops as ops; print(jit.JIT_DISABLED, type(ops._pair_kl_kernel))"
    assert run_python(code, SEGMETRICS_DISABLE_JIT="1").startswith("False")


def test_cpu_distance_through_segmetrics_public_function_matches_torch():
    mask = torch.rand(2, 9, 11, generator=torch.Generator().manual_seed(1)) > 0.8
    mask[1] = False
    from segloss._cpu_ops import squared_distance_to_mask_cpu

    got = squared_distance_to_mask_cpu(mask)
    torch.testing.assert_close(got, squared_distance_to_mask_torch(mask))
    assert (got[1] == NO_MASK_SQDIST).all()
    assert segloss.__version__
