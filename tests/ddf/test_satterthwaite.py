"""Satterthwaite denominator DF against lmerTest.

At lme4's estimates (tests/ddf/conftest.py), so the pieces can be checked at
exactly the point lmerTest used:

- the Jacobian of Cov(beta-hat) in varpar = (theta, sigma) (lmerTest's ``Jac_list``),
- the DF of each coefficient and contrast with lmerTest's own A,
- the DF with A from our numerical Hessian of hlmlab's deviance,
- the joint F test (F, NumDF, DenDF) of a multi-row L,

and then end to end on ``hlmlab.lme`` fits (through ``fit.varpar``), where the
optimum may differ from lme4's in the last digits.
"""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import hlmlab as hl
from hlmlab.ddf.satterthwaite import (
    SatterthwaiteResult,
    joint_df,
    satterthwaite_df,
    satterthwaite_nu,
    satterthwaite_parts,
    vcov_jacobian,
)


# ---------------------------------------------------------------------------
# the formulas, by hand
# ---------------------------------------------------------------------------
def test_nu_is_twice_squared_variance_over_delta_method_variance():
    C = np.diag([4.0, 1.0])
    jac = np.array([np.diag([2.0, 0.0]), np.diag([0.0, 1.0])])
    A = np.diag([0.5, 0.25])
    # l = e1: l'Cl = 4, g = (2, 0), g'Ag = 2 -> nu = 2 * 16 / 2 = 16
    assert satterthwaite_nu(np.array([1.0, 0.0]), C, jac, A) == pytest.approx(16.0)
    assert np.isnan(satterthwaite_nu(np.zeros(2), C, jac, A))


def test_joint_df_rule():
    assert joint_df(np.array([10.0])) == 10.0
    assert joint_df(np.array([8.0, 8.0])) == 8.0
    assert joint_df(np.array([1.5, 30.0])) == 2.0
    E = 10 / 8 + 20 / 18
    assert joint_df(np.array([10.0, 20.0])) == pytest.approx(2 * E / (E - 2))


def test_jacobian_of_a_known_function():
    def f(phi):
        return np.array([[phi[0] ** 2, phi[0] * phi[1]], [phi[0] * phi[1], np.exp(phi[1])]])

    J = vcov_jacobian(f, np.array([1.5, -0.3]))
    np.testing.assert_allclose(J[0], [[3.0, -0.3], [-0.3, 0.0]], atol=1e-9)
    np.testing.assert_allclose(J[1], [[0.0, 1.5], [1.5, np.exp(-0.3)]], atol=1e-9)


# ---------------------------------------------------------------------------
# against lmerTest, at lme4's estimates
# ---------------------------------------------------------------------------
def test_vcov_at_lme4_estimates_matches_lme4(ref, case_all):
    parts = ref.ref_parts(case_all)
    expected = np.array(ref.CASES[case_all]["vcov"]["values"], dtype=float).reshape(parts.C.shape)
    np.testing.assert_allclose(parts.C, expected, rtol=1e-6, atol=1e-12)


def test_jacobian_matches_lmertest(ref, case_all):
    parts = ref.ref_parts(case_all)
    J = vcov_jacobian(parts.vcov, parts.phi)
    expected = ref.lme4_varpar(case_all)[2]
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(J, expected, atol=1e-6 * scale)


def test_df_with_lmertest_A_matches_lmertest(ref, case_all):
    case = ref.CASES[case_all]
    res = satterthwaite_df(ref.ref_parts(case_all), ref.ref_L(case))
    assert isinstance(res, SatterthwaiteResult)
    rtol = ref.AT_LME4.get(case_all, ref.AT_LME4_RTOL)
    np.testing.assert_allclose(res.df, np.atleast_1d(case["satterthwaite"]["df"]), rtol=rtol)


def test_df_with_our_hessian_matches_lmertest(ref, case_interior):
    """A = 2 H^+ from the deviance (richardson_hessian) reproduces lmerTest's A and DF."""
    case = ref.CASES[case_interior]
    parts = ref.ref_parts(case_interior, A="hessian")
    A_ref = ref.lme4_varpar(case_interior)[1]
    np.testing.assert_allclose(parts.A, A_ref, atol=2e-5 * np.max(np.abs(A_ref)))
    res = satterthwaite_df(parts, ref.ref_L(case))
    np.testing.assert_allclose(res.df, np.atleast_1d(case["satterthwaite"]["df"]), rtol=ref.AT_LME4_RTOL)


def test_near_boundary_ml_fit_df_close_to_lmertest(ref):
    """hs ML: theta_22 = 0.0009, so the deviance is nearly flat (even) in theta_22.

    A depends on the difference steps there (numDeriv's genD and our
    Richardson table differ by 3% in A); the DF agree to 5%.
    """
    case = ref.CASES["hs_ses_sector_ml"]
    res = satterthwaite_df(ref.ref_parts("hs_ses_sector_ml", A="hessian"), ref.ref_L(case))
    np.testing.assert_allclose(res.df, case["satterthwaite"]["df"], rtol=5e-2)


def test_joint_F_test_matches_lmertest(ref, case_joint):
    J = ref.CASES[case_joint]["joint"]
    res = satterthwaite_df(ref.ref_parts(case_joint), np.array(J["L"]["values"], dtype=float))
    assert res.rank == J["satterthwaite"]["NumDF"]
    assert res.F == pytest.approx(J["satterthwaite"]["F"], rel=1e-12)
    assert res.df_joint == pytest.approx(J["satterthwaite"]["DenDF"], rel=1e-7)


def test_L_as_dataframe_is_aligned_by_name(ref):
    case = ref.CASES["hs_ses_sector_reml"]
    parts = ref.ref_parts("hs_ses_sector_reml")
    L = pd.DataFrame([[1.0, 1.0]], columns=["ses:SectorPublic", "SectorPublic"], index=["gap at ses = 1"])
    res = satterthwaite_df(parts, L)
    assert res.df[0] == pytest.approx(case["satterthwaite"]["df"][4], rel=1e-9)
    with pytest.raises(KeyError, match="not coefficients"):
        satterthwaite_df(parts, pd.DataFrame([[1.0]], columns=["Sector"]))


def test_singular_fit_gives_residual_df(ref):
    """Dyestuff2: theta = 0, so only sigma varies and the intercept gets n - 1 = 29 DF."""
    res = satterthwaite_df(ref.ref_parts("dyestuff2_singular_reml", A="hessian"), np.ones((1, 1)))
    assert res.df[0] == pytest.approx(29.0, rel=1e-8)


def test_dependent_rows_count_once_in_the_joint_test(ref):
    """The joint test uses rank(L) directions (hlmlab's one rank rule): a dependent row adds none.

    (F does not depend on how the rows span their space; the DF, as lmerTest's,
    follow the eigen-directions of L C L' and so do.)
    """
    parts = ref.ref_parts("hs_ses_sector_reml")
    L = np.eye(4)[[1, 3]]
    one = satterthwaite_df(parts, L)
    two = satterthwaite_df(parts, np.vstack([L, 2 * L[0] - L[1]]))
    assert two.rank == one.rank == 2
    assert two.F == pytest.approx(one.F, rel=1e-10) and np.isfinite(two.df_joint)


# ---------------------------------------------------------------------------
# end to end: hlmlab.lme fits (their own optimum), through fit.varpar
# ---------------------------------------------------------------------------
def test_lme_fit_satterthwaite_df_match_lmertest(ref, case_interior):
    case = ref.CASES[case_interior]
    fit = ref.hl_fit(case_interior)
    assert fit.criterion <= case["criterion"] + 1e-6 * abs(case["criterion"])
    res = satterthwaite_df(fit.varpar, ref.ref_L(case))
    rtol = ref.LOOSE.get(case_interior, ref.DF_RTOL)
    np.testing.assert_allclose(res.df, np.atleast_1d(case["satterthwaite"]["df"]), rtol=rtol)


def test_lme_fit_joint_df_match_lmertest(ref, case_joint_interior):
    J = ref.CASES[case_joint_interior]["joint"]
    fit = ref.hl_fit(case_joint_interior)
    res = satterthwaite_df(fit.varpar, pd.DataFrame(J["L"]["values"], columns=J["L"]["cols"]))
    assert res.rank == J["satterthwaite"]["NumDF"]
    rtol = ref.LOOSE.get(case_joint_interior, ref.DF_RTOL)
    assert res.df_joint == pytest.approx(J["satterthwaite"]["DenDF"], rel=rtol)
    assert res.F == pytest.approx(J["satterthwaite"]["F"], rel=1e-3)


def test_boundary_ml_fit_drops_the_zero_parameter(ref):
    """hs ML: hlmlab's optimum has theta_22 ~ 0 (criterion 3e-7 below lme4's point, theta_22 = 9e-4).

    C(phi) is even in a template's diagonal element, so dC/dtheta_22 = 0 there
    and that parameter no longer costs DF: the within-school coefficients get
    far more DF than lmerTest's near-boundary 197 and 200, while the
    between-school ones (SectorPublic, intercept) still agree.
    """
    case = ref.CASES["hs_ses_sector_ml"]
    fit = ref.hl_fit("hs_ses_sector_ml")
    assert fit.singular and fit.theta[2] < 1e-4
    res = satterthwaite_df(fit.varpar, ref.ref_L(case))
    expected = np.array(case["satterthwaite"]["df"])
    np.testing.assert_allclose(res.df[[0, 2]], expected[[0, 2]], rtol=2.5e-3)
    assert np.all(res.df[[1, 3]] > 2 * expected[[1, 3]])


def test_non_finite_A_falls_back_to_the_pseudo_inverse(ref):
    """Variance parameters whose A (varpar.cov) is NaN (Hessian not PD) still give DF, from 2 H^+ of the deviance."""
    vp = ref.hl_fit("sleepstudy_reml").varpar
    fake = SimpleNamespace(**{f.name: getattr(vp, f.name) for f in dataclasses.fields(vp)})
    fake.cache = {}
    fake.cov = np.full((4, 4), np.nan)
    fake.deviance, fake.vcov_beta = vp.deviance, vp.vcov_beta
    assert np.all(np.isfinite(satterthwaite_parts(fake).A))
    np.testing.assert_allclose(satterthwaite_df(fake, np.eye(2)).df, satterthwaite_df(vp, np.eye(2)).df, rtol=1e-4)


def test_parts_and_jacobian_are_kept_in_the_varpar_cache(ref):
    vp = ref.hl_fit("sleepstudy_reml").varpar
    first = satterthwaite_df(vp, np.eye(2))
    assert satterthwaite_parts(vp) is vp.cache["satterthwaite_parts"]
    assert "satterthwaite_jacobian" in vp.cache
    np.testing.assert_array_equal(satterthwaite_df(vp, np.eye(2)).df, first.df)


# ---------------------------------------------------------------------------
# the one-way model in closed form, and the two public paths to its DF
# ---------------------------------------------------------------------------
def _oneway_closed_form(y: pd.Series, g: pd.Series, phi: np.ndarray) -> tuple[float, np.ndarray]:
    r"""Satterthwaite DF of the intercept of y_ij = mu + u_j + e_ij by REML, independently of hlmlab.

    With s2 = sigma², t2 = (theta sigma)², lambda_j = s2 + n_j t2 and
    w_j = n_j / lambda_j: C = Var(mu-hat) = 1 / sum_j w_j, and the REML
    deviance is (up to a constant)

        D = (N - J) log s2 + sum_j log lambda_j + log sum_j w_j
            + S_within / s2 + sum_j w_j (ybar_j - mu-hat)²,

    whose gradient in (s2, t2) is written out below (mu-hat is the GLS
    estimate, so its own derivative drops out). The Hessian of D and the
    gradient of C in phi = (theta, sigma) are complex-step derivatives of
    these analytic expressions, exact to rounding. nu = 2 C² / (g'Ag),
    A = 2 H^{-1}.
    """
    grp = y.groupby(g)
    n = grp.size().to_numpy(float)
    yb = grp.mean().to_numpy()
    S = float(((y - grp.transform("mean")) ** 2).sum())
    N, J = n.sum(), n.size

    def pieces(p):
        th, sg = p
        s2, t2 = sg**2, th**2 * sg**2
        lam = s2 + n * t2
        w = n / lam
        W = w.sum()
        return s2, t2, lam, W, (w * yb).sum() / W

    def grad(p):
        th, sg = p
        s2, t2, lam, W, mu = pieces(p)
        r2 = (yb - mu) ** 2
        d_s2 = (N - J) / s2 + (1 / lam).sum() - (n / lam**2).sum() / W - S / s2**2 - (n / lam**2 * r2).sum()
        d_t2 = (n / lam).sum() - (n**2 / lam**2).sum() / W - (n**2 / lam**2 * r2).sum()
        return np.array([d_t2 * 2 * th * sg**2, d_s2 * 2 * sg + d_t2 * 2 * th**2 * sg])

    def C(p):
        return 1 / pieces(p)[3]

    h = 1e-30
    E = np.eye(2)
    H = np.array([np.imag(grad(phi + 1j * h * e)) / h for e in E])
    gC = np.array([np.imag(C(phi + 1j * h * e)) / h for e in E])
    A = 2 * np.linalg.inv((H + H.T) / 2)
    return float(2 * C(phi) ** 2 / (gC @ A @ gC)), grad(phi)


def test_oneway_hs_satterthwaite_closed_form_and_both_paths_agree():
    """Reported: contrast_df gave 38.1128 and wald 38.1141 on this model. Both paths
    now give the same number, equal to the closed form (38.11332)."""
    hs = hl.load_data("hs")
    f = hl.lme("mathach ~ 1", hs, random="~ 1 | school")
    phi = np.asarray(f.varpar.phi, float)
    nu, grad = _oneway_closed_form(hs["mathach"], hs["school"], phi)
    assert np.all(np.abs(grad) < 1e-6)  # the fit is at the REML optimum
    rows, joint = f.contrast_df([[1.0]], ddf="satterthwaite")
    w = hl.wald(f, "Intercept", ddf="satterthwaite")
    assert rows[0] == pytest.approx(nu, rel=1e-8)
    assert nu == pytest.approx(38.11332, abs=1e-5)
    # the two public paths give the same number, bit for bit, in either order
    assert w.estimate["DF"].iloc[0] == rows[0] == joint == w.den_df
    f2 = hl.lme("mathach ~ 1", hs, random="~ 1 | school")
    w2 = hl.wald(f2, "Intercept", ddf="satterthwaite").estimate["DF"].iloc[0]
    assert w2 == f2.contrast_df([[1.0]], ddf="satterthwaite")[0][0] == rows[0]
    # and the DF does not depend on the scale of L (nu is homogeneous of degree 0 in l)
    assert f.contrast_df([[2.5]], ddf="satterthwaite")[0][0] == pytest.approx(rows[0], rel=1e-12)
    assert f.contrast_df([[1e-3]], ddf="satterthwaite")[0][0] == pytest.approx(rows[0], rel=1e-12)
