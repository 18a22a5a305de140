"""segmetrics.app.journal: the records survive a round trip and a torn line; mismatched runs are refused."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from segmetrics.app.journal import BASE_COLUMNS, CSV_NAME, JOURNAL_NAME, Journal, read_journal
from segmetrics.app.pair import PairResult

HEADER = {"kind": "header", "schema": "segmetrics.journal/1", "identity": {"metrics": ["mae", "fm"]}, "shard": None}


def _record(name, mae, status="ok"):
    curve = np.linspace(0, 1, 256) * mae
    return PairResult(name=name, status=status, error="" if status == "ok" else "boom", height=4, width=5,
                      scalars={"mae": mae, "fm.max": 1.0 - mae} if status == "ok" else {},
                      curves={"fm.curve": curve} if status == "ok" else {}, inputs={"pred": {"size": 1}})


def test_round_trip_torn_line_and_sorted_csv(tmp_path):
    j = Journal(tmp_path, HEADER, ["mae", "fm.max"], overwrite=False)
    for r in (_record("b", 0.25), _record("a", 0.1 + 0.2), _record("c", 0.0, status="error")):
        j.add(r)
    j.close()
    with open(tmp_path / JOURNAL_NAME, "ab") as f:
        f.write(b'{"name": "d", "status": "ok", "sca')  # a run killed mid-line
    header, records, valid = read_journal(tmp_path / JOURNAL_NAME)
    assert header == HEADER and sorted(records) == ["a", "b", "c"]
    assert records["a"].scalars["mae"] == 0.1 + 0.2  # floats round-trip exactly
    np.testing.assert_array_equal(records["b"].curves["fm.curve"], np.linspace(0, 1, 256) * 0.25)
    assert records["c"].status == "error" and records["c"].error == "boom"
    assert valid < (tmp_path / JOURNAL_NAME).stat().st_size
    with open(tmp_path / CSV_NAME, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == [*BASE_COLUMNS, "mae", "fm.max"]
    assert [r[0] for r in rows[1:]] == ["a", "b", "c"] and rows[3][5:] == ["", ""]
    j = Journal(tmp_path, HEADER, ["mae", "fm.max"], overwrite=False)  # resuming drops the torn line
    j.close()
    assert read_journal(tmp_path / JOURNAL_NAME)[2] == (tmp_path / JOURNAL_NAME).stat().st_size


def test_a_later_record_of_an_image_wins(tmp_path):
    j = Journal(tmp_path, HEADER, ["mae"], overwrite=False)
    j.add(_record("a", 0.0, status="error"))
    j.add(_record("a", 0.5))
    j.close()
    assert read_journal(tmp_path / JOURNAL_NAME)[1]["a"].scalars["mae"] == 0.5
    with open(tmp_path / CSV_NAME, newline="") as f:
        assert len(list(csv.reader(f))) == 2  # one row per image after close


@pytest.mark.parametrize(
    ("other", "match"),
    [
        ({**HEADER, "identity": {"metrics": ["mae"]}}, "holds results of a different evaluation"),
        ({**HEADER, "shard": [0, 2]}, r"holds shard none \(a whole run\) and this run is shard 0/2"),
    ],
)
def test_another_evaluation_in_the_folder_is_refused_unless_overwritten(tmp_path, other, match):
    Journal(tmp_path, HEADER, ["mae"], overwrite=False).close()
    with pytest.raises(ValueError, match=match):
        Journal(tmp_path, other, ["mae"], overwrite=False)
    Journal(tmp_path, other, ["mae"], overwrite=True).close()
    assert read_journal(tmp_path / JOURNAL_NAME)[0] == other


def test_a_file_without_header_is_not_a_journal(tmp_path):
    (tmp_path / JOURNAL_NAME).write_text('{"name": "a"}\n')
    with pytest.raises(ValueError, match="is not a segmetrics journal"):
        read_journal(tmp_path / JOURNAL_NAME)


def test_a_different_evaluation_is_named_by_the_settings_that_differ(tmp_path):
    # The message used to print both whole settings dicts (25 keys each) and leave the diff to the reader.
    header = {**HEADER, "identity": {"metrics": ["cm"], "threshold": 0.5, "cm_alpha": 6.0, "normalize": True}}
    Journal(tmp_path, header, ["cm"], overwrite=False).close()
    other = {**header, "identity": {**header["identity"], "cm_alpha": 12.0, "threshold": 0.3}}
    with pytest.raises(ValueError, match=r"holds results of a different evaluation \(threshold: 0.5 there, 0.3 now; "
                                         r"cm_alpha: 6.0 there, 12.0 now\); pass overwrite=True \(--overwrite\)"):
        Journal(tmp_path, other, ["cm"], overwrite=False)


@pytest.mark.parametrize("junk", [b"[]", b'{"kind": "x"}', b'"text"',
                                  b'{"name": "z", "status": "ok", "curves": {"c": "!!"}}'])
def test_a_damaged_record_line_ends_the_valid_prefix_like_a_torn_one(tmp_path, junk):
    # These lines used to crash the resume with a bare KeyError / TypeError.
    j = Journal(tmp_path, HEADER, ["mae", "fm.max"], overwrite=False)
    j.add(_record("a", 0.25))
    j.close()
    size = (tmp_path / JOURNAL_NAME).stat().st_size
    with open(tmp_path / JOURNAL_NAME, "ab") as f:
        f.write(junk + b"\n" + _record_line("b"))
    header, records, valid = read_journal(tmp_path / JOURNAL_NAME)
    assert header == HEADER and sorted(records) == ["a"] and valid == size
    j = Journal(tmp_path, HEADER, ["mae", "fm.max"], overwrite=False)  # resuming truncates there
    j.close()
    assert (tmp_path / JOURNAL_NAME).stat().st_size == size and sorted(j.records) == ["a"]


def _record_line(name):
    from segmetrics.app.journal import _record_to_json

    return (_record_to_json(_record(name, 0.5)) + "\n").encode()
