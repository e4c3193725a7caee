"""hlmlab.graphics.geometry: ellipses as numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hlmlab.contract import ContrastDF
from hlmlab.graphics import geometry as geo


class StandInOLS:
    """A minimal fit obeying the CONTRACT, from numpy least squares."""

    def __init__(self, X: pd.DataFrame, y: np.ndarray):
        Xm = X.to_numpy(dtype=float)
        beta, *_ = np.linalg.lstsq(Xm, y, rcond=None)
        resid = y - Xm @ beta
        n, p = Xm.shape
        self.df_resid = n - p
        self.sigma = float(np.sqrt(resid @ resid / self.df_resid))
        V = self.sigma**2 * np.linalg.inv(Xm.T @ Xm)
        names = list(X.columns)
        self.fixef = pd.Series(beta, index=names)
        self.vcov = pd.DataFrame(V, index=names, columns=names)
        self.se = pd.Series(np.sqrt(np.diag(V)), index=names)
        self.df = pd.Series(float(self.df_resid), index=names)

    def contrast_df(self, L, ddf=None):
        L = np.atleast_2d(L)
        return ContrastDF(np.repeat(float(self.df_resid), L.shape[0]), float(self.df_resid))


@pytest.fixture
def fit():
    rng = np.random.default_rng(1)
    n = 30
    x = rng.normal(size=n)
    g = rng.integers(0, 2, size=n)
    X = pd.DataFrame({"(Intercept)": 1.0, "ses": x, "SectorPublic": g.astype(float), "ses:SectorPublic": x * g})
    y = 12 + 2 * x - 1.5 * g + 1.0 * x * g + rng.normal(scale=3, size=n)
    return StandInOLS(X, y)


# --- ellipse ----------------------------------------------------------------
def test_points_satisfy_the_quadratic_form():
    S = np.array([[4.0, 1.2], [1.2, 1.0]])
    c = np.array([1.0, -2.0])
    pts = geo.ellipse(c, S, radius=2.5, n=60)
    d = pts - c
    q = np.einsum("ij,jk,ik->i", d, np.linalg.inv(S), d)
    assert pts.shape == (60, 2)
    np.testing.assert_allclose(q, 2.5**2, rtol=1e-10)
    np.testing.assert_allclose(pts[0], pts[-1])  # closed curve


def test_several_radii_at_once():
    S = np.diag([1.0, 9.0])
    pts = geo.ellipse([0, 0], S, radius=[1, 2, 3], n=50)
    assert pts.shape == (3, 50, 2)
    np.testing.assert_allclose(np.abs(pts[:, :, 1]).max(axis=1), [3, 6, 9], rtol=1e-3)


def test_shadows_of_the_ellipse_are_center_plus_minus_r_sd():
    S = np.array([[4.0, -1.5], [-1.5, 2.25]])
    pts = geo.ellipse([3, 5], S, radius=2, n=20001)
    np.testing.assert_allclose(pts[:, 0].max(), 3 + 2 * 2.0, rtol=1e-6)
    np.testing.assert_allclose(pts[:, 1].min(), 5 - 2 * 1.5, rtol=1e-6)


def test_singular_shape_gives_a_segment():
    v = np.array([1.0, 2.0])
    S = np.outer(v, v)  # rank 1
    pts = geo.ellipse([1, 1], S, radius=1, n=101)
    d = pts - [1, 1]
    # all points on the line through the centre along v ...
    np.testing.assert_allclose(d[:, 0] * v[1] - d[:, 1] * v[0], 0, atol=1e-12)
    # ... with half-length r * |v|
    np.testing.assert_allclose(np.linalg.norm(d, axis=1).max(), np.linalg.norm(v), rtol=1e-6)


def test_zero_shape_gives_the_centre():
    pts = geo.ellipse([2, 3], np.zeros((2, 2)), n=10)
    np.testing.assert_allclose(pts, np.tile([2, 3], (10, 1)))


@pytest.mark.parametrize(
    "shape, msg",
    [
        (np.array([[1.0, 0.5], [0.2, 1.0]]), "symmetric"),
        (np.array([[1.0, 2.0], [2.0, 1.0]]), "positive semi-definite"),
        (np.ones((2, 3)), "square"),
        (np.eye(3), "2 x 2"),
        (np.array([[1.0, np.nan], [np.nan, 1.0]]), "missing or infinite"),
    ],
)
def test_bad_shapes_raise(shape, msg):
    with pytest.raises(ValueError, match=msg):
        geo.ellipse([0, 0], shape)


def test_bad_center_and_radius_raise():
    with pytest.raises(ValueError, match="lengths must match"):
        geo.ellipse([0, 0, 0], np.eye(2))
    with pytest.raises(ValueError, match="radius"):
        geo.ellipse([0, 0], np.eye(2), radius=-1)
    with pytest.raises(ValueError, match="at least 3"):
        geo.ellipse([0, 0], np.eye(2), n=2)


# --- radius conventions ------------------------------------------------------
def test_radius_conventions_large_df():
    assert geo.radius("coverage", np.inf) == pytest.approx(2.4477, abs=1e-4)
    assert geo.radius("coverage", 1e6) == pytest.approx(2.4477, abs=1e-3)
    assert geo.radius("shadows", np.inf) == pytest.approx(1.95996, abs=1e-5)
    assert geo.radius("shadows", 1e6) == pytest.approx(1.96, abs=1e-3)


def test_radius_conventions_small_df():
    assert geo.radius("coverage", 10) == pytest.approx(np.sqrt(2 * stats.f.ppf(0.95, 2, 10)))
    assert geo.radius("shadows", 10) == pytest.approx(2.228139, abs=1e-6)
    # coverage ellipse is bigger than the shadows ellipse
    assert geo.radius("coverage", 30) > geo.radius("shadows", 30)


def test_radius_bad_input():
    with pytest.raises(ValueError, match="'coverage' or 'shadows'"):
        geo.radius("both", 10)
    with pytest.raises(ValueError, match="level"):
        geo.radius("coverage", 10, conf_level=1.5)
    with pytest.raises(ValueError, match="df must be positive"):
        geo.radius("coverage", 0)


# --- data ellipse --------------------------------------------------------------
def test_data_ellipse_shadows_are_mean_plus_minus_sd():
    rng = np.random.default_rng(3)
    x = pd.Series(rng.normal(10, 2, 200), name="ses")
    y = pd.Series(0.5 * x + rng.normal(0, 1, 200), name="mathach")
    e = geo.data_ellipse(x, y)
    sh = e.shadows()
    assert list(sh.index) == ["ses", "mathach"]
    np.testing.assert_allclose(sh.loc["ses", "upper"], x.mean() + x.std(), rtol=1e-12)
    np.testing.assert_allclose(sh.loc["mathach", "lower"], y.mean() - y.std(), rtol=1e-12)
    pts = e.points(20001)
    np.testing.assert_allclose(pts[:, 0].max(), x.mean() + x.std(), rtol=1e-6)
    # shadow on the direction (1, 1) is mean(x + y) +- SD(x + y)
    lo, hi = e.shadow([1, 1])
    np.testing.assert_allclose(hi, (x + y).mean() + (x + y).std(), rtol=1e-12)


def test_data_ellipse_drops_missing_pairs_and_checks_lengths():
    e = geo.data_ellipse([1, 2, np.nan, 4], [2, 4, 5, np.nan])
    np.testing.assert_allclose(e.center, [1.5, 3.0])
    assert e.info["n"] == 2
    with pytest.raises(ValueError, match="lengths must match"):
        geo.data_ellipse([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2 complete pairs"):
        geo.data_ellipse([1, np.nan], [1, 2])


def test_collinear_data_give_a_degenerate_ellipse():
    x = np.arange(10.0)
    e = geo.data_ellipse(x, 3 * x + 1)
    d = e.points(50) - e.center
    np.testing.assert_allclose(d[:, 1], 3 * d[:, 0], atol=1e-9)


# --- confidence ellipses -----------------------------------------------------
def test_shadows_ellipse_projects_to_the_wald_intervals(fit):
    e = geo.confidence_ellipse(fit, ["ses", "ses:SectorPublic"], kind="shadows")
    t = stats.t.ppf(0.975, fit.df_resid)
    sh = e.shadows()
    for name in ["ses", "ses:SectorPublic"]:
        np.testing.assert_allclose(sh.loc[name, "lower"], fit.fixef[name] - t * fit.se[name], rtol=1e-12)
        np.testing.assert_allclose(sh.loc[name, "upper"], fit.fixef[name] + t * fit.se[name], rtol=1e-12)
    assert e.radius == pytest.approx(t)


def test_coverage_ellipse_boundary_is_the_f_critical_value(fit):
    e = geo.confidence_ellipse(fit, ["(Intercept)", "ses"], kind="coverage")
    assert e.radius == pytest.approx(np.sqrt(2 * stats.f.ppf(0.95, 2, fit.df_resid)))
    # a boundary point x has Wald F = (x - b)' V^-1 (x - b) / 2 equal to F(0.95; 2, df)
    x = e.points(7)[3]
    b = fit.fixef[["(Intercept)", "ses"]].to_numpy()
    V = fit.vcov.loc[["(Intercept)", "ses"], ["(Intercept)", "ses"]].to_numpy()
    F = (x - b) @ np.linalg.solve(V, x - b) / 2
    assert F == pytest.approx(stats.f.ppf(0.95, 2, fit.df_resid))


def test_confidence_ellipse_for_combinations(fit):
    # the Public slope and the Public intercept: rows of L
    L = pd.DataFrame(
        [[1, 0, 1, 0], [0, 1, 0, 1]],
        columns=fit.fixef.index,
        index=["Public intercept", "Public slope"],
        dtype=float,
    )
    e = geo.confidence_ellipse(fit, L=L, kind="shadows")
    Lm = L.to_numpy()
    np.testing.assert_allclose(e.center, Lm @ fit.fixef.to_numpy())
    np.testing.assert_allclose(e.shape, Lm @ fit.vcov.to_numpy() @ Lm.T)
    assert e.names == ("Public intercept", "Public slope")
    # a DataFrame L may list only some coefficients
    e2 = geo.confidence_ellipse(fit, L=L[["(Intercept)", "SectorPublic"]].iloc[[0, 0]].set_axis(["a", "b"]))
    assert e2.shape[0, 0] == pytest.approx(e2.shape[1, 1])


def test_confidence_ellipse_bad_input(fit):
    with pytest.raises(KeyError, match="not in the fit"):
        geo.confidence_ellipse(fit, ["ses", "nope"])
    with pytest.raises(ValueError, match="exactly two"):
        geo.confidence_ellipse(fit, ["ses"])
    with pytest.raises(ValueError, match="exactly 2 rows"):
        geo.confidence_ellipse(fit, L=np.eye(4)[:3])
    with pytest.raises(ValueError, match="4 coefficients"):
        geo.confidence_ellipse(fit, L=np.eye(3)[:2])
    with pytest.raises(ValueError, match="'coverage' or 'shadows'"):
        geo.confidence_ellipse(fit, ["ses", "SectorPublic"], kind="wide")


def test_explicit_df_overrides_the_fit(fit):
    e = geo.confidence_ellipse(fit, [0, 1], kind="shadows", df=np.inf)
    assert e.radius == pytest.approx(1.959964, abs=1e-6)


def test_shadows_equal_engine_wald_intervals():
    import hlmlab
    from hlmlab import lm

    hs = hlmlab.load_data("hs")
    fit = lm("mathach ~ ses * Sector", hs)
    e = geo.confidence_ellipse(fit, ["ses", "ses:SectorPublic"], kind="shadows")
    t = stats.t.ppf(0.975, 1973)
    sh = e.shadows()
    np.testing.assert_allclose(sh.loc["ses", "center"], 2.2999, atol=1e-4)
    np.testing.assert_allclose(sh.loc["ses", "upper"] - sh.loc["ses", "center"], t * 0.2582, atol=1e-3)
    np.testing.assert_allclose(
        sh["upper"] - sh["center"], t * fit.se[["ses", "ses:SectorPublic"]].to_numpy(), rtol=1e-10
    )


# --- dispersion ellipses and ellipsoids --------------------------------------
def test_dispersion_ellipses_add_up():
    G = np.array([[2.5, 0.3], [0.3, 0.2]])
    X = np.column_stack([np.ones(5), [-1, -0.5, 0, 0.5, 1.0]])
    d = geo.dispersion_ellipses(G, sigma=6.0, X=X, center=[12, 2])
    np.testing.assert_allclose(d["sampling"].shape, 36 * np.linalg.inv(X.T @ X))
    np.testing.assert_allclose(d["V"].shape, d["G"].shape + d["sampling"].shape)
    np.testing.assert_allclose(d["V"].center, [12, 2])
    # the V ellipse contains the G ellipse (V - G is PSD)
    assert d["V"].contains(d["G"].points(200)).all()


def test_dispersion_ellipses_bad_input():
    G = np.eye(2)
    with pytest.raises(ValueError, match="exactly one of X"):
        geo.dispersion_ellipses(G, 1.0)
    with pytest.raises(ValueError, match="singular"):
        geo.dispersion_ellipses(G, 1.0, X=np.ones((4, 2)))
    with pytest.raises(ValueError, match="G must be positive semi-definite"):
        geo.dispersion_ellipses(-G, 1.0, XtX=np.eye(2))


def test_ellipsoid_points_satisfy_the_quadratic_form():
    S = np.array([[4.0, 1.0, 0.5], [1.0, 2.0, 0.3], [0.5, 0.3, 1.0]])
    X, Y, Z = geo.ellipsoid([1, 2, 3], S, radius=2, n=15)
    d = np.column_stack([X.ravel(), Y.ravel(), Z.ravel()]) - [1, 2, 3]
    q = np.einsum("ij,jk,ik->i", d, np.linalg.inv(S), d)
    np.testing.assert_allclose(q, 4.0, rtol=1e-10)


def test_shape_summary_of_a_pancake():
    U = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]
    G = U @ np.diag([9.0, 1.0, 1e-4]) @ U.T
    s = geo.shape_summary(G)
    np.testing.assert_allclose(s[["eigenvalue1", "eigenvalue2", "eigenvalue3"]], [9, 1, 1e-4], rtol=1e-8)
    assert s["condition"] == pytest.approx(9e4, rel=1e-6)
    assert s["axis_ratio"] == pytest.approx(300, rel=1e-6)
    assert geo.shape_summary(np.diag([1.0, 0.0]))["condition"] == np.inf


def test_confidence_ellipse_reads_the_engine_contrast_df(hs):
    from hlmlab import lm

    fit = lm("mathach ~ ses * Sector", hs)
    e = geo.confidence_ellipse(fit, ["(Intercept)", "ses"])
    assert e.df == 1973
    assert e.radius == pytest.approx(np.sqrt(2 * stats.f.ppf(0.95, 2, 1973)))
    from hlmlab import wald

    w = wald(fit, ["ses", "ses:SectorPublic"]).estimate
    sh = geo.confidence_ellipse(fit, ["ses", "ses:SectorPublic"], kind="shadows").shadows()
    np.testing.assert_allclose(sh["lower"], w.iloc[:, 5], rtol=1e-12)
    np.testing.assert_allclose(sh["upper"], w.iloc[:, 6], rtol=1e-12)


def test_shape_summary_treats_rounding_level_eigenvalues_as_zero():
    v = np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0]]).T
    G = v @ v.T  # rank 2 up to rounding
    s = geo.shape_summary(G)
    assert s["eigenvalue3"] == 0.0 and s["condition"] == np.inf


def test_shadows_equal_engine_wald_intervals_for_an_lme_fit(hs):
    from hlmlab import lme, wald

    fit = lme("mathach ~ ses * Sector", hs, random="~ 1 + ses | school")
    names = ["ses", "ses:SectorPublic"]
    sh = geo.confidence_ellipse(fit, names, kind="shadows").shadows()
    w = wald(fit, names).estimate
    np.testing.assert_allclose(sh["lower"], w.iloc[:, 5], rtol=1e-12)
    np.testing.assert_allclose(sh["upper"], w.iloc[:, 6], rtol=1e-12)
    # with nlme's DF rule, SectorPublic has between-school DF: coverage uses the joint DF
    e = geo.confidence_ellipse(fit, ["(Intercept)", "SectorPublic"], kind="coverage")
    assert e.df == fit.contrast_df(np.eye(4)[[0, 2]])[1]
    assert e.df == 38


# --- the shrinkage ellipses: Var(BLUP) and the prediction error ---------------
def _loewner_min(A, B):
    """Smallest eigenvalue of B - A (>= 0 when A <= B in the Loewner order)."""
    return float(np.linalg.eigvalsh(np.asarray(B) - np.asarray(A)).min())


def test_dispersion_ellipses_blup_and_error_on_hs_schools():
    import hlmlab
    from hlmlab import lme

    hs = hlmlab.load_data("hs")
    fit = lme("mathach ~ ses * Sector", hs, random="~ 1 + ses | school")
    G = fit.G.to_numpy()
    sigma = fit.sigma
    checked = 0
    for _, d in hs.groupby("school"):
        X = np.column_stack([np.ones(len(d)), d["ses"].to_numpy()])
        e = geo.dispersion_ellipses(fit.G, sigma, X=X, blup=True)
        S = sigma**2 * np.linalg.inv(X.T @ X)
        V = G + S
        # the formulas
        np.testing.assert_allclose(e["BLUP"].shape, G @ np.linalg.solve(V, G), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(
            e["error"].shape, np.linalg.inv(np.linalg.inv(G) + np.linalg.inv(S)), rtol=1e-8, atol=1e-12
        )
        # they add up to G
        np.testing.assert_allclose(e["BLUP"].shape + e["error"].shape, G, rtol=1e-12, atol=1e-12)
        # Var(BLUP) <= G <= V_j
        scale = np.abs(V).max()
        assert _loewner_min(e["BLUP"].shape, G) >= -1e-12 * scale
        assert _loewner_min(G, e["V"].shape) >= -1e-12 * scale
        # the BLUP ellipse lies inside G's, which lies inside V's
        assert e["G"].contains(e["BLUP"].points(100)).all()
        assert e["V"].contains(e["G"].points(100)).all()
        checked += 1
    assert checked == hs["school"].nunique() == 40
    # the three ellipses alone by default (the chapters iterate over them)
    assert list(geo.dispersion_ellipses(fit.G, sigma, X=X)) == ["G", "sampling", "V"]


def test_dispersion_ellipses_blup_with_a_singular_G():
    # G of rank 1: intercept and slope perfectly correlated (a boundary fit)
    a = np.array([2.0, 0.5])
    G = np.outer(a, a)
    X = np.column_stack([np.ones(6), [-1.5, -1, -0.2, 0.3, 1, 2.0]])
    sigma = 3.0
    e = geo.dispersion_ellipses(G, sigma, X=X, blup=True)
    S = sigma**2 * np.linalg.inv(X.T @ X)
    V = G + S
    np.testing.assert_allclose(e["BLUP"].shape + e["error"].shape, G, atol=1e-12)
    # Woodbury form S - S V^{-1} S of (G^{-1} + S^{-1})^{-1}, which needs no G^{-1}
    np.testing.assert_allclose(e["error"].shape, S - S @ np.linalg.solve(V, S), atol=1e-12)
    # nothing varies off the line of G: both new shapes are multiples of a a'
    perp = np.array([-a[1], a[0]])
    for k in ("BLUP", "error"):
        assert abs(perp @ e[k].shape @ perp) < 1e-12
        assert np.linalg.matrix_rank(e[k].shape, tol=1e-10) == 1
    # the scalar shrinkage along a: var(BLUP) = g² / (g + s), error = g s / (g + s)
    u = a / np.linalg.norm(a)
    g = float(u @ G @ u)
    s = 1 / float(u @ np.linalg.solve(S, u))  # S restricted to the line through a
    np.testing.assert_allclose(u @ e["BLUP"].shape @ u, g * g / (g + s), rtol=1e-10)
    np.testing.assert_allclose(u @ e["error"].shape @ u, g * s / (g + s), rtol=1e-10)
    # G = 0: no BLUP variance and no error
    z = geo.dispersion_ellipses(np.zeros((2, 2)), sigma, X=X, blup=True)
    np.testing.assert_allclose(z["BLUP"].shape, 0, atol=1e-15)
    np.testing.assert_allclose(z["error"].shape, 0, atol=1e-15)


def test_radius_names_a_percentage_given_as_a_level():
    with pytest.raises(ValueError, match="did you mean 0.95"):
        geo.radius("coverage", 10, conf_level=95)
