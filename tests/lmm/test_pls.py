"""The penalised least-squares criterion against dense computations that share no code with it.

- the profiled REML criterion and ML deviance equal -2 log L computed from
  the dense marginal covariance V = sigma² (Z Lambda Lambda' Z' + I) on small
  nested data with random slopes, at arbitrary theta;
- the exact gradient of the criterion equals central differences of it;
- the conditional covariances of the BLUPs, Var(b | y) = sigma² Lambda
  (Lambda'Z'Z Lambda + I)^-1 Lambda' (beta known), equal the dense blocks,
  at both levels of a nested model;
- on hs, the criterion equals the benchmark's independent evaluator
  (``benchmarks/reml_eval.py``).
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hlmlab as hl
from hlmlab import _numdiff
from hlmlab.lmm.model import build_model
from hlmlab.lmm.pls import deviance, deviance_and_gradient, lambda_template, theta_lower, theta_start
from hlmlab.lmm.solution import solve


@pytest.fixture(scope="module")
def nested():
    """4 boards x 3 schools x 7 students, a covariate, random intercepts and slopes at both levels."""
    rng = np.random.default_rng(20)
    rows = []
    for b in range(4):
        for s in range(3):
            for _ in range(7):
                x = rng.normal()
                rows.append((f"b{b}", f"s{b}{s}", x, 1.0 + 0.5 * x + rng.normal() + 0.7 * b - 0.3 * s))
    d = pd.DataFrame(rows, columns=["board", "school", "x", "y"])
    return build_model("y ~ x", d, "~ 1 + x | board/school")


def _dense(model):
    """X, y and the full Z (n x sum of m_l q_l), level by level, group by group."""
    X, y = model.design.X, model.design.y
    blocks = []
    for lev in model.levels:
        m, q = lev.ngroups, lev.Z.shape[1]
        Z = np.zeros((len(y), m * q))
        for k in range(q):
            Z[np.arange(len(y)), lev.codes * q + k] = lev.Z[:, k]
        blocks.append(Z)
    return X, y, np.hstack(blocks)


def _big_lambda(model, theta):
    Ts = lambda_template(theta, model.stats.qs)
    parts = [np.kron(np.eye(lev.ngroups), T) for lev, T in zip(model.levels, Ts)]
    size = sum(p.shape[0] for p in parts)
    out = np.zeros((size, size))
    k = 0
    for p in parts:
        out[k : k + p.shape[0], k : k + p.shape[0]] = p
        k += p.shape[0]
    return out


def _dense_criterion(model, theta, reml):
    """-2 log L profiled over beta and sigma, from W = Z Lambda Lambda' Z' + I (V = sigma² W)."""
    X, y, Z = _dense(model)
    Lam = _big_lambda(model, theta)
    n, p = X.shape
    W = Z @ Lam @ Lam.T @ Z.T + np.eye(n)
    Wi = np.linalg.inv(W)
    XtWiX = X.T @ Wi @ X
    beta = np.linalg.solve(XtWiX, X.T @ Wi @ y)
    r = y - X @ beta
    r2 = r @ Wi @ r
    logdet_W = np.linalg.slogdet(W)[1]
    if reml:
        nu = n - p
        return logdet_W + np.linalg.slogdet(XtWiX)[1] + nu * (1 + np.log(2 * np.pi * r2 / nu))
    return logdet_W + n * (1 + np.log(2 * np.pi * r2 / n))


@pytest.mark.parametrize("reml", [True, False])
def test_criterion_equals_dense_minus_two_log_likelihood(nested, reml):
    rng = np.random.default_rng(5)
    for _ in range(4):
        theta = np.abs(rng.normal(size=nested.stats.ntheta)) + 0.05
        assert deviance(nested.stats, theta, reml) == pytest.approx(_dense_criterion(nested, theta, reml), rel=1e-10)


def test_conditional_covariances_of_the_blups_equal_the_dense_blocks_at_both_levels(nested):
    theta = np.array([0.8, 0.2, 0.5, 0.6, -0.1, 0.4])
    sol = solve(nested.stats, theta, reml=True)
    X, y, Z = _dense(nested)
    Lam = _big_lambda(nested, theta)
    # beta known: Var(u | y) = sigma² (Lambda'Z'Z Lambda + I)^-1, Var(b | y) = Lambda Var(u | y) Lambda'
    cov_b = sol.sigma**2 * Lam @ np.linalg.inv(Lam.T @ Z.T @ Z @ Lam + np.eye(Lam.shape[0])) @ Lam.T
    k = 0
    for l, lev in enumerate(nested.levels):
        q = lev.Z.shape[1]
        for j in range(lev.ngroups):
            block = cov_b[k + j * q : k + (j + 1) * q, k + j * q : k + (j + 1) * q]
            np.testing.assert_allclose(sol.b_cov[l][j], block, rtol=1e-9, atol=1e-12)
        k += lev.ngroups * q
    # and the BLUPs themselves: b = Lambda (Lambda'Z'Z Lambda + I)^-1 Lambda'Z'(y - X beta)
    u = np.linalg.solve(Lam.T @ Z.T @ Z @ Lam + np.eye(Lam.shape[0]), Lam.T @ Z.T @ (y - X @ sol.beta))
    np.testing.assert_allclose(np.concatenate([b.ravel() for b in sol.b]), Lam @ u, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("reml", [True, False])
def test_exact_gradient_equals_finite_differences(hsm, reml):
    m = build_model("mathach ~ ses * Sector", hsm, "~ 1 + ses | school")
    rng = np.random.default_rng(2)
    for theta in (theta_start(m.stats.qs), np.array([0.3, 0.05, 0.08]) + 0.1 * rng.random(3)):
        _, g = deviance_and_gradient(m.stats, theta, reml)
        fd = _numdiff.gradient(lambda t: deviance(m.stats, t, reml), theta, rel=1e-6, lower=theta_lower(m.stats.qs))
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-4)


def test_criterion_equals_the_benchmarks_independent_evaluator(hsm):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    try:
        import reml_eval
    finally:
        sys.path.pop(0)
    m = build_model("mathach ~ ses * Sector", hsm, "~ 1 + ses | school")
    fit = hl.lme("mathach ~ ses * Sector", hsm, "~ 1 + ses | school")
    stats = reml_eval.suff_stats(m.design.y, m.design.X, m.levels[0].Z, m.levels[0].codes)
    for theta in (fit.theta, theta_start(m.stats.qs), fit.theta * 1.3):
        assert deviance(m.stats, theta, True) == pytest.approx(reml_eval.reml_criterion(theta, stats), rel=1e-12)
