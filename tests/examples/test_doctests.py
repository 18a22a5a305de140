"""The docstring examples of the example modules run (pytest's --doctest-modules only covers the packages)."""

from __future__ import annotations

import doctest
import importlib

import pytest

# the example modules with examples
MODULES = ["cli_args", "seg_data", "dis_synth", "can_model", "isnet_model", "run_files"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
