"""Smoke test of the benchmark scripts: each runs in its smallest mode and prints / writes its result table.

The numbers are not checked (tiny inputs, a shared CPU); what is checked is that a refactor of the packages
cannot silently break ``python benchmarks/bench_X.py``: exit status 0, no traceback, the table's header in
the output and in the ``--out`` file. To keep this fast, one child process runs every script in turn as
``python benchmarks/bench_X.py ARGS`` would (``runpy`` as ``__main__``, ``sys.argv`` and ``sys.path[0]`` set,
its stdout / stderr captured), so torch, numba and the packages are imported once instead of once per script.
The authors' code the benchmarks compare against is never here, so every script also runs its "anchor absent"
path. GPU-only scripts are run as their CPU dry run, and, on a machine without CUDA,
must refuse the GPU with one line and exit status 2 (no traceback).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"

#: script -> (arguments of its smallest mode, text its table must contain, also write ``--out``, needs pysod)
CASES = {
    "bench_active_boundary.py": (["--quick"], "| loss | size (N, C, H, W) | implementation |", True, False),
    "bench_can_latency.py": (["--device", "cpu", "--quick"], "bf16: f + g", False, False),
    "bench_crf.py": (["--quick"], "| implementation | time (ms) | × rloss lattice | × CE |", True, False),
    "bench_eval_folder.py": (["--n", "3", "--size", "128", "--workers", "0", "--pysod-subset", "2"],
                             "| run | images | wall time (s) |", True, True),
    "bench_gpu.py": (["--device", "cpu", "--quick", "--repeats", "1", "--no-compile", "--size", "2,19,64,64"],
                     "| loss | (N, C, H, W) | implementation | ms | speed-up vs authors | host syncs |", True, False),
    "bench_hce.py": (["--sizes", "64"], "| pysodmetrics HCE (ms) | speed-up vs pysod |", True, True),
    "bench_isnet.py": (["--quick"], "| training loop | ms / iteration |", True, False),
    "bench_losses_vs_ce.py": (["--quick"], "| loss | input | ours (ms) |", True, False),
    "bench_metric_families.py": (["--size", "32", "--msiou-size", "32", "--repeats", "1"],
                                 "| family | size | median ratio | worst ratio |", True, True),
    "bench_metrics.py": (["--sizes", "128", "--images", "blobs", "--repeats", "1", "--memory-size", "128"],
                         "### Peak extra memory per image", True, True),
    "bench_size_cas.py": (["--size", "2,5,32,32", "--repeats", "1"], "| loss | time (ms) | baseline |", True, False),
    "bench_weighted_fmeasure.py": (["--sizes", "64", "--repeats", "1", "--no-memory"], "| size | GT fraction |", True,
                                   True),
    "profile_abl_gpu.py": (["--device", "cpu", "--quick", "--repeats", "1"], "top operators by CPU time", False,
                           False),
}

#: GPU-only scripts: their arguments asking for CUDA
GPU_ONLY = {
    "bench_gpu.py": [],
    "profile_abl_gpu.py": [],
    "bench_can_latency.py": ["--device", "cuda", "--quick"],
}


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    for var in ("SEGLOSS_ABL_REPO", "SEGLOSS_LOVASZ_REPO", "RLOSS_BILATERALFILTER_DIR", "SEGMETRICS_DIS_REPO",
                "ISNET_AUTHORS_REPO"):  # the anchors are absent here, whatever the caller's shell says
        env.pop(var, None)
    return env


_RUNNER = r"""
import contextlib, io, json, os, runpy, sys, traceback

cases = json.loads(sys.argv[1])
base_path = list(sys.path[1:])
results = {}
for key, script, args in cases:
    sys.argv = [script, *args]
    sys.path[:] = [os.path.dirname(script), *base_path]  # as `python script`: its folder first
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        if isinstance(exc.code, str):
            err.write(exc.code + chr(10))
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        code = "uncaught exception"
        err.write(traceback.format_exc())
    results[key] = {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, dict]:
    """Run every case (and, without CUDA, every GPU-only refusal) in one child process; results by key."""
    import json

    import torch

    folder = tmp_path_factory.mktemp("bench")
    cases = []
    for script, (args, _, writes_out, needs_pysod) in CASES.items():
        if needs_pysod and importlib.util.find_spec("py_sod_metrics") is None:
            continue
        out = ["--out", str(folder / f"{script}.md")] if writes_out else []
        cases.append((script, str(BENCH / script), args + out))
    if not torch.cuda.is_available():
        cases += [(f"gpu:{script}", str(BENCH / script), args) for script, args in GPU_ONLY.items()]
    proc = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps(cases)], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for script in CASES:
        if script in results:
            results[script]["out"] = folder / f"{script}.md"
    return results


def test_every_benchmark_script_is_smoke_tested():
    scripts = {p.name for p in BENCH.glob("*.py") if not p.name.startswith("_")}
    assert scripts == set(CASES), "add the new benchmark script to CASES with its smallest mode"


@pytest.mark.parametrize("script", sorted(CASES))
def test_benchmark_runs_in_its_smallest_mode(script, runs):
    args, header, writes_out, needs_pysod = CASES[script]
    if needs_pysod:
        pytest.importorskip("py_sod_metrics")
    r = runs[script]
    assert r["code"] == 0, f"{script} {args} failed ({r['code']}):\n{r['stdout'][-3000:]}\n{r['stderr'][-3000:]}"
    assert "Traceback" not in r["stderr"]
    assert header in r["stdout"]
    if writes_out:
        assert header in r["out"].read_text()


@pytest.mark.parametrize("script", sorted(GPU_ONLY))
def test_gpu_only_script_refuses_a_cpu_machine_in_one_line(script, runs):
    """Without CUDA, each GPU-only path exits with status 2 and one line naming CUDA, no traceback."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available: the GPU paths are the gpu session's to run")
    r = runs[f"gpu:{script}"]
    assert r["code"] == 2, r
    assert "Traceback" not in r["stderr"]
    assert "CUDA" in r["stderr"].strip().splitlines()[-1]


def test_gpu_session_script_parses():
    proc = subprocess.run(["bash", "-n", str(BENCH / "gpu_session.sh")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
