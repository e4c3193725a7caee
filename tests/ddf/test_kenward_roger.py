"""Kenward-Roger adjusted covariance, DF and F scaling against pbkrtest.

At lme4's estimates (the reference cases of tests/ddf/conftest.py), then end
to end on hlmlab's own REML fits through ``fit.varpar``.
"""

import numpy as np
import pytest

import hlmlab as hl
from hlmlab.ddf.kenward_roger import KRResult, kenward_roger, kenward_roger_from_model, kr_model_of


def test_kenward_roger_matches_pbkrtest(ref, case_reml):
    case = ref.CASES[case_reml]
    model = ref.kr_reference_model(case_reml)
    expected = case["kenward_roger"]
    Va = np.array(expected["vcov_adjusted"]["values"], dtype=float).reshape(model.Phi.shape)
    np.testing.assert_allclose(model.Phi_A, Va, rtol=1e-9, atol=1e-12 * np.max(np.abs(Va)))
    res = kenward_roger_from_model(model, ref.ref_L(case))
    np.testing.assert_allclose(res.df, np.atleast_1d(expected["df_pbkrtest"]), rtol=5e-12)
    np.testing.assert_allclose(res.se, np.atleast_1d(expected["se"]), rtol=1e-9)


def test_kenward_roger_joint_test_matches_pbkrtest(ref, case_joint_kr):
    J = ref.CASES[case_joint_kr]["joint"]
    res = kenward_roger_from_model(ref.kr_reference_model(case_joint_kr), np.array(J["L"]["values"], dtype=float))
    expected = J["kenward_roger"]
    assert res.rank == expected["NumDF"]
    assert res.df_joint == pytest.approx(expected["DenDF"], rel=1e-12)
    assert res.F_scaling == pytest.approx(expected["F_scaling"], rel=1e-9)
    assert res.F == pytest.approx(expected["F"], rel=1e-9)


def test_lme_fit_kenward_roger_matches_pbkrtest(ref, case_reml):
    case = ref.CASES[case_reml]
    res = kenward_roger(ref.hl_fit(case_reml).varpar, ref.ref_L(case))
    assert isinstance(res, KRResult)
    rtol = ref.LOOSE.get(case_reml, ref.DF_RTOL)
    np.testing.assert_allclose(res.df, np.atleast_1d(case["kenward_roger"]["df"]), rtol=rtol)
    se_rtol = {"hs_ses_sector_reml": 1e-3, "orthodont_reml": 4e-4}.get(case_reml, 2e-5)
    np.testing.assert_allclose(res.se, np.atleast_1d(case["kenward_roger"]["se"]), rtol=se_rtol)


def test_the_kr_model_is_kept_in_the_varpar_cache_not_on_the_fit(ref):
    fit = ref.hl_fit("sleepstudy_reml")
    model = kr_model_of(fit.varpar)
    assert fit.varpar.cache["kenward_roger"] is model and kr_model_of(fit.varpar) is model
    assert not hasattr(fit, "_kr_model")


def test_kenward_roger_needs_reml(ref):
    with pytest.raises(ValueError, match="REML"):
        kenward_roger(ref.hl_fit("sleepstudy_ml").varpar, np.eye(2))


def test_L_with_dependent_rows_is_tested_on_its_row_space(ref):
    vp = ref.hl_fit("sleepstudy_reml").varpar
    one = kenward_roger(vp, np.eye(2))
    two = kenward_roger(vp, np.vstack([np.eye(2), [[1.0, 1.0]]]))
    assert two.rank == one.rank == 2
    assert two.F == pytest.approx(one.F, rel=1e-10) and two.df_joint == pytest.approx(one.df_joint, rel=1e-10)


def test_wald_kenward_roger_uses_the_adjusted_covariance(hs):
    # pbkrtest at lme4's optimum (tests/reference/satterthwaite_reference.json):
    # SectorPublic adjusted SE 0.6661013, DF 38.24; unadjusted SE 0.6628
    fit = hl.lme("mathach ~ ses * Sector", hs, random="~ 1 + ses | school")
    kr = hl.wald(fit, "^SectorPublic$", ddf="kenward-roger").estimate.iloc[0]
    plain = hl.wald(fit, "^SectorPublic$").estimate.iloc[0]
    assert kr["Std.Error"] == pytest.approx(0.6661013, rel=2e-3)
    assert kr["DF"] == pytest.approx(38.24, rel=2e-4)  # the reference is rounded to 2 decimals
    assert kr["Std.Error"] > plain["Std.Error"]
