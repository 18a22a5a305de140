"""IS-Net model (examples/isnet_model.py): the authors' parameter counts, state-dict keys and shapes, forward shapes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from isnet_model import ISNetDIS, ISNetGTEncoder, count_parameters

# Names and shapes of the authors' state dicts (xuebinqin/DIS, see the file's "source" line).
REFERENCE = json.loads((Path(__file__).parent / "data" / "isnet_state_dict.json").read_text())


@pytest.mark.parametrize(("cls", "key", "count"), [(ISNetDIS, "ISNetDIS", 44_046_790),
                                                   (ISNetGTEncoder, "ISNetGTEncoder", 6_877_734)])
def test_full_width_matches_the_authors_state_dict(cls, key, count):
    model = cls()
    ref = REFERENCE[key]
    assert count_parameters(model) == count == ref["parameters"]
    sd = model.state_dict()
    assert list(sd) == list(ref["state_dict"])  # same keys, same order
    assert {k: list(v.shape) for k, v in sd.items()} == ref["state_dict"]
    # strict loading of a checkpoint written in the authors' format (state_dict saved with torch.save)
    saved = {k: torch.randn_like(v) if v.is_floating_point() else v + 3 for k, v in sd.items()}
    buf = io.BytesIO()
    torch.save(saved, buf)
    buf.seek(0)
    other = cls()
    other.load_state_dict(torch.load(buf, weights_only=True), strict=True)
    assert all(torch.equal(other.state_dict()[k], v) for k, v in saved.items())


@pytest.mark.parametrize(("width", "dis", "gt"), [(0.5, 11_026_406, 1_726_422), (0.25, 2_763_958, 435_102)])
def test_width_multiplier_scales_channels(width, dis, gt):
    assert count_parameters(ISNetDIS(width=width)) == dis
    assert count_parameters(ISNetGTEncoder(width=width)) == gt


@pytest.mark.parametrize("size", [(64, 64), (70, 45)])
def test_forward_shapes_and_matching_features(size):
    torch.manual_seed(0)
    net, enc = ISNetDIS(width=0.125), ISNetGTEncoder(width=0.125)
    x, m = torch.rand(2, 3, *size), (torch.rand(2, 1, *size) > 0.5).float()
    sides, feats = net(x)
    gsides, gfeats = enc(m)
    assert len(sides) == len(feats) == len(gsides) == len(gfeats) == 6
    assert all(s.shape == (2, 1, *size) for s in sides + gsides)
    assert [f.shape for f in feats] == [f.shape for f in gfeats]
    assert [f.shape[1] for f in feats] == [8, 8, 16, 32, 64, 64]
    # 1/2 of the input after the strided stem, then ceil-mode halvings
    h, w = size
    expect = []
    for _ in range(6):
        h, w = -(-h // 2), -(-w // 2)
        expect.append((h, w))
    assert [tuple(f.shape[2:]) for f in feats] == expect
    # logits by default; probabilities / predict give the sigmoid of the same maps
    net.eval()
    with torch.no_grad():
        logits = net(x)[0]
        probs = net(x, probabilities=True)[0]
    assert all(torch.allclose(torch.sigmoid(a), b) for a, b in zip(logits, probs))
    assert torch.equal(net.predict(x), probs[0])
    assert any((s < 0).any() for s in logits)


def test_gradients_reach_every_parameter_but_the_unused_pool():
    torch.manual_seed(0)
    net = ISNetDIS(width=0.0625)
    sides, feats = net(torch.rand(2, 3, 32, 32))
    (sum(s.mean() for s in sides) + sum(f.mean() for f in feats)).backward()
    assert all(p.grad is not None for p in net.parameters())
    assert not list(net.pool_in.parameters())


def test_save_load_round_trip_is_exact():
    torch.manual_seed(1)
    net = ISNetDIS(width=0.125).train()
    net(torch.rand(2, 3, 32, 32))  # update BN running stats
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    buf.seek(0)
    other = ISNetDIS(width=0.125)
    other.load_state_dict(torch.load(buf, weights_only=True), strict=True)
    net.eval()
    other.eval()
    x = torch.rand(1, 3, 48, 40)
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(net(x)[0], other(x)[0]))


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"width": 0}, ValueError, "`width` must be > 0; got 0"),
    ({"width": float("inf")}, ValueError, "`width` must be a finite number > 0; got inf"),
    ({"width": "1"}, TypeError, "`width` must be a positive number; got str"),
    ({"in_ch": 0}, ValueError, "`in_ch` must be >= 1; got 0"),
    ({"out_ch": 1.0}, TypeError, "`out_ch` must be a positive int; got float"),
])
def test_bad_arguments_are_named(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ISNetDIS(**kwargs)
    with pytest.raises(exc, match=match):
        ISNetGTEncoder(**kwargs)
