"""The refit search (hlmlab.lmm.warm): the same optimum as the full search, from a warm start."""

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hlmlab as hl
import hlmlab.lmm.warm as warm
from hlmlab.lmm.model import fit_model
from hlmlab.lmm.onelevel import OneLevel
from hlmlab.lmm.pls import theta_lower
from hlmlab.lmm.warm import METHOD, projected_newton, warm_search

DATA = Path(__file__).parents[1] / "reference" / "data"


def _quadratic(A, b):
    def fg(x):
        return float(0.5 * x @ A @ x - b @ x), A @ x - b

    return fg


def test_projected_newton_interior_optimum():
    A = np.array([[4.0, 1.0], [1.0, 3.0]])
    b = np.array([1.0, 2.0])
    x, f, g, H, held = projected_newton(_quadratic(A, b), np.array([5.0, 5.0]), np.array([0.0, -np.inf]))
    np.testing.assert_allclose(x, np.linalg.solve(A, b), atol=1e-9)
    assert not held.any()
    np.testing.assert_allclose(H, A, rtol=1e-5)


def test_projected_newton_holds_a_coordinate_at_its_bound():
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    b = np.array([-1.0, 1.0])  # unconstrained optimum has x0 < 0
    x, f, g, H, held = projected_newton(_quadratic(A, b), np.array([1.0, 0.0]), np.array([0.0, -np.inf]))
    assert x[0] == 0.0 and held[0] and g[0] > 0
    assert x[1] == pytest.approx(1.0, abs=1e-9)  # minimises 0.5 x1^2 - x1 on the face x0 = 0
    assert np.isnan(H[0, 0]) and H[1, 1] == pytest.approx(1.0, rel=1e-5)


def test_projected_newton_gives_up_on_a_function_without_minimum():
    def fg(x):
        return float(-x @ x), -2 * x

    assert projected_newton(fg, np.array([1.0]), np.array([-np.inf]), max_iter=5) is None


def _sims(fit, nsim, seed):
    return fit.simulate(nsim, seed=seed)


@pytest.mark.parametrize(
    "data, fixed, random",
    [
        ("hs", "mathach ~ ses * Sector", "~ 1 | school"),
        ("hs", "mathach ~ ses * Sector", "~ 1 + ses | school"),
        ("sleepstudy", "Reaction ~ Days", "~ 1 + Days | Subject"),
        ("Orthodont", "distance ~ age + Sex", "~ 1 + age | Subject"),
    ],
)
def test_refits_reach_the_full_search_optimum(data, fixed, random):
    df = hl.load_data("hs") if data == "hs" else pd.read_csv(DATA / f"{data}.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = hl.lme(fixed, df, random)
        intercept_only = random.split("+")[0].strip() + " | " + random.split("|")[1].strip()
        null = hl.lme(fixed, df, intercept_only) if "+" in random else fit
    response = fixed.split("~")[0].strip()
    Y = np.column_stack([null.simulate(4, seed=3), fit.simulate(4, seed=4)])
    singular = 0
    for k in range(Y.shape[1]):
        quick = fit.refit(newresp=Y[:, k])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            full = hl.lme(fixed, df.assign(**{response: Y[:, k]}), random)
        assert quick.criterion <= full.criterion + 1e-7 * abs(full.criterion)
        assert quick.criterion == pytest.approx(full.criterion, abs=1e-5)
        assert quick.singular == full.singular
        np.testing.assert_allclose(quick.fixef, full.fixef, rtol=1e-5, atol=1e-6 * full.se.max())
        singular += quick.singular
    if data == "hs" and "ses |" in random:
        assert singular >= 1  # the boundary case is exercised: null-simulated data put the slope variance at 0


def test_boundary_refit_is_singular_with_the_squared_search():
    hs = hl.load_data("hs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f0 = hl.lme("mathach ~ ses * Sector", hs, "~ 1 | school")
        f1 = hl.lme("mathach ~ ses * Sector", hs, "~ 1 + ses | school")
    Y = f0.simulate(30, seed=5)
    fits = [f1.refit(newresp=Y[:, k]) for k in range(30)]
    boundary = [f for f in fits if f.singular]
    assert boundary, "some null simulations must end on the boundary"
    for f in boundary:
        assert f.opt.method == METHOD and f.converged
        assert f.opt.theta[-1] == 0.0
        assert "singular fit" in f.messages[0]


def _no_intercept_variance():
    """Data whose group means are all equal: the intercept's variance is estimated as 0 (t11 = 0)."""
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(30), 10)
    x = np.tile(np.linspace(-1, 1, 10), 30)
    y = 1 + x * (2 + rng.normal(0, 1, 30)[g]) + rng.normal(0, 1, 300)
    y = y - pd.Series(y).groupby(g).transform("mean").to_numpy() + 1
    return pd.DataFrame({"y": y, "x": x, "g": g})


def test_warm_search_leaves_another_diagonal_on_its_bound_to_the_full_search():
    d = _no_intercept_variance()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = hl.lme("y ~ x", d, "~ 1 + x | g")
    assert fit.opt.theta[0] == 0.0 and fit.singular
    one = OneLevel(fit.model.stats, True)
    assert warm_search(one, fit.opt.theta, theta_lower((2,))) is None
    again = fit.refit(newresp=d["y"].to_numpy())  # falls back to the full search: same answer
    assert again.opt.method != METHOD
    assert again.criterion == pytest.approx(fit.criterion, abs=1e-8)
    assert again.singular


def test_fit_model_falls_back_to_the_full_search():
    """With a start the quick search cannot finish from, the answer is still the full search's."""
    df = pd.read_csv(DATA / "sleepstudy.csv")
    fit = hl.lme("Reaction ~ Days", df, "~ 1 + Days | Subject")
    again = fit_model(fit.model, theta0=np.array([0.0, 5.0, 0.0]))
    assert again.criterion == pytest.approx(fit.criterion, abs=1e-6)
    assert again.converged


def test_refit_warm_equals_refit_from_scratch(slopes, hsm):
    sub = hsm[hsm["school"] != hsm["school"].iloc[0]]
    warm = slopes.refit_warm(sub)
    cold = slopes.refit(data=sub)
    assert warm.nobs == cold.nobs < slopes.nobs
    assert warm.criterion == pytest.approx(cold.criterion, abs=1e-8)
    np.testing.assert_allclose(warm.fixef, cold.fixef, rtol=1e-8)
    np.testing.assert_allclose(warm.G, cold.G, rtol=1e-6)


def test_a_refit_computes_its_solution_only_when_asked(slopes):
    y = slopes.simulate(1, seed=2)[:, 0]
    quick = slopes.refit(newresp=y)
    assert "solution" not in quick.__dict__
    crit = quick.criterion  # from the optimum, no solution needed
    assert "solution" not in quick.__dict__
    assert quick.solution.criterion == pytest.approx(crit, abs=1e-9)
    assert quick.fixef.shape == slopes.fixef.shape


def test_projected_newton_takes_newton_steps_when_its_line_search_stalls(monkeypatch):
    # An ill-conditioned quadratic (correlation -0.99) whose criterion carries rounding noise of
    # 1e-6: from a start along the flat direction, with a Hessian estimate that ignores the
    # correlation, no trial step lowers f beyond the noise, and the quasi-Newton search stalls
    # 0.1 from the optimum. Newton steps on a fresh Hessian of the exact gradient finish the job.
    rho = -0.99
    A = np.array([[0.08, rho * math.sqrt(0.08 * 900)], [rho * math.sqrt(0.08 * 900), 900.0]])
    b = np.array([0.01, -3.0])
    optimum = np.linalg.solve(A, b)

    def fg(x):
        noise = 1e-6 * math.sin(1e7 * float(x.sum()) + 12345.0 * float(x[0]))
        return 0.5 * x @ A @ x - b @ x + 1000.0 + noise, A @ x - b

    start = optimum + 0.1 * np.linalg.eigh(A)[1][:, 0]
    free = np.array([-np.inf, -np.inf])
    found = projected_newton(fg, start, free, hessian0=np.diag([1.0, 1000.0]))
    np.testing.assert_allclose(found[0], optimum, atol=1e-9)
    monkeypatch.setattr(warm, "EXTRA_NEWTON_STEPS", 0)  # without them the stall is reported, not hidden
    assert projected_newton(fg, start, free, hessian0=np.diag([1.0, 1000.0])) is None
