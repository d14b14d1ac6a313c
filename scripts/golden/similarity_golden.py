#!/usr/bin/env python3
"""Golden values of SVCCA, PWCCA and linear CKA, computed with NumPy (LAPACK) by methods
independent of the engine's, for test/unit/similarity-golden.test.ts.

    python3 scripts/golden/similarity_golden.py      # writes test/unit/golden/similarity.json

The inputs are generated here from a seeded NumPy generator, rounded to 6 decimals, and written
into the JSON beside the values, so the test reads everything from the one file and needs no
Python. Axis convention as in the engine: an activation matrix is (n, p), rows = data points.

Methods (the definitions are those of the engine's module docs, src/engine/analysis/*.ts):
- SVCCA: centre each side; SVD step on the centred matrix (keep the fewest top singular
  directions whose squared singular values reach `keep` of the total, or exactly `dims`; none
  when keep = 1 and no dims); the canonical correlations are the singular values of Q_a^T Q_b,
  Q the orthonormal factor of a QR decomposition of each side's kept principal component scores.
- PWCCA (plain CCA, epsilon 0): the side with fewer neurons (A on a tie) is weighted. With
  K = S_xx^(-1/2) S_xy S_yy^(-1/2) (symmetric inverse square roots from eigh), u_j its left
  singular vectors on that side, d_j = X_c u_j, P the Q of a QR of [d_1 ... d_m]; the weights are
  a_j = sum_i |<P_j, x_i>| over the centred neurons x_i, normalised to 1; PWCCA = sum_j a_j rho_j,
  the rho_j the singular values of K.
- Linear CKA from the n x n Gram matrices of the centred data (the engine uses the p x p cross
  products when n >= pa + pb): HSIC(K, L) = tr(K H L H), CKA = HSIC(K, L) / sqrt(HSIC(K, K)
  HSIC(L, L)). Debiased: the unbiased HSIC estimator of Song et al. 2012 on the same Gram
  matrices with their diagonals zeroed.
"""
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'unit', 'golden', 'similarity.json')


def make_pair(seed, n, pa, pb, r):
    """Two layers driven by a shared latent: A linear in it with unequal column scales and
    offsets, B a saturating function of it; both with noise. Rounded to 6 decimals."""
    g = np.random.default_rng(seed)
    z = g.standard_normal((n, r))
    a = z @ g.standard_normal((r, pa))
    a = a * np.linspace(2.0, 0.2, pa) + 0.3 * g.standard_normal((n, pa)) + np.arange(pa)
    b = np.tanh(z @ g.standard_normal((r, pb))) + 0.5 * g.standard_normal((n, pb)) - np.arange(pb) / 3
    return np.round(a, 6), np.round(b, 6)


def centred(x):
    return x - x.mean(axis=0)


def svd_step(x, keep=None, dims=None):
    """The kept principal component scores of the centred x, and their number."""
    xc = centred(x)
    if dims is None and keep == 1:
        return xc, x.shape[1]
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    var = s**2
    if dims is not None:
        k = dims
    else:
        ratio = np.cumsum(var) / var.sum()
        k = int(np.argmax(ratio >= keep)) + 1
        # The golden value is only meaningful when no rounding can move the cut.
        assert abs(ratio[k - 1] - keep) > 1e-6 and (k == 1 or abs(ratio[k - 2] - keep) > 1e-6), (keep, ratio)
    assert var[k - 1] > 1e-10 * var[0]
    return u[:, :k] * s[:k], k


def svcca(a, b, keep=None, dims=None):
    sa, ka = svd_step(a, keep, dims)
    sb, kb = svd_step(b, keep, dims)
    qa, _ = np.linalg.qr(sa)
    qb, _ = np.linalg.qr(sb)
    rho = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return {'coefficients': rho.tolist(), 'mean': float(rho.mean()), 'kept': [ka, kb]}


def inv_sqrt(s):
    w, v = np.linalg.eigh(s)
    return (v / np.sqrt(w)) @ v.T


def pwcca(a, b):
    n = a.shape[0]
    ac, bc = centred(a), centred(b)
    saa, sbb, sab = ac.T @ ac / (n - 1), bc.T @ bc / (n - 1), ac.T @ bc / (n - 1)
    k = inv_sqrt(saa) @ sab @ inv_sqrt(sbb)
    u, rho, vt = np.linalg.svd(k, full_matrices=False)
    x_is_a = a.shape[1] <= b.shape[1]
    xc, dirs = (ac, u) if x_is_a else (bc, vt.T)
    m = min(a.shape[1], b.shape[1])
    d = xc @ dirs[:, :m]
    p, _ = np.linalg.qr(d)
    w = np.abs(p.T @ xc).sum(axis=1)
    w = w / w.sum()
    return {'value': float(w @ rho[:m]), 'coefficients': rho[:m].tolist(), 'weights': w.tolist(), 'weightedSide': 'A' if x_is_a else 'B'}


def cka(a, b):
    n = a.shape[0]
    ac, bc = centred(a), centred(b)
    k, l = ac @ ac.T, bc @ bc.T
    h = np.eye(n) - np.ones((n, n)) / n

    def hsic(k, l):
        return np.trace(k @ h @ l @ h)

    def hsic_u(k, l):
        k, l = k.copy(), l.copy()
        np.fill_diagonal(k, 0)
        np.fill_diagonal(l, 0)
        one = np.ones(n)
        return (np.trace(k @ l) + (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2)) - 2 / (n - 2) * (one @ k @ l @ one)) / (n * (n - 3))

    return {
        'linear': float(hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l))),
        'debiased': float(hsic_u(k, l) / np.sqrt(hsic_u(k, k) * hsic_u(l, l))),
    }


def case(name, a, b, svcca_options, with_pwcca):
    out = {
        'name': name,
        'a': {'shape': list(a.shape), 'data': a.ravel().tolist()},
        'b': {'shape': list(b.shape), 'data': b.ravel().tolist()},
        'svcca': [{'options': o, **svcca(a, b, **o)} for o in svcca_options],
        'cka': cka(a, b),
    }
    if with_pwcca:
        out['pwcca'] = {'ab': pwcca(a, b), 'ba': pwcca(b, a)}
    return out


def main():
    a, b = make_pair(20261206, 240, 14, 10, 6)
    c, d = make_pair(7, 30, 40, 36, 5)
    golden = {
        'about': 'Written by scripts/golden/similarity_golden.py (NumPy ' + np.__version__ + '); do not edit by hand.',
        'cases': [
            case('n > pa + pb', a, b, [{'keep': 0.99}, {'keep': 0.9}, {'dims': 5}, {'keep': 1}], True),
            # More neurons than data points: plain CCA and PWCCA are undefined (the covariances
            # are singular); SVCCA with few kept directions and CKA are not.
            case('n < pa, pb', c, d, [{'dims': 8}, {'dims': 3}], False),
        ],
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(golden, f, separators=(',', ':'))
        f.write('\n')
    print(f'wrote {os.path.normpath(OUT)}')


if __name__ == '__main__':
    main()
