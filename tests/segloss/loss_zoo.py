"""Every public segloss loss as a ready-to-run case on any device (shared by the sync, GPU and benchmark code).

``cases(device, n, c, h, w)`` returns ``{name: (leaf, fn)}``: ``leaf`` is the float32 tensor that receives the
gradient (logits, scores or features, ``requires_grad=True``) and ``fn(leaf)`` the 0-d loss. Inputs are built on
the CPU from one seed and then moved, so a case gives the same numbers on every device. Every option is chosen so
that a forward + backward needs no host synchronisation (e.g. ``CASLoss(max_regions=...)``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

import segloss

Case = tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]

# losses whose cost is quadratic in the pixels: only at small sizes
SMALL_ONLY = {"PottsCRFLoss-dense"}


def cases(
    device: str | torch.device = "cpu", n: int = 2, c: int = 3, h: int = 32, w: int = 32, seed: int = 0
) -> dict[str, Case]:
    """Build every loss case on ``device`` (see the module docstring)."""
    device = torch.device(device)
    g = torch.Generator().manual_seed(seed)
    m = 4  # outputs of the latent-diversity family

    def leaf(*shape: int, scale: float = 2.0) -> torch.Tensor:
        return (torch.randn(*shape, generator=g) * scale).to(device).requires_grad_(True)

    def mask() -> torch.Tensor:
        yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        disk = ((yy - h / 2) ** 2 + (xx - w / 3) ** 2 < (min(h, w) / 3) ** 2).float()
        return disk.expand(n, h, w).contiguous().to(device)

    labels = (torch.arange(h)[:, None] * c // h + torch.arange(w)[None, :] * 0).expand(n, h, w).contiguous()
    labels[:, : h // 8] = 255  # a band of ignored pixels
    labels = labels.to(device)
    clean = labels.clamp_max(c - 1)
    gt = mask()
    pos = torch.zeros(n, h, w)
    pos[:, h // 2, w // 3] = 1.0
    neg = torch.zeros(n, h, w)
    neg[:, 2, w - 3] = 1.0
    pos, neg = pos.to(device), neg.to(device)
    image = (torch.rand(n, 3, h, w, generator=g) * 64 + gt.cpu()[:, None] * 160).to(device)
    sizes = F.one_hot(clean.cpu().flatten(1), c).float().mean(1).to(device)
    tags = (sizes > 0).float()
    seeds = torch.full((n, h, w), 255, dtype=torch.long)
    seeds[:, ::7, ::5] = clean.cpu()[:, ::7, ::5]
    seeds = seeds.to(device)
    regions = (clean * 7 + 3).contiguous()
    f_gt = [torch.randn(n, 8, h // 2, w // 2, generator=g).to(device), torch.randn(n, 16, h // 4, w // 4,
                                                                                 generator=g).to(device)]

    def sides(x: torch.Tensor) -> list[torch.Tensor]:
        return [x, F.avg_pool2d(x, 2)]

    def features(x: torch.Tensor) -> list[torch.Tensor]:
        return [x.repeat(1, 8, 1, 1)[:, :, ::2, ::2], x.repeat(1, 16, 1, 1)[:, :, ::4, ::4]]

    sj, sjm = segloss.SoftJaccardLoss(), segloss.SoftJaccardLoss(mode="multiclass", ignore_index=255)
    click = segloss.ClickConstraintLoss()
    hind, ranked = segloss.HindsightLoss(), segloss.RankedDiversityLoss()
    sel = segloss.SelectionLoss()
    ds, fc, isnet = segloss.DeepSupervisionLoss(), segloss.FeatureConsistencyLoss(), segloss.ISNetLoss()
    crf, crf_dense = segloss.PottsCRFLoss(sigma_xy=10.0), segloss.PottsCRFLoss(backend="dense", sigma_xy=10.0)
    size, tag = segloss.SizeTargetLoss(), segloss.TagBarrierLoss()
    quad, pce = segloss.QuadraticSizeBarrierLoss(), segloss.PartialCrossEntropyLoss()
    cas = segloss.CASLoss(max_regions=c)
    cas_off, cace = segloss.CASLoss(compat="official"), segloss.CACELoss()
    abl, abl_off = segloss.ActiveBoundaryLoss(), segloss.ActiveBoundaryLoss(compat="official")
    fkl, lov, combo = segloss.FKLLoss(), segloss.LovaszSoftmaxLoss(ignore_index=255), segloss.CELovaszABLLoss()
    lower = torch.full((n, c), 0.05, device=device)
    masks = torch.randn(n, m, h, w, generator=g).to(device)
    return {
        "CrossEntropy (reference)": (leaf(n, c, h, w), lambda x: F.cross_entropy(x, labels, ignore_index=255)),
        "SoftJaccardLoss": (leaf(n, 1, h, w), lambda x: sj(x, gt)),
        "SoftJaccardLoss-multiclass": (leaf(n, c, h, w), lambda x: sjm(x, labels)),
        "ClickConstraintLoss": (leaf(n, 1, h, w), lambda x: click(x, pos, neg)),
        "HindsightLoss": (leaf(n, m, h, w), lambda x: hind(x, gt, pos, neg)),
        "RankedDiversityLoss": (leaf(n, m, h, w), lambda x: ranked(x, gt, pos, neg)),
        "SelectionLoss": (leaf(n, m), lambda x: sel(x, masks, gt)),
        "DeepSupervisionLoss": (leaf(n, 1, h, w), lambda x: ds(sides(x), gt)),
        "FeatureConsistencyLoss": (leaf(n, 8, h // 2, w // 2), lambda x: fc([x, F.avg_pool2d(x, 2).repeat(1, 2, 1, 1)],
                                                                             f_gt)),
        "ISNetLoss": (leaf(n, 1, h, w), lambda x: isnet(sides(x), gt, features(x), f_gt)[0]),
        "PottsCRFLoss": (leaf(n, c, h, w), lambda x: crf(x, image)),
        "PottsCRFLoss-dense": (leaf(n, c, h, w), lambda x: crf_dense(x, image)),
        "SizeTargetLoss": (leaf(n, c, h, w), lambda x: size(x, sizes)),
        "TagBarrierLoss": (leaf(n, c, h, w), lambda x: tag(x, tags)),
        "QuadraticSizeBarrierLoss": (leaf(n, c, h, w), lambda x: quad(x, lower)),
        "PartialCrossEntropyLoss": (leaf(n, c, h, w), lambda x: pce(x, seeds)),
        "CASLoss": (leaf(n, c, h, w), lambda x: cas(x, regions)),
        "CASLoss-official": (leaf(n, 2, h, w), lambda x: cas_off(x, gt.long())),
        "CACELoss": (leaf(n, 1, h, w), lambda x: cace(x, gt.long())),
        "ActiveBoundaryLoss": (leaf(n, c, h, w), lambda x: abl(x, labels)),
        "ActiveBoundaryLoss-official": (leaf(n, c, h, w), lambda x: abl_off(x, labels)),
        "FKLLoss": (leaf(n, c, h, w), lambda x: fkl(x, labels)),
        "LovaszSoftmaxLoss": (leaf(n, c, h, w), lambda x: lov(x, labels)),
        "CELovaszABLLoss": (leaf(n, c, h, w), lambda x: combo(x, labels)[0]),
    }


SYNC_METHODS = ("item", "tolist", "__bool__", "__int__", "__float__", "__index__", "cpu", "numpy", "nonzero",
                "unique", "masked_select", "argwhere", "nonzero_static")


class HostSyncCounter(torch.overrides.TorchFunctionMode):
    """Records the torch calls that synchronise with the host on an accelerator (structural, works on CPU).

    Counted: reading values (``item``, ``tolist``, ``bool()``, ``cpu()``, ...), data-dependent shapes (``nonzero``,
    ``unique``, boolean-mask indexing) and copies of Python data to a device (``torch.tensor(list, device=...)``).
    A small constant moved with ``.to(device, non_blocking=True)`` is not counted (no stream sync).
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        if name in SYNC_METHODS:
            self.calls.append(name)
        elif name in ("tensor", "as_tensor") and kwargs.get("device") is not None and args and not isinstance(
                args[0], torch.Tensor):
            self.calls.append(f"{name}(python data, device=...)")
        elif name == "__getitem__" and len(args) > 1:
            idx = args[1] if isinstance(args[1], tuple) else (args[1],)
            if any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in idx):
                self.calls.append("boolean-mask indexing")
        return func(*args, **kwargs)
