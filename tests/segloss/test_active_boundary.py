import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import distance_transform_edt

from segloss import ActiveBoundaryLoss, abl_distance_map, active_boundary_loss
from tests.segloss.abl_cases import ABL_CASES, abl_case

DATA = Path(__file__).parent / "data"
DIRS = [(1, 0), (-1, 0), (0, -1), (0, 1), (-1, 1), (1, 1), (-1, -1), (1, -1)]


# ----------------------------------------------------------------------------------------------------------------
# parity with the authors' code (golden values, compat="official")


@pytest.fixture(scope="module")
def golden():
    return np.load(DATA / "abl_official_golden.npz")


@pytest.fixture(params=["cpu-kernels", "torch-code"])
def abl_path(request, monkeypatch):
    """Run the loss with the CPU kernels (the CPU default) or with the torch code used on other devices."""
    if request.param == "torch-code":
        import segloss.active_boundary as abl_module

        monkeypatch.setattr(abl_module, "_cpu_kernels", lambda device: False)
    return request.param


@pytest.mark.parity
@pytest.mark.parametrize("name", list(ABL_CASES))
def test_official_matches_authors_code(golden, name, abl_path):
    n, c, h, w, seed, logit_size, ignore, opts = ABL_CASES[name]
    logits, labels = abl_case(n, c, h, w, seed, logit_size, ignore)
    x = logits.clone().requires_grad_()
    loss = active_boundary_loss(
        x,
        labels,
        compat="official",
        detach=opts.get("isdetach", True),
        label_smoothing=opts.get("label_smoothing", 0.2),
        max_n_ratio=opts.get("max_N_ratio", 0.01),
        theta=opts.get("max_clip_dist", 20.0),
    )
    loss.backward()
    ref_loss = float(golden[f"{name}/loss"])
    ref_grad = torch.from_numpy(golden[f"{name}/grad"])
    assert loss.item() == pytest.approx(ref_loss, rel=1e-5)
    assert torch.count_nonzero(ref_grad) > 0
    torch.testing.assert_close(x.grad, ref_grad, rtol=1e-5, atol=1e-5 * ref_grad.abs().max().item())


def test_golden_file_has_provenance(golden):
    text = str(golden["provenance"])
    assert "wangchi95/active-boundary-loss" in text and "1511507" in text and "af876e4" in text


# ----------------------------------------------------------------------------------------------------------------
# paper mode against a slow float64 reference (explicit loops)


def _kl(p_a, p_b):
    """KL(a || b) of two probability vectors (torch, differentiable)."""
    return (p_a * (p_a.log() - p_b.log())).sum()


def reference_paper_abl(logits, target, *, ignore=255, theta=20.0, ratio=0.01, ls=0.2, detach=True, weight=None):
    """Slow float64 reading of the paper (per-image budget, both-sided GTB, Euclidean EDT, 0.8 / 0.2/7)."""
    n, _, h, w = logits.shape
    prob = torch.softmax(logits.double(), dim=1)
    pn = prob.detach().numpy()
    t = target.numpy()
    num, den = 0.0, 0.0
    kept_pixels = []
    m = math.floor(h * w * ratio)
    for b in range(n):
        kl = np.zeros((h, w))
        for i in range(h):
            for j in range(w):
                vals = []
                for di, dj in ((1, 0), (0, 1)):
                    if i + di < h and j + dj < w:
                        pa, pb = pn[b, :, i, j], pn[b, :, i + di, j + dj]
                        vals.append(float((pa * (np.log(pa) - np.log(pb))).sum()))
                kl[i, j] = max(vals) if vals else 0.0
                if t[b, i, j] == ignore:
                    kl[i, j] = 0.0
        order = np.sort(kl.ravel())[::-1]
        eps = max(order[m] if m < order.size else -np.inf, 1e-5)
        raw = kl > eps
        pdb = np.zeros_like(raw)
        for i in range(h):
            for j in range(w):
                pdb[i, j] = raw[max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2].any()
        gtb = np.zeros((h, w), bool)
        for i in range(h):
            for j in range(w):
                for di, dj in DIRS[:4]:
                    ii, jj = i + di, j + dj
                    if 0 <= ii < h and 0 <= jj < w and ignore not in (t[b, i, j], t[b, ii, jj]):
                        gtb[i, j] |= t[b, i, j] != t[b, ii, jj]
        if not gtb.any():
            continue
        dist = distance_transform_edt(~gtb)
        for i in range(h):
            for j in range(w):
                if not pdb[i, j] or dist[i, j] == 0 or t[b, i, j] == ignore:
                    continue
                nb = [dist[i + di, j + dj] if 0 <= i + di < h and 0 <= j + dj < w else np.inf for di, dj in DIRS]
                k_star = int(np.argmin(nb))
                centre = prob[b, :, i, j]
                zs = []
                for di, dj in DIRS:
                    q = prob[b, :, min(max(i + di, 0), h - 1), min(max(j + dj, 0), w - 1)]
                    zs.append(_kl(q.detach() if detach else q, centre))
                logq = torch.log_softmax(torch.stack(zs), dim=0)
                tgt = torch.full((8,), ls / 7, dtype=torch.float64)
                tgt[k_star] = 1 - ls
                wt = 1.0 if weight is None else float(weight[t[b, i, j]])
                num = num + wt * min(dist[i, j], theta) / theta * -(tgt * logq).sum()
                den += wt
                kept_pixels.append((b, i, j))
    loss = num / den if den > 0 else logits.sum() * 0.0
    return loss, kept_pixels


def _paper_case(seed, n=2, c=3, h=16, w=18, ignore=True):
    logits, labels = abl_case(n, c, h, w, seed, None, ignore)
    return logits.double(), labels


@pytest.mark.parametrize(
    ("seed", "kwargs"),
    [
        (0, {"ratio": 0.02}),
        (1, {"ratio": 0.05}),
        (2, {"ratio": 0.03, "theta": 3.0, "ls": 0.0}),
        (3, {"detach": False, "ratio": 0.05}),
    ],
)
def test_paper_mode_matches_float64_reference(seed, kwargs, abl_path):
    logits, labels = _paper_case(seed)
    a = logits.clone().requires_grad_()
    b = logits.clone().requires_grad_()
    ref, kept = reference_paper_abl(a, labels, **kwargs)
    assert len(kept) > 0
    ours = active_boundary_loss(
        b,
        labels,
        max_n_ratio=kwargs.get("ratio", 0.01),
        theta=kwargs.get("theta", 20.0),
        label_smoothing=kwargs.get("ls", 0.2),
        detach=kwargs.get("detach", True),
    )
    ref.backward()
    ours.backward()
    assert ours.dtype == torch.float64
    assert ours.item() == pytest.approx(ref.item(), rel=1e-10)
    torch.testing.assert_close(b.grad, a.grad, rtol=1e-8, atol=1e-12)


def test_paper_mode_class_weight_matches_reference(abl_path):
    logits, labels = _paper_case(4)
    weight = torch.tensor([0.5, 2.0, 1.5], dtype=torch.float64)
    ref, _ = reference_paper_abl(logits, labels, ratio=0.05, weight=weight)
    ours = active_boundary_loss(logits, labels, max_n_ratio=0.05, weight=weight)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-10)
    same = active_boundary_loss(logits, labels, max_n_ratio=0.05, weight=torch.ones(3, dtype=torch.float64))
    assert same.item() == pytest.approx(active_boundary_loss(logits, labels, max_n_ratio=0.05).item(), rel=1e-12)


def test_detach_gradient_only_reaches_centre_pixels():
    logits, labels = _paper_case(5)
    x = logits.clone().requires_grad_()
    _, kept = reference_paper_abl(x, labels, ratio=0.05)
    active_boundary_loss(x, labels, max_n_ratio=0.05).backward()
    centres = torch.zeros(labels.shape, dtype=torch.bool)
    for b, i, j in kept:
        centres[b, i, j] = True
    touched = x.grad.abs().sum(1) > 0
    assert touched.any()
    assert not (touched & ~centres).any()  # neighbours get no gradient
    y = logits.clone().requires_grad_()
    active_boundary_loss(y, labels, max_n_ratio=0.05, detach=False).backward()
    assert ((y.grad.abs().sum(1) > 0) & ~centres).any()  # without detach they do


@pytest.mark.parametrize("compat", ["paper", "official"])
def test_gradcheck(compat):
    # detach=False: with detach=True the gradient is deliberately not the derivative (neighbours are cut off)
    logits, labels = abl_case(2, 3, 12, 16, 11, (6, 8), True)
    x = logits.double().requires_grad_()

    def fn(inp):
        return active_boundary_loss(inp, labels, compat=compat, detach=False, max_n_ratio=0.1)

    assert fn(x).item() > 0
    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-7, fast_mode=True)


# ----------------------------------------------------------------------------------------------------------------
# semantics, reductions, degenerate inputs


def test_reductions_and_image_without_gt_boundary():
    logits, labels = abl_case(3, 4, 24, 24, 12, None, False)
    labels[1] = 2  # no GT boundary: contributes nothing
    per = active_boundary_loss(logits, labels, reduction="none", max_n_ratio=0.05)
    assert per.shape == (3,)
    assert per[1].item() == 0.0
    assert active_boundary_loss(logits, labels, reduction="sum", max_n_ratio=0.05).item() == pytest.approx(
        per.sum().item(), rel=1e-6
    )
    without = active_boundary_loss(logits[[0, 2]], labels[[0, 2]], max_n_ratio=0.05)
    assert active_boundary_loss(logits, labels, max_n_ratio=0.05).item() == pytest.approx(without.item(), rel=1e-6)
    for i in (0, 2):
        one = active_boundary_loss(logits[i : i + 1], labels[i : i + 1], max_n_ratio=0.05)
        assert per[i].item() == pytest.approx(one.item(), rel=1e-6)  # per-image budget: images are independent


@pytest.mark.parametrize("compat", ["paper", "official"])
@pytest.mark.parametrize(
    "case", ["uniform_logits", "no_gt_boundary", "all_ignored", "one_pixel", "zero_ratio", "one_row"]
)
def test_degenerate_batches_return_zero_with_graph(compat, case):
    logits, labels = abl_case(2, 3, 16, 16, 13, None, False)
    if case == "uniform_logits":
        logits = torch.zeros_like(logits)
    elif case == "no_gt_boundary":
        labels = torch.ones_like(labels)
    elif case == "all_ignored":
        labels = torch.full_like(labels, 255)
    elif case == "one_pixel":
        logits, labels = logits[:, :, :1, :1], labels[:, :1, :1]
    elif case == "one_row":
        logits, labels = logits[:, :, :1], labels[:, :1]
    x = logits.clone().requires_grad_()
    ratio = 0.0 if case == "zero_ratio" else 0.05
    loss = active_boundary_loss(x, labels, compat=compat, max_n_ratio=ratio)
    assert loss.shape == () and torch.isfinite(loss)
    if case != "one_row":
        assert loss.item() == 0.0
    assert loss.requires_grad
    loss.backward()
    assert torch.isfinite(x.grad).all()
    if case != "one_row":
        assert (x.grad == 0).all()


def test_binary_mode_equals_two_channel_simplex():
    g = torch.Generator().manual_seed(3)
    x = F.interpolate(torch.randn(2, 1, 6, 6, generator=g), size=(24, 24), mode="bilinear") * 4
    labels = (F.interpolate(torch.rand(2, 1, 3, 3, generator=g), size=(24, 24)) > 0.5)[:, 0].long()
    two = torch.cat([torch.zeros_like(x), x], dim=1)
    for compat in ("paper", "official"):
        a = active_boundary_loss(x, labels, mode="binary", compat=compat, max_n_ratio=0.05)
        b = active_boundary_loss(two, labels, compat=compat, max_n_ratio=0.05)
        assert a.item() > 0
        assert a.item() == pytest.approx(b.item(), rel=1e-6)
        c = active_boundary_loss(x, labels[:, None], mode="binary", compat=compat, max_n_ratio=0.05)
        assert c.item() == pytest.approx(a.item(), rel=1e-7)


@pytest.mark.parametrize("compat", ["paper", "official"])
def test_precomputed_distance_map_gives_same_loss(compat):
    logits, labels = abl_case(2, 4, 20, 24, 14, (10, 12), True)
    dist = abl_distance_map(labels, compat=compat)
    a = active_boundary_loss(logits, labels, compat=compat, max_n_ratio=0.05)
    b = ActiveBoundaryLoss(compat=compat, max_n_ratio=0.05)(logits, labels, dist)
    assert a.item() > 0
    assert a.item() == pytest.approx(b.item(), rel=1e-7)


@pytest.mark.parametrize("compat, max_n_ratio", [("paper", 0.02), ("paper", 0.001), ("official", 0.02),
                                                  ("official", 0.004)])
@pytest.mark.parametrize("detach", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_cpu_kernels_match_the_torch_code(monkeypatch, compat, max_n_ratio, detach, weighted):
    # the fused CPU kernels (segloss._cpu_ops) against the torch code used on other devices, run here on the CPU;
    # in the torch code the larger max_n_ratio of each compat reads neighbours from the channels-last copy, the
    # smaller one gathers logits
    import segloss.active_boundary as abl_module
    from segloss._cpu_ops import pair_kl_maps_cpu

    logits, labels = abl_case(2, 4, 150, 64, 23, None, True)
    kl_down, kl_right, lse = pair_kl_maps_cpu(logits)
    ref_down, ref_right, _, _ = abl_module._kl_maps_torch(logits, compat, False)
    torch.testing.assert_close(kl_down, ref_down, rtol=0, atol=2e-6)
    torch.testing.assert_close(kl_right, ref_right, rtol=0, atol=2e-6)
    torch.testing.assert_close(lse, logits.logsumexp(1), rtol=0, atol=2e-6)
    assert kl_down[:, -1].eq(0).all() and kl_right[..., -1].eq(0).all()  # no neighbour: 0
    kwargs = dict(compat=compat, detach=detach, max_n_ratio=max_n_ratio, reduction="none",
                  weight=torch.tensor([1.0, 0.5, 2.0, 0.0]) if weighted else None)
    x = logits.clone().requires_grad_()
    out = active_boundary_loss(x, labels, **kwargs)
    out.sum().backward()
    monkeypatch.setattr(abl_module, "_cpu_kernels", lambda device: False)
    y = logits.clone().requires_grad_()
    ref = active_boundary_loss(y, labels, **kwargs)
    ref.sum().backward()
    assert (ref > 0).all()
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=0)
    torch.testing.assert_close(x.grad, y.grad, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("compat", ["paper", "official"])
def test_cpu_kernels_float64_and_saturated_logits(monkeypatch, compat):
    import segloss.active_boundary as abl_module
    from segloss._cpu_ops import pair_kl_maps_cpu

    logits, labels = abl_case(2, 5, 24, 28, 4, None, True)
    z64 = logits.double() * 1e3  # saturated softmax: exp underflows to 0 for most classes
    kl_down, kl_right, _ = pair_kl_maps_cpu(z64)
    ref_down, ref_right, _, _ = abl_module._kl_maps_torch(z64, compat, False)
    assert kl_down.dtype == torch.float64 and torch.isfinite(kl_down).all()
    torch.testing.assert_close(kl_down, ref_down, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(kl_right, ref_right, rtol=1e-9, atol=1e-9)
    x = z64.clone().requires_grad_()
    out = active_boundary_loss(x, labels, compat=compat, max_n_ratio=0.05)
    out.backward()
    monkeypatch.setattr(abl_module, "_cpu_kernels", lambda device: False)
    y = z64.clone().requires_grad_()
    ref = active_boundary_loss(y, labels, compat=compat, max_n_ratio=0.05)
    ref.backward()
    assert torch.isfinite(out) and out.item() > 0
    torch.testing.assert_close(out, ref, rtol=1e-9, atol=0)
    torch.testing.assert_close(x.grad, y.grad, rtol=1e-7, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 4),
    h=st.integers(1, 11),
    w=st.integers(1, 11),
    compat=st.sampled_from(["paper", "official"]),
    detach=st.booleans(),
    ratio=st.sampled_from([0.05, 0.3, 1.0]),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    ignore=st.sampled_from(["none", "band", "all"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_cpu_kernels_match_torch_code_on_small_and_degenerate_shapes(n, c, h, w, compat, detach, ratio, reduction,
                                                                      ignore, seed):
    # c = 1 means binary mode; float64 logits, so that the two paths see the same predicted boundary
    import segloss.active_boundary as abl_module

    g = torch.Generator().manual_seed(seed)
    mode = "binary" if c == 1 else "multiclass"
    logits = torch.randn(n, c, h, w, generator=g, dtype=torch.float64) * 3
    labels = torch.randint(0, max(c, 2), (n, 1, 1), generator=g).expand(n, h, w).clone()
    labels[:, h // 2 :, w // 2 :] = (labels[:, h // 2 :, w // 2 :] + 1) % max(c, 2)
    if ignore == "band":
        labels[:, :1] = 255
    elif ignore == "all":
        labels[:] = 255
    kwargs = dict(mode=mode, compat=compat, detach=detach, max_n_ratio=ratio, reduction=reduction)
    x = logits.clone().requires_grad_()
    out = active_boundary_loss(x, labels, **kwargs)
    out.sum().backward()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(abl_module, "_cpu_kernels", lambda device: False)
        y = logits.clone().requires_grad_()
        ref = active_boundary_loss(y, labels, **kwargs)
        ref.sum().backward()
    assert torch.isfinite(out).all() and out.shape == ref.shape
    torch.testing.assert_close(out, ref, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(x.grad, y.grad, rtol=1e-8, atol=1e-12)


@settings(max_examples=40)
@given(n=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9), density=st.sampled_from([0.0, 0.05, 0.3, 1.0]),
       seed=st.integers(0, 2**31 - 1))
def test_dilation_equals_max_pool(n, h, w, density, seed):
    import segloss.active_boundary as abl_module

    mask = torch.rand(n, h, w, generator=torch.Generator().manual_seed(seed)) < density
    ref = F.max_pool2d(mask.float().unsqueeze(1), 3, 1, 1).squeeze(1) > 0
    assert torch.equal(abl_module._dilate3x3(mask), ref)


@settings(max_examples=40)
@given(k=st.integers(1, 9), q=st.integers(1, 12), seed=st.integers(0, 2**31 - 1))
def test_first_argmin_equals_argmin_with_ties_and_inf(k, q, seed):
    import segloss.active_boundary as abl_module

    g = torch.Generator().manual_seed(seed)
    values = torch.randint(0, 3, (k, q), generator=g).float()  # many ties
    values[torch.rand(k, q, generator=g) < 0.3] = float("inf")
    values[:, 0] = float("inf")  # a column of infinities: index 0
    assert torch.equal(abl_module._first_argmin(values), values.argmin(dim=0))


def test_module_matches_functional_and_weight_buffer():
    logits, labels = abl_case(2, 3, 16, 20, 15, None, True)
    mod = ActiveBoundaryLoss(weight=torch.tensor([1.0, 2.0, 3.0]), reduction="none", max_n_ratio=0.05)
    assert "weight" in dict(mod.named_buffers())
    out = mod(logits, labels)
    ref = active_boundary_loss(logits, labels, weight=torch.tensor([1.0, 2.0, 3.0]), reduction="none",
                               max_n_ratio=0.05)
    torch.testing.assert_close(out, ref)
    assert "compat='paper'" in repr(mod)


# ----------------------------------------------------------------------------------------------------------------
# numerics: autocast, half inputs, huge logits, torch.compile


@pytest.mark.parametrize("compat", ["paper", "official"])
def test_finite_under_autocast_half_inputs_and_huge_logits(compat):
    logits, labels = abl_case(2, 4, 24, 24, 16, None, True)
    ref = active_boundary_loss(logits, labels, compat=compat, max_n_ratio=0.05)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x = logits.clone().requires_grad_()
        out = active_boundary_loss(x, labels, compat=compat, max_n_ratio=0.05)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    assert out.item() == pytest.approx(ref.item(), rel=1e-6)
    out.backward()
    assert torch.isfinite(x.grad).all()
    for dtype in (torch.float16, torch.bfloat16):
        h = logits.to(dtype).requires_grad_()
        out = active_boundary_loss(h, labels, compat=compat, max_n_ratio=0.05)
        out.backward()
        assert out.dtype == torch.float32 and torch.isfinite(out) and torch.isfinite(h.grad.float()).all()
    big = (torch.sign(logits) * 1e4).requires_grad_()
    out = active_boundary_loss(big, labels, compat=compat, max_n_ratio=0.05)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(big.grad).all()


def _compiled_vs_eager(compat, with_dist_map):
    # no resize inside the graph: AOT's bilinear decomposition differs from eager by ~1 ulp, which may flip a
    # predicted-boundary pixel that ties with the adaptive threshold
    logits, labels = abl_case(2, 3, 12, 12, 17, None, True)
    dist = abl_distance_map(labels, compat=compat) if with_dist_map else None

    def loss_fn(p, t, d):
        return active_boundary_loss(p, t, compat=compat, max_n_ratio=0.1, dist_map=d)

    fn = torch.compile(loss_fn, backend="aot_eager", fullgraph=True)
    x = logits.clone().requires_grad_()
    y = logits.clone().requires_grad_()
    out = fn(x, labels, dist)
    ref = loss_fn(y, labels, dist)
    out.backward()
    ref.backward()
    assert out.item() > 0
    assert out.item() == pytest.approx(ref.item(), rel=1e-6)
    torch.testing.assert_close(x.grad, y.grad)


def test_torch_compile_with_precomputed_distance_map():
    _compiled_vs_eager("official", with_dist_map=True)


@pytest.mark.slow
@pytest.mark.parametrize("compat", ["paper", "official"])
def test_torch_compile_full_path_including_edt(compat):
    _compiled_vs_eager(compat, with_dist_map=False)


@pytest.mark.slow
@pytest.mark.parametrize("compat", ["paper", "official"])
def test_torch_compile_inductor_forward_backward(compat):
    logits, labels = abl_case(2, 3, 12, 12, 17, None, True)

    def loss_fn(p, t):
        return active_boundary_loss(p, t, compat=compat, max_n_ratio=0.1)

    x = logits.clone().requires_grad_()
    y = logits.clone().requires_grad_()
    out = torch.compile(loss_fn)(x, labels)
    ref = loss_fn(y, labels)
    out.backward()
    ref.backward()
    assert out.item() > 0
    assert out.item() == pytest.approx(ref.item(), rel=1e-5)
    torch.testing.assert_close(x.grad, y.grad, rtol=1e-4, atol=1e-7)


@pytest.mark.gpu
def test_gpu_no_host_sync_and_matches_cpu():
    logits, labels = abl_case(2, 5, 64, 64, 19, (32, 32), True)
    ref = active_boundary_loss(logits, labels, compat="official")
    x = logits.cuda().requires_grad_()
    t = labels.cuda()
    from segloss import set_value_checks

    set_value_checks(False)
    try:
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            out = active_boundary_loss(x, t, compat="official")
            out.backward()
        finally:
            torch.cuda.set_sync_debug_mode(0)
    finally:
        set_value_checks(True)
    assert out.item() == pytest.approx(ref.item(), rel=1e-4)


# ----------------------------------------------------------------------------------------------------------------
# bad inputs


def test_bad_inputs_raise_clear_errors():
    logits, labels = abl_case(2, 3, 8, 8, 20, None, False)
    with pytest.raises(TypeError, match="`pred` must be a torch.Tensor"):
        active_boundary_loss(logits.numpy(), labels)
    with pytest.raises(ValueError, match=r"`pred` must be \(N, C, H, W\)"):
        active_boundary_loss(logits[0], labels)
    with pytest.raises(ValueError, match="1 channel in binary mode"):
        active_boundary_loss(logits, labels, mode="binary")
    with pytest.raises(ValueError, match="C >= 2 channels in multiclass mode"):
        active_boundary_loss(logits[:, :1], labels)
    with pytest.raises(ValueError, match=r"`target` must have shape \(N, H, W\) with N = 2"):
        active_boundary_loss(logits, labels[:1])
    with pytest.raises(TypeError, match="`target` must be an integer tensor"):
        active_boundary_loss(logits, labels.float())
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\) or ignore_index=255; got out-of-range"):
        active_boundary_loss(logits, labels + 5)
    with pytest.raises(ValueError, match="`theta` must be > 0"):
        active_boundary_loss(logits, labels, theta=0)
    with pytest.raises(ValueError, match="`max_n_ratio` must be <= 1"):
        active_boundary_loss(logits, labels, max_n_ratio=2.0)
    with pytest.raises(ValueError, match="`label_smoothing` must be < 1"):
        active_boundary_loss(logits, labels, label_smoothing=1.0)
    with pytest.raises(ValueError, match="`compat` must be one of"):
        active_boundary_loss(logits, labels, compat="authors")
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        ActiveBoundaryLoss(reduction="avg")
    with pytest.raises(ValueError, match=r"`weight` must be a float tensor of shape \(3,\)"):
        active_boundary_loss(logits, labels, weight=torch.ones(4))
    with pytest.raises(ValueError, match=r"`dist_map` must be a float tensor of shape \(2, 8, 8\)"):
        active_boundary_loss(logits, labels, dist_map=torch.zeros(2, 8, 9))
    with pytest.raises(ValueError, match="`pred` must be finite"):
        active_boundary_loss(logits.clone().fill_(float("nan")), labels)
    with pytest.raises(TypeError, match="`ignore_index` must be an int or None"):
        active_boundary_loss(logits, labels, ignore_index=2.5)


def test_double_backward_through_cpu_kernel(monkeypatch):
    """create_graph=True through the CPU direction-CE kernel (it raised: no autograd formula for its backward op).

    Gradients and Hessian-vector products match the torch code of every other device (the neighbours are
    detached in both, so this is the surrogate's second derivative, not the numerical one).
    """
    import segloss.active_boundary as abl

    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, 3, 8, 8, dtype=torch.float64, generator=g, requires_grad=True)
    target = torch.zeros(2, 8, 8, dtype=torch.long)
    target[:, 2:6, 3:7] = 1
    target[:, 5:, :2] = 2

    def grad_and_hvp():
        (grad,) = torch.autograd.grad(active_boundary_loss(z, target, max_n_ratio=0.2), z, create_graph=True)
        assert grad.requires_grad
        (hvp,) = torch.autograd.grad(grad.square().sum(), z)
        return grad.detach(), hvp

    grad, hvp = grad_and_hvp()
    (grad_fast,) = torch.autograd.grad(active_boundary_loss(z, target, max_n_ratio=0.2), z)
    torch.testing.assert_close(grad, grad_fast)  # the graph-building backward gives the kernel's gradient
    monkeypatch.setattr(abl, "_cpu_kernels", lambda device: False)
    grad_ref, hvp_ref = grad_and_hvp()
    torch.testing.assert_close(grad, grad_ref)
    torch.testing.assert_close(hvp, hvp_ref)
    assert hvp.abs().sum() > 0


def test_distance_map_arguments_are_checked():
    # abl_distance_map(ignore_index="a") raised a bare "'bool' object is not subscriptable"; a NaN or negative
    # dist_map silently gave a zero loss (every pixel dropped) instead of an error naming the argument
    logits, labels = abl_case(2, 3, 8, 8, 20, None, False)
    with pytest.raises(TypeError, match="`ignore_index` must be an int or None; got str"):
        abl_distance_map(labels, ignore_index="a")
    with pytest.raises(TypeError, match="`ignore_index` must be an int or None; got bool"):
        abl_distance_map(labels, ignore_index=True)
    dist = abl_distance_map(labels)
    with pytest.raises(ValueError, match="`dist_map` must be finite"):
        active_boundary_loss(logits, labels, dist_map=torch.full_like(dist, float("nan")))
    with pytest.raises(ValueError, match=r"`dist_map` must hold values in \[0, inf\]"):
        active_boundary_loss(logits, labels, dist_map=-dist - 1)
    no_boundary = dist.clone()
    no_boundary[1] = float("inf")  # an image without GT boundary (what abl_distance_map gives): valid
    out = active_boundary_loss(logits, labels, dist_map=no_boundary, reduction="none")
    torch.testing.assert_close(out[0], active_boundary_loss(logits, labels, reduction="none")[0])
    assert out[1] == 0


def test_cpu_operators_refuse_indices_outside_the_logits():
    # torch.ops.segloss.direction_ce / scatter_pixel_grad are public torch operators; their compiled kernels read and
    # wrote z[flat // (H·W), :, ...] without a bounds check (an out-of-range `flat` read or corrupted other memory)
    from segloss import _cpu_ops

    if not _cpu_ops.HAS_CUSTOM_OP:
        pytest.skip("needs torch.library.custom_op")
    z = torch.randn(2, 3, 4, 5)
    lse = torch.logsumexp(z, 1)
    ok = torch.tensor([0, 39])
    active = torch.ones(2, dtype=torch.bool)
    direction = torch.zeros(2, dtype=torch.int64)
    ce, grad_unit = torch.ops.segloss.direction_ce(z, lse, ok, active, direction, 0.8, 0.025)
    assert ce.isfinite().all()
    for bad in (torch.tensor([0, 40]), torch.tensor([-1, 3])):
        with pytest.raises(ValueError, match=r"`flat` indices must lie in \[0, N·H·W\) = \[0, 40\)"):
            torch.ops.segloss.direction_ce(z, lse, bad, active, direction, 0.8, 0.025)
        with pytest.raises(ValueError, match=r"`flat` indices must lie in \[0, N·H·W\) = \[0, 40\)"):
            torch.ops.segloss.scatter_pixel_grad(torch.ones(2), grad_unit, bad, active, z)
    with pytest.raises(ValueError, match=r"`lse` must have shape \(2, 4, 5\)"):
        torch.ops.segloss.direction_ce(z, lse[:1], ok, active, direction, 0.8, 0.025)
    with pytest.raises(ValueError, match=r"`grad_unit` must have shape \(2, 3\)"):
        torch.ops.segloss.scatter_pixel_grad(torch.ones(2), grad_unit[:, :2], ok, active, z)


def test_module_class_weights_are_checked_at_construction():
    # ActiveBoundaryLoss / CELovaszABLLoss accepted a 2-D, negative or NaN class weight (and a string raised a bare
    # "new(): invalid data type 'str'"); the error came, if at all, at the first forward, far from the mistake
    from segloss import CELovaszABLLoss

    for cls, name in ((ActiveBoundaryLoss, "weight"), (CELovaszABLLoss, "class_weight")):
        with pytest.raises(ValueError, match=rf"`{name}` must be a 1-D sequence of class weights; got shape \(3, 1\)"):
            cls(**{name: torch.ones(3, 1)})
        with pytest.raises(ValueError, match=rf"`{name}` must hold values in \[0, inf\] \(finite non-negative class"):
            cls(**{name: [1.0, -1.0, 2.0]})
        with pytest.raises(ValueError, match=rf"`{name}` must be finite"):
            cls(**{name: [1.0, float("nan")]})
        with pytest.raises(TypeError, match=rf"`{name}` must be a 1-D sequence of class weights; got str"):
            cls(**{name: "balanced"})
        crit = cls(**{name: [1, 2, 3]})  # a list of ints is fine: stored as a float32 buffer
        assert getattr(crit, name).dtype == torch.float32


def test_distance_map_of_a_mask_target_says_how_to_convert():
    # issue (adversarial layout pass): abl_distance_map kept its own copy of the class-id dtype check, without the
    # `.long()` hint that every loss gives for a bool / float 0-1 mask
    for bad in (torch.zeros(1, 4, 4, dtype=torch.bool), torch.zeros(1, 4, 4)):
        with pytest.raises(TypeError, match=r"^`target` must be an integer tensor of class ids; got dtype torch\.\w+ "
                                            r"\(a 0/1 or bool mask converts with `\.long\(\)`\)$"):
            abl_distance_map(bad)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_official_threshold_schedule_is_representable(dtype):
    # issue (adversarial layout pass): the schedule's last threshold was 3.55e38, above float32's maximum; eager
    # torch.tensor rounds it to inf, but torch.compile(dynamic=True) builds it with aten.scalar_tensor, which raised
    # "value cannot be converted to type float without overflow" for ActiveBoundaryLoss(compat="official")
    # (checked by hand with backend="aot_eager"; a compile takes about a minute here, too long for a unit test)
    from segloss.active_boundary import _official_eps_schedule

    values = _official_eps_schedule(dtype)
    assert values[-1] == math.inf
    assert all(v <= torch.finfo(dtype).max for v in values[:-1])

