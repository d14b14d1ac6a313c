"""SVCCA, PWCCA and linear CKA in torch, float64 on any device: the TypeScript measures
(`src/engine/analysis/svcca.ts`, `pwcca.ts`, `cka.ts`) step by step, so both engines give the same
coefficients (to 1e-6) on the same activations.

Activation matrices are (n, p): rows = data points, columns = neurons. The route is the
TypeScript one: centre the columns; the smaller Gram matrix (AᵀA, or AAᵀ when p > n) and its
symmetric eigendecomposition; keep the top directions (`keep` of the variance, or `dims`);
an orthonormal basis Q of the kept subspace; the canonical correlations are the singular values
of diag(wa)·Qaᵀ·Qb·diag(wb), from the eigenvalues of the smaller of M·Mᵀ and Mᵀ·M.

Input errors (a side without variance, nothing left after the epsilon cut) raise
`MeasureInputError` with the TypeScript engine's message; the caller checks shapes and values
before (`checkPair` in TypeScript).
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import torch

#: Relative size below which an eigenvalue of a Gram matrix counts as zero (`RANK_TOLERANCE`).
RANK_TOLERANCE = 1e-10
#: λ_max/λ_k beyond which a Gram-route basis is re-orthonormalised (`REORTHONORMALISE_RATIO`).
REORTHONORMALISE_RATIO = 1e8


class MeasureInputError(ValueError):
    """The activations cannot be measured (one line for the user)."""


@dataclass
class Side:
    #: orthonormal basis of the kept subspace (n × k).
    q: torch.Tensor
    k: int
    #: all eigenvalues of the Gram matrix, descending, ≥ 0.
    lam: torch.Tensor
    #: centred data (n × p′).
    a: torch.Tensor
    svd_step: bool
    weights: Optional[torch.Tensor]
    explained: float


def _kept_count(lam: torch.Tensor, rank: int, keep: float, dims: Optional[int]) -> int:
    if dims is not None:
        return max(0, min(dims, rank))
    if keep >= 1:
        return rank
    total = float(lam.sum())
    acc = torch.cumsum(lam[:rank], 0)
    hit = torch.nonzero(acc >= keep * total)
    return int(hit[0]) + 1 if hit.numel() else rank


def _prepare(x: torch.Tensor, keep: float, dims: Optional[int], eps: float, label: str) -> Side:
    n = x.shape[0]
    svd_step = dims is not None or keep < 1
    a = x.to(torch.float64)
    a = a - a.mean(0)
    scale = float("nan")
    if not svd_step:
        ss = (a * a).sum(0)
        max_ss = float(ss.max())
        if not max_ss > 0:
            raise MeasureInputError(f"activations {label} have no variance (every neuron is constant)")
        scale = max_ss
        cols = ss / max_ss >= eps
        if not bool(cols.all()):
            a = a[:, cols]
    p = a.shape[1]
    features = p <= n
    g = a.T @ a if features else a @ a.T
    w, v = torch.linalg.eigh(g)
    lam = w.flip(0).clamp_min(0)
    v = v.flip(1)
    lam0 = float(lam[0]) if lam.numel() else 0.0
    rank = int((lam > RANK_TOLERANCE * lam0).sum()) if lam0 > 0 else 0
    if rank == 0:
        raise MeasureInputError(f"activations {label} have no variance (every neuron is constant)")
    k = _kept_count(lam, rank, keep, dims) if svd_step else rank
    if svd_step and eps > 0:
        while k > 0 and float(lam[k - 1]) / lam0 < eps:
            k -= 1
    if k == 0:
        raise MeasureInputError(f"activations {label}: no direction is left after the epsilon cut (epsilon {eps:g})")
    k = min(k, rank)
    if features:
        q = (a @ v[:, :k]) / lam[:k].sqrt()
        if k > 1 and lam0 / float(lam[k - 1]) > REORTHONORMALISE_RATIO:
            # Cholesky QR, as the TypeScript engine re-orthonormalises
            chol = torch.linalg.cholesky(q.T @ q)
            q = torch.linalg.solve_triangular(chol, q.T, upper=False).T
    else:
        q = v[:, :k]
    s = lam0 if svd_step else scale
    weights = None
    if eps > 0:
        mu = lam[:k] / s
        weights = (mu / (mu + eps)).sqrt()
    total = float(lam.sum())
    return Side(q, k, lam, a, svd_step, weights, float(lam[:k].sum()) / total if total > 0 else 0.0)


def _summary(coefficients: List[float]) -> Dict[str, float]:
    m = len(coefficients)
    if m == 0:
        return {"mean": 0.0, "auc": 0.0}
    if m == 1:
        return {"mean": coefficients[0], "auc": coefficients[0]}
    area = sum(coefficients[i] + coefficients[i + 1] for i in range(m - 1))
    return {"mean": sum(coefficients) / m, "auc": area / (2 * (m - 1))}


def _cca(a: torch.Tensor, b: torch.Tensor, keep: Optional[float], dims: Optional[int], eps: float, default_keep: float):
    keep_ = default_keep if keep is None else keep
    if a.device.type == "cpu":
        # the two sides side by side (torch releases the GIL): float64 eigh of one side hardly
        # gains from a second core, while the other side's can use it
        with ThreadPoolExecutor(2) as pool:
            fa = pool.submit(_prepare, a, keep_, dims, eps, "A")
            fb = pool.submit(_prepare, b, keep_, dims, eps, "B")
            sa, sb = fa.result(), fb.result()
    else:
        sa = _prepare(a, keep_, dims, eps, "A")
        sb = _prepare(b, keep_, dims, eps, "B")
    m = sa.q.T @ sb.q
    if sa.weights is not None:
        m = m * sa.weights[:, None]
    if sb.weights is not None:
        m = m * sb.weights[None, :]
    small = m @ m.T if sa.k <= sb.k else m.T @ m
    sigma = torch.linalg.eigvalsh(small).flip(0).clamp_min(0).sqrt().clamp(0, 1)
    n = a.shape[0]
    warnings = []
    if sa.k + sb.k > n - 1:
        warnings.append(
            f"only {n} data points for {sa.k} + {sb.k} directions: at least {sa.k + sb.k - n + 1} coefficient(s) are 1 by construction; use more data points"
        )
    return sa, sb, m, sigma, warnings


def _result(a: torch.Tensor, b: torch.Tensor, sa: Side, sb: Side, coefficients: List[float], warnings: List[str], value: float) -> Dict[str, Any]:
    return {
        "value": value,
        "coefficients": coefficients,
        **_summary(coefficients),
        "kept": [sa.k, sb.k],
        "explained": [sa.explained, sb.explained],
        "points": int(a.shape[0]),
        "neurons": [int(a.shape[1]), int(b.shape[1])],
        "warnings": warnings,
    }


def svcca(a: torch.Tensor, b: torch.Tensor, keep: Optional[float] = None, dims: Optional[int] = None, epsilon: float = 0.0) -> Dict[str, Any]:
    """SVCCA (`svccaSimilarity`): the mean canonical correlation after keeping `keep` (0.99) of each side's variance."""
    sa, sb, _, sigma, warnings = _cca(a, b, keep, dims, epsilon, 0.99)
    coefficients = sigma.tolist()
    return _result(a, b, sa, sb, coefficients, warnings, _summary(coefficients)["mean"])


def pwcca(a: torch.Tensor, b: torch.Tensor, keep: Optional[float] = None, dims: Optional[int] = None, epsilon: float = 0.0) -> Dict[str, Any]:
    """PWCCA (`pwccaSimilarity`): the canonical correlations weighted by the projections of the
    side with fewer kept directions (A on a tie) onto its canonical directions."""
    sa, sb, m, sigma, warnings = _cca(a, b, keep, dims, epsilon, 1.0)
    x_is_a = sa.k <= sb.k
    x = sa if x_is_a else sb
    mx = m if x_is_a else m.T
    # the x side's singular vectors: eigenvectors of Mx·Mxᵀ, descending
    _, e = torch.linalg.eigh(mx @ mx.T)
    e = e.flip(1)
    root = x.lam[: x.k].sqrt()
    # the neurons' coordinates in the basis: Λ^½ after an SVD step, else Qᵀ·(centred data)
    f = torch.diag(root) if x.svd_step else x.q.T @ x.a
    r1 = root[:, None] * e
    q1, _ = torch.linalg.qr(r1)
    w = (q1.T @ f).abs().sum(1)
    w = w / w.sum()
    coefficients = sigma.tolist()
    value = float((w * sigma).sum())
    out = _result(a, b, sa, sb, coefficients, warnings, value)
    out["weights"] = w.tolist()
    out["weightedSide"] = "A" if x_is_a else "B"
    return out


def cka(a: torch.Tensor, b: torch.Tensor, debiased: bool = False) -> Dict[str, Any]:
    """Linear CKA (`linearCka`), optionally with the unbiased HSIC estimator."""
    n = a.shape[0]
    min_n = 4 if debiased else 2
    if n < min_n:
        raise MeasureInputError(f"{'debiased ' if debiased else ''}CKA needs at least {min_n} data points, got {n}")
    x = a.to(torch.float64)
    y = b.to(torch.float64)
    x = x - x.mean(0)
    y = y - y.mean(0)
    rx = (x * x).sum(1)
    ry = (y * y).sum(1)
    nx = float(rx.sum())
    ny = float(ry.sum())
    if not nx > 0:
        raise MeasureInputError("activations A have no variance (every neuron is constant)")
    if not ny > 0:
        raise MeasureInputError("activations B have no variance (every neuron is constant)")
    pa, pb = x.shape[1], y.shape[1]
    if pa * pb + (pa * pa + pb * pb) / 2 <= n * (pa + pb) / 2 + n:
        hxy = float((y.T @ x).square().sum())
        hxx = float((x.T @ x).square().sum())
        hyy = float((y.T @ y).square().sum())
    else:
        k = x @ x.T
        l_ = y @ y.T
        hxy = float((k * l_).sum())
        hxx = float(k.square().sum())
        hyy = float(l_.square().sum())
    if debiased:

        def h(xty: float, r1: torch.Tensor, r2: torch.Tensor, n1: float, n2: float) -> float:
            return xty - n / (n - 2) * float((r1 * r2).sum()) + n1 * n2 / ((n - 1) * (n - 2))

        hxy = h(hxy, rx, ry, nx, ny)
        hxx = h(hxx, rx, rx, nx, nx)
        hyy = h(hyy, ry, ry, ny, ny)
    return {"value": hxy / (hxx * hyy) ** 0.5, "debiased": debiased, "points": int(n), "neurons": [int(pa), int(pb)]}


def measure(name: str, a: torch.Tensor, b: torch.Tensor, options: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """One measure by its TypeScript name, with the TypeScript `MeasureOptions`."""
    o = options or {}
    if name == "cka":
        return cka(a, b, bool(o.get("debiased", False)))
    kw = {"keep": o.get("keep"), "dims": o.get("dims"), "epsilon": float(o.get("epsilon") or 0.0)}
    if name == "svcca":
        return svcca(a, b, **kw)
    if name == "pwcca":
        return pwcca(a, b, **kw)
    raise MeasureInputError(f"unknown measure {name!r}: use svcca, pwcca or cka")
