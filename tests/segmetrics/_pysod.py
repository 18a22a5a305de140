"""pysodmetrics results per test case (cached), the parity anchor of the SOD metric tests."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import py_sod_metrics as psm

from tests.segmetrics.cases import make_case

#: numpy >= 2.3 chunks strided reductions the way our kernels reproduce; older numpy may round
#: the last bit differently, so exactness is asserted there and a 1e-10 tolerance elsewhere.
NUMPY_EXACT = tuple(int(x) for x in np.__version__.split(".")[:2]) >= (2, 3)
ATOL = 0.0 if NUMPY_EXACT else 1e-10
#: S-measure and MAE of a uint8 prediction are summed from 256-level histograms (compensated
#: sums, not numpy's pairwise order): equal to pysodmetrics within the issue's 1e-10, not bit for bit.
SUM_ATOL = 1e-10


@functools.cache
def pysod(name: str) -> dict:
    pred, gt = make_case(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fm = psm.Fmeasure()
        em, sm, mae = psm.Emeasure(), psm.Smeasure(), psm.MAE()
        for m in (fm, em, sm, mae):
            m.step(pred, gt)
        out = {}
        out.update(fm.get_results())
        out.update(em.get_results())
        out.update(sm.get_results())
        out.update(mae.get_results())
    return out


def assert_close(ours, ref, atol: float = ATOL) -> None:
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    ok = ~np.isnan(ref)
    if atol == 0:
        np.testing.assert_array_equal(ours[ok], ref[ok])
    else:
        np.testing.assert_allclose(ours[ok], ref[ok], rtol=0, atol=atol)
