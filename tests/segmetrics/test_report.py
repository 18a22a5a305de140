"""segmetrics.app.report: the result tables, with labels, directions and order from the metric table."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from segmetrics.app.report import columns, format_table
from segmetrics.registry import FAMILIES, display_columns, scalars_of

R1 = SimpleNamespace(method="isnet", dataset="DIS-VD", num_images=470,
                     metrics={"fm.max": 0.7912, "wfm": 0.7431, "mae": 0.0591, "sm": 0.8237, "em.mean": 0.8601,
                              "hce": 1116.4, "iou": 0.7, "iou.adp": 0.65, "bf.f3": 0.5})
R2 = SimpleNamespace(method="u2_net", dataset="DIS-VD", num_images=470, metrics={"mae": 0.09, "hce": 1400.0})


def test_default_columns_are_the_dis_table_then_the_rest_in_registry_order():
    cols = list(columns())
    assert cols[:6] == ["fm.max", "wfm", "mae", "sm", "em.mean", "hce"]
    assert cols[: len(display_columns())] == list(display_columns())
    assert cols[-9:] == ["noc@85", "noc@90", "nof@85", "nof@90", "miou@1", "miou@3", "miou@5", "miou@10", "spc"]
    table = columns()
    for s in scalars_of(list(FAMILIES)):
        if s.column is not None:
            assert table[s.key] == (s.label, s.latex or s.label, s.higher_is_better)
        else:
            assert s.key not in table


def test_plain_table_aligns_sorts_and_prints_counts_without_decimals():
    out = format_table([R2, R1])
    lines = out.splitlines()
    assert lines[0].split() == ["dataset", "method", "n", "maxF", "↑", "wF", "↑", "MAE", "↓", "S", "↑", "meanE", "↑",
                                "HCE", "↓", "IoU", "↑", "BF@3", "↑"]
    assert lines[2].split()[:2] == ["DIS-VD", "isnet"]  # sorted by (dataset, method)
    assert "1116" in lines[2] and "1116.4" not in lines[2]
    assert lines[3].split()[3:] == ["-", "-", "0.090", "-", "-", "1400", "-", "-"]
    assert len({len(line) for line in lines}) == 1  # aligned


def test_markdown_and_latex_and_explicit_columns():
    md = format_table([R1], fmt="markdown", digits=2, columns=["mae", "iou.adp"])
    assert md.splitlines() == ["| dataset | method | n | MAE ↓ | iou.adp ↑ |", "|---|---|---:|---:|---:|",
                               "| DIS-VD | isnet | 470 | 0.06 | 0.65 |"]
    tex = format_table([R1, R2], fmt="latex", columns=["fm.max", "hce"])
    assert tex.startswith(r"\begin{tabular}{llrrr}") and tex.endswith(r"\end{tabular}")
    assert r"$F_\beta^{max}$ $\uparrow$" in tex and r"$HCE_\gamma$ $\downarrow$" in tex
    assert r"u2\_net" in tex


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fmt": "html"}, r"`fmt` must be one of \('plain', 'markdown', 'latex'\); got 'html'"),
        ({"digits": -1}, r"`digits` must be an integer >= 0; got -1"),
        ({"digits": 2.5}, r"`digits` must be an integer >= 0; got 2.5"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        format_table([R1], **kwargs)


def test_no_results_is_an_error():
    with pytest.raises(ValueError, match="`results` must hold at least one result; got none"):
        format_table([])


def test_explicit_columns_use_each_scalars_declared_label_and_direction():
    # Columns outside the default set used to print their raw key with an up arrow: FPR, BER and SI-MAE
    # (lower is better) read "higher is better".
    r = SimpleNamespace(method="m", dataset="d", num_images=3,
                        metrics={"confusion.fpr.max": 0.2, "si.mae": 0.1, "si.iou.max": 0.7, "bf.f7": 0.5})
    head = format_table([r], columns=["confusion.fpr.max", "si.mae", "si.iou.max", "bf.f7"]).splitlines()[0]
    assert head.split() == ["dataset", "method", "n", "maxFPR", "↓", "SI-MAE", "↓", "SI-maxIoU", "↑", "BF@7", "↑"]
    assert format_table([r], columns="si.mae") == format_table([r], columns=["si.mae"])  # one key, not 6 letters


def test_unknown_columns_and_results_are_refused():
    # A typo used to print an empty column ("nope ↑  -"), and a non-result an AttributeError.
    with pytest.raises(ValueError, match=r"`columns` must name scalars of the metric table or of the results; "
                                         r"got unknown \['nope', 'fm.curve'\] \(e.g. fm.max, wfm"):
        format_table([R1], columns=["mae", "nope", "fm.curve"])
    with pytest.raises(TypeError, match=r"`results` must hold results with `method`, `dataset`, `num_images` and "
                                        r"`metrics` \(FolderResult, from evaluate_folder or load_results\); got str"):
        format_table(["results.json"])
    custom = SimpleNamespace(method="m", dataset="d", num_images=1, metrics={"my.score": 0.5})
    assert "my.score ↑" in format_table([custom], columns=["my.score"])  # a key a result holds is shown as is


def test_default_columns_show_the_tolerances_the_results_hold():
    # bf_tolerances=(2, 7) used to give a table without any boundary F column (only BF@1/3/5 were looked for).
    r = SimpleNamespace(method="m", dataset="d", num_images=3, metrics={"iou": 0.5, "bf.f2": 0.9, "bf.f7": 0.97})
    assert format_table([r, R1]).splitlines()[0].split()[3:] == [
        "maxF", "↑", "wF", "↑", "MAE", "↓", "S", "↑", "meanE", "↑", "HCE", "↓", "IoU", "↑", "BF@2", "↑", "BF@3", "↑",
        "BF@7", "↑"]


def test_interactive_results_with_other_targets_show_their_noc_and_nof():
    import numpy as np
    from skimage import data

    from segmetrics.interactive import InteractiveEvaluator

    gt = data.horse() == 0
    ev = InteractiveEvaluator(max_clicks=2, targets=(0.5, 0.875, 1.0))
    ev.evaluate(lambda image, clicks: gt, [("horse", None, gt)]).evaluate(
        lambda image, clicks: np.zeros(gt.shape), [("none", None, gt)])
    r = SimpleNamespace(method="m", dataset="horse", num_images=2, metrics=ev.compute())
    head, _, row = format_table([r]).splitlines()
    assert head.split()[3:] == ["NoC@50", "↓", "NoC@87.5", "↓", "NoC@100", "↓", "NoF@50", "↓", "NoF@87.5", "↓",
                                "NoF@100", "↓", "mIoU@1", "↑", "SPC", "↓"]
    assert row.split()[3:9] == ["1.500", "1.500", "1.500", "1", "1", "1"]  # NoF printed as counts


def test_names_with_table_syntax_are_escaped():
    # A method or dataset name holding '|' split its Markdown row into extra cells, and '~', '^' or '\' in a
    # name gave LaTeX that does not compile (only _&%$#{} were escaped).
    r = SimpleNamespace(method="a|b~c^d\\e", dataset="x&y", num_images=1, metrics={"mae": 0.5})
    md = format_table([r], fmt="markdown").splitlines()[-1]
    assert md == r"| x&y | a\|b~c^d\e | 1 | 0.500 |"
    tex = format_table([r], fmt="latex").splitlines()[-3]
    assert tex == r"x\&y & a|b\textasciitilde{}c\textasciicircum{}d\textbackslash{}e & 1 & 0.500 \\"
