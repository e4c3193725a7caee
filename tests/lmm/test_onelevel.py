"""The fast one-level criterion (hlmlab.lmm.onelevel) against the general elimination (hlmlab.lmm.pls)."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hlmlab as hl
from hlmlab.lmm.model import build_model
from hlmlab.lmm.onelevel import OneLevel
from hlmlab.lmm.pls import deviance, deviance_and_gradient, factorize

DATA = Path(__file__).parents[1] / "reference" / "data"

CASES = [
    ("hs", "mathach ~ ses * Sector", "~ 1 | school"),
    ("hs", "mathach ~ ses * Sector", "~ 1 + ses | school"),
    ("hs", "mathach ~ ses * Sector", "~ 1 + ses + Sector | school"),
    ("sleepstudy", "Reaction ~ Days", "~ 1 + Days | Subject"),
    ("Orthodont", "distance ~ age + Sex", "~ 1 + age | Subject"),
    ("Dyestuff", "Yield ~ 1", "~ 1 | Batch"),
]


def _data(name):
    return hl.load_data(name) if name == "hs" else pd.read_csv(DATA / f"{name}.csv")


@pytest.mark.parametrize("method", ["REML", "ML"])
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}:{c[2]}" for c in CASES])
def test_value_and_gradient_equal_the_general_code(case, method):
    name, fixed, random = case
    model = build_model(fixed, _data(name), random, method)
    one = OneLevel(model.stats, model.reml)
    rng = np.random.default_rng(7)
    k = model.stats.ntheta
    for _ in range(4):
        theta = np.abs(rng.normal(0.6, 0.4, k))
        val, grad = deviance_and_gradient(model.stats, theta, model.reml)
        v1, g1 = one.value_and_gradient(theta)
        assert v1 == pytest.approx(val, rel=1e-12, abs=1e-9)
        assert one.value(theta) == pytest.approx(deviance(model.stats, theta, model.reml), rel=1e-12, abs=1e-9)
        np.testing.assert_allclose(g1, grad, rtol=1e-8, atol=1e-8 * max(1.0, np.abs(grad).max()))


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}:{c[2]}" for c in CASES])
def test_factorization_equals_the_general_factor(case):
    # what solve() builds the estimates from: L_j, C_w,j, R_F and log|L|^2
    name, fixed, random = case
    model = build_model(fixed, _data(name), random)
    theta = np.abs(np.random.default_rng(3).normal(0.6, 0.4, model.stats.ntheta))
    general, fast = factorize(model.stats, theta), OneLevel(model.stats).factorization(theta)
    np.testing.assert_allclose(fast.L[0], general.L[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fast.Cw[0], general.Cw[0], rtol=1e-10, atol=1e-10 * np.abs(general.Cw[0]).max())
    np.testing.assert_allclose(fast.RF, general.RF, rtol=1e-10, atol=1e-10 * np.abs(general.RF).max())
    assert fast.logdet_L == pytest.approx(general.logdet_L, rel=1e-13)
    np.testing.assert_array_equal(fast.lambdas[0], general.lambdas[0])
    np.testing.assert_allclose(fast.beta, general.beta, rtol=1e-10, atol=1e-10 * np.abs(general.beta).max())


def test_psi_gradient_gives_the_derivative_in_the_squared_last_diagonal():
    model = build_model("mathach ~ ses * Sector", hl.load_data("hs"), "~ 1 + ses | school")
    one = OneLevel(model.stats, True)
    theta = np.array([0.3, 0.05, 0.04])
    _, N, _ = one.value_and_psi_gradient(theta)

    def of_s(s):
        return one.value(np.r_[theta[:2], np.sqrt(s)])

    s, h = theta[2] ** 2, 1e-7
    numeric = (of_s(s + h) - of_s(s - h)) / (2 * h)
    assert N[1, 1] == pytest.approx(numeric, rel=1e-5)


def test_more_than_one_level_is_refused():
    hs = hl.load_data("hs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model("mathach ~ ses", hs, ["~ 1 | Sector", "~ 1 | school"])
    with pytest.raises(ValueError, match="exactly one level"):
        OneLevel(model.stats)


def test_an_extreme_theta_agrees_with_the_general_code():
    model = build_model("Reaction ~ Days", _data("sleepstudy"), "~ 1 + Days | Subject")
    one = OneLevel(model.stats, True)
    for theta in (np.array([1e9, 1e9, 1e9]), np.array([0.0, 0.0, 0.0]), np.array([1e-12, 5.0, 0.0])):
        val, grad = one.value_and_gradient(theta)
        ref = deviance(model.stats, theta, True)
        assert (val == ref == np.inf) or val == pytest.approx(ref, rel=1e-10)
        assert grad.shape == (3,) and np.all(np.isfinite(grad))
