"""What a plain install provides (issue 11, items 1, 4 and 5): CLI dependencies, Python 3.10, the test extra."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

from segmetrics.app.cli import main

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
TEST_COMMAND = 'pip install torch==2.13.0 && pip install ".[test]" && pip install --no-deps pysodmetrics==1.6.2'


def _names(reqs):
    import re

    return {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower(): r for r in reqs}


def test_the_cli_needs_nothing_beyond_the_base_install():
    base = _names(PYPROJECT["project"]["dependencies"])
    assert "tqdm" in base  # eval / stats progress bars
    assert "matplotlib" not in base and "matplotlib" in _names(PYPROJECT["project"]["optional-dependencies"]["plot"])


def test_tomli_backport_on_python_310():
    base = _names(PYPROJECT["project"]["dependencies"])
    assert base["tomli"].replace('"', "'").endswith("python_version < '3.11'")
    assert PYPROJECT["project"]["requires-python"] == ">=3.10"


def test_toml_config_read_with_tomli_on_310(tmp_path, monkeypatch):
    from segmetrics.app import config

    fake = type(sys)("tomli")
    fake.loads = tomllib.loads
    monkeypatch.setitem(sys.modules, "tomli", fake)
    monkeypatch.setitem(sys.modules, "tomllib", None)  # as on 3.10: `import tomllib` fails
    monkeypatch.setattr(sys, "version_info", (3, 10, 14, "final", 0))
    p = tmp_path / "eval.toml"
    p.write_text('out = "o"\n')
    assert config._read(p) == {"out": "o"}


def test_the_test_extra_does_not_cap_numpy_opencv_or_scikit_image():
    # pysodmetrics 1.6.2 requires numpy<2.3.5, scikit-image<0.26, opencv-python-headless<5: it is installed
    # with --no-deps by the test command instead, and what it imports (scikit-learn) is in the extra
    test = _names(PYPROJECT["project"]["optional-dependencies"]["test"])
    assert "pysodmetrics" not in test and "scikit-learn" in test
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert f"{TEST_COMMAND} && python -m pytest -q" in ci


def test_plot_without_matplotlib_names_the_extra(tmp_path, monkeypatch, capsys):
    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    from segmetrics.app.plot import plot_curves

    res = tmp_path / "r.json"
    res.write_text('{"schema": "segmetrics.results/1", "method": "m", "dataset": "d", "num_images": 1, '
                   '"metrics": {}, "curves": {"fm.curve": [0.5], "fm.precision": [0.5], "fm.recall": [0.5]}}')
    msg = r'plotting curves needs matplotlib: pip install "segloss-segmetrics\[plot\]"'
    with pytest.raises(ImportError, match=msg):
        plot_curves([res], "pr")
    assert main(["plot", str(res), "--out", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ['segmetrics plot: error: plotting curves needs matplotlib: pip install "segloss-segmetrics[plot]"']


def test_import_and_kernels_work_where_numba_cannot_write_its_cache(tmp_path):
    # A read-only install (site-packages not writable) run by a user without a writable home (Docker's nobody,
    # HOME=/nonexistent) leaves numba no cache folder: `@njit(cache=True)` raised "cannot cache function ...: no
    # locator available" at decoration, so `import segmetrics` itself failed. Simulated with numba's locator
    # override (IPythonCacheLocator finds nothing outside IPython); the kernels must compile uncached instead.
    import os
    import subprocess

    import numba.core.config

    if not hasattr(numba.core.config, "CACHE_LOCATOR_CLASSES"):
        pytest.skip("this numba has no NUMBA_CACHE_LOCATOR_CLASSES override")
    code = (
        "import numpy as np, torch, segmetrics, segloss, segloss._cpu_ops as ops\n"
        "m = np.zeros((9, 9), bool); m[2:5, 3:6] = True\n"
        "a, b, lse = ops.pair_kl_maps_cpu(torch.zeros(1, 2, 4, 5))\n"
        "print(int(segmetrics.squared_distance_transform(m).max()), float(a.sum()))"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DISABLE_JIT") and k != "NUMBA_CACHE_DIR"}
    env["NUMBA_CACHE_LOCATOR_CLASSES"] = "IPythonCacheLocator"
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["25", "0.0"]
    assert res.stderr.count("NUMBA_CACHE_DIR") == 2, res.stderr  # one warning per package, not one per kernel


def test_license_is_an_spdx_expression():
    # `license = { text = "MIT" }` and the "License ::" classifier are deprecated by setuptools >= 77, which warns
    # on every build that such projects stop building after 2027-02-18: an SPDX string, and the setuptools
    # that reads it
    assert PYPROJECT["project"]["license"] == "MIT"
    assert not [c for c in PYPROJECT["project"]["classifiers"] if c.startswith("License ::")]
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]


def test_wheel_holds_every_module_the_typing_markers_and_the_console_script(tmp_path):
    # what `pip install` gives a user: built from a copy of the sources (no build/ or egg-info in the checkout)
    import shutil
    import subprocess
    import zipfile

    pytest.importorskip("setuptools", minversion="77")  # the SPDX `license` string (test above)
    src = tmp_path / "src"
    for name in ("segloss", "segmetrics"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.nb[ci]"))
    expected = {p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file()}
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    code = "import sys; from setuptools import build_meta as b; print(b.build_wheel(sys.argv[1]))"
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path / "dist")], cwd=src, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    wheel = zipfile.ZipFile(tmp_path / "dist" / res.stdout.split()[-1])
    names = set(wheel.namelist())
    assert expected - names == set()
    assert {"segloss/py.typed", "segmetrics/py.typed"} <= names
    info = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "segmetrics = segmetrics.app.cli:main" in wheel.read(info).decode()
    assert not [n for n in names if n.split("/")[0] in ("examples", "tests", "benchmarks")]
