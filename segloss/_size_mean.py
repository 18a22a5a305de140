"""The image-level average prediction ``S̄`` shared by the size losses (size target, barriers, partial CE).

``S̄ = (1/|Ω|) Σ_{p∈Ω} S_p`` (Ω = valid pixels: ROI, ignore excluded), computed in the log domain for stability:
``log S̄ = logsumexp_p log_softmax(pred)_p − log|Ω|`` (float32 under autocast), so ``−log S̄`` stays finite even
for logits of ±1e4. Images without any valid pixel use all pixels; their loss is zeroed by :func:`finish`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from segloss._autograd import graph_backward, save, saved
from segloss._modes import CLASS_MODES, check_mode_channels
from segloss._validation import (
    REDUCTIONS,
    ValueRule,
    check_bool,
    check_choice,
    check_logits,
    check_same_device,
    check_target_shape,
    check_tensor,
    check_values,
    finite,
    in_range,
    reduce,
)

_TINY = 1e-12


def check_options(mode: str, from_logits: bool, reduction: str) -> None:
    """Validate the options every size loss (function and module) shares: ``mode``, ``from_logits``, ``reduction``."""
    check_choice(mode, "mode", CLASS_MODES)
    check_bool(from_logits, "from_logits")
    check_choice(reduction, "reduction", REDUCTIONS)


def check_pred(pred: torch.Tensor, mode: str) -> None:
    """Raise unless ``mode`` is one of ``CLASS_MODES`` and ``pred`` is ``(N, C, H, W)`` logits that fit it."""
    check_choice(mode, "mode", CLASS_MODES)
    check_logits(pred, "pred", ndim=4)
    check_mode_channels(pred, mode)


def check_inputs(pred: torch.Tensor, from_logits: bool, roi: torch.Tensor | None, *rules: ValueRule) -> None:
    """The value contract of every size loss: finite logits (probabilities in [0, 1]), a 0/1 ROI, ``rules``."""
    check_bool(from_logits, "from_logits")
    pred_rule = finite("pred", pred) if from_logits else in_range("pred", pred, what="probabilities")
    check_values(pred_rule, in_range("roi", roi, what="a 0/1 mask of valid pixels"), *rules)


def roi_mask(roi: torch.Tensor | None, pred: torch.Tensor) -> torch.Tensor | None:
    """The ROI as a bool ``(N, H, W)`` mask (``(N, 1, H, W)`` accepted), checked against ``pred``; or ``None``."""
    if roi is None:
        return None
    n, _, h, w = pred.shape
    check_tensor(roi, "roi")
    if roi.ndim == 4 and roi.shape[1] == 1:
        roi = roi[:, 0]
    check_target_shape(roi, (n, h, w), "roi", ref_shape=tuple(pred.shape))
    check_same_device(pred, roi, "pred", "roi")
    return roi.bool() if roi.dtype == torch.bool else roi > 0


def log_probs(pred: torch.Tensor, mode: str, from_logits: bool) -> torch.Tensor:
    """Per-pixel class log-probabilities ``(N, K, H, W)`` (K = 2 in binary mode) of logits or probabilities."""
    x = pred.float() if pred.dtype in (torch.float16, torch.bfloat16) else pred
    if mode == "binary":
        if from_logits:
            return torch.cat([F.logsigmoid(-x), F.logsigmoid(x)], 1)
        x = torch.cat([1.0 - x, x], 1)
    elif from_logits:
        return torch.log_softmax(x, 1)
    return torch.log(x.clamp(_TINY, 1.0))


class _LogMeanSoftmax(torch.autograd.Function):
    """``log S̄`` ``(N, K)`` from logits ``(N, K, P)`` and an optional 0/1 mask ``(N, 1, P)``, lean backward.

    ``∂ log S̄_k / ∂x_pj = w_pk (δ_kj − S_pj)`` with ``w_pk = r_p S_pk / Σ_q r_q S_qk`` (≤ 1, stable).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, r: torch.Tensor | None) -> torch.Tensor:  # type: ignore[override]
        a = torch.log_softmax(x, 1)
        am = a if r is None else a.masked_fill(r == 0, float("-inf"))
        m = am.amax(2, keepdim=True)
        e = torch.exp(am - m)  # r_p S_pk / max_q S_qk, in (0, 1]
        sum_e = e.sum(2, keepdim=True)
        log_sum = m + torch.log(sum_e)  # log Σ_p r_p S_pk
        # a Python count stays a Python number: no host-to-device copy (and no sync) per call
        log_cnt = math.log(x.shape[2]) if r is None else torch.log(r.sum(2))
        save(ctx, (x, r), a, e, sum_e)
        return log_sum[..., 0] - log_cnt

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        if torch.is_grad_enabled():  # create_graph=True (double backward): differentiate the forward's plain ops
            return graph_backward(_LogMeanSoftmax, ctx, (g,))
        a, e, sum_e = saved(ctx)
        gw = e * (g[..., None] / sum_e)  # g_k w_pk
        return gw - torch.exp(a) * gw.sum(1, keepdim=True), None


def log_mean_pred(
    pred: torch.Tensor, mode: str, from_logits: bool, roi: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log S̄ (N, K), has_valid (N,))`` for any input kind; images without valid pixels use all pixels."""
    if mode == "multiclass" and from_logits:
        x = pred.float() if pred.dtype in (torch.float16, torch.bfloat16) else pred
        n, k = x.shape[:2]
        x = x.reshape(n, k, -1)
        if roi is None:
            return _LogMeanSoftmax.apply(x, None), torch.ones(n, dtype=torch.bool, device=x.device)
        m = roi.reshape(n, 1, -1)
        has = m.any(-1)
        m = (m | ~has[:, :, None]).to(x.dtype)
        return _LogMeanSoftmax.apply(x, m), has[:, 0]
    return _log_mean(log_probs(pred, mode, from_logits), roi)


def log1m_mean(log_sbar: torch.Tensor) -> torch.Tensor:
    """``log(1 − S̄_k) = logsumexp_{j≠k} log S̄_j`` (exact in the log domain, ``(N, K, K)`` work only)."""
    k = log_sbar.shape[1]
    eye = torch.eye(k, dtype=torch.bool, device=log_sbar.device)
    return torch.logsumexp(log_sbar[:, None, :].masked_fill(eye, float("-inf")), dim=2)


def _log_mean(logp: torch.Tensor, roi: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``log`` of the per-image mean over valid pixels of ``exp(logp)`` → ``((N, K), has_valid (N,))``."""
    n, k = logp.shape[:2]
    lp = logp.reshape(n, k, -1)
    if roi is None:
        cnt = torch.full((n,), lp.shape[-1], dtype=lp.dtype, device=lp.device)
        return torch.logsumexp(lp, -1) - torch.log(cnt)[:, None], torch.ones(n, dtype=torch.bool, device=lp.device)
    m = roi.reshape(n, 1, -1)
    has = m.any(-1)  # (N, 1)
    m = m | ~has[:, :, None]  # images without valid pixels: use all (their loss is zeroed later)
    cnt = m.sum(-1).to(lp.dtype)  # (N, 1)
    return torch.logsumexp(lp.masked_fill(~m, float("-inf")), -1) - torch.log(cnt), has[:, 0]


def mean_pred(
    pred: torch.Tensor, mode: str, from_logits: bool, roi: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(S̄ (N, K), has_valid (N,))`` directly in the probability domain (enough for polynomial losses)."""
    x = pred.float() if pred.dtype in (torch.float16, torch.bfloat16) else pred
    if mode == "binary":
        p = torch.sigmoid(x) if from_logits else x
        s = torch.cat([1.0 - p, p], 1)
    else:
        s = torch.softmax(x, 1) if from_logits else x
    n, k = s.shape[:2]
    s = s.reshape(n, k, -1)
    if roi is None:
        return s.mean(2), torch.ones(n, dtype=torch.bool, device=s.device)
    m = roi.reshape(n, 1, -1)
    has = m.any(-1)
    m = (m | ~has[:, :, None]).to(s.dtype)
    return (s * m).sum(2) / m.sum(2), has[:, 0]


def class_tensor(x: torch.Tensor, n: int, k: int, name: str, mode: str, *, is_size: bool = False) -> torch.Tensor:
    """Check a per-image class tensor ``(N, K)``; with ``is_size`` in binary mode also ``(N,)`` foreground fractions."""
    check_tensor(x, name)
    if mode == "binary" and is_size and (x.shape == (n,) or x.shape == (n, 1)):
        fg = x.reshape(n, 1)
        x = torch.cat([1 - fg, fg], 1)
    if tuple(x.shape) != (n, k):
        extra = " (or (N,) foreground fractions with mode='binary')" if is_size else ""
        raise ValueError(f"`{name}` must have shape (N, K) = {(n, k)}{extra}; got {tuple(x.shape)}")
    return x


def finish(per: torch.Tensor, has: torch.Tensor, reduction: str) -> torch.Tensor:
    """Zero the images without valid pixels, then reduce."""
    per = torch.where(has, per, torch.zeros_like(per))
    return reduce(per, reduction)

