"""The variance parameters handed to the DF methods."""

import numpy as np
import pytest


def test_varpar_gives_the_fits_covariance_and_a_positive_definite_asymptotic_covariance(fitc):
    vp = fitc.varpar
    np.testing.assert_allclose(vp.vcov_beta(vp.phi), fitc.vcov.to_numpy(), rtol=1e-10)
    assert vp.deviance(vp.phi) == pytest.approx(fitc.criterion, rel=1e-12)
    assert vp.cov.shape == (4, 4) and np.all(np.linalg.eigvalsh(vp.cov) > 0)


def test_varpar_hessian_is_accurate_enough_for_satterthwaite(r_fits, ref_case):
    # sleepstudy: lmerTest's Satterthwaite DF at the polished optimum are 17.000001 and 17.0000003
    fit = r_fits("sleepstudy_reml")
    ref = ref_case("sleepstudy_reml")["optimum"]["lmerTest"]["satterthwaite"]["df"]
    rows, _ = fit.contrast_df(np.eye(2), "satterthwaite")
    np.testing.assert_allclose(rows, list(ref.values()), rtol=1e-6)
    H = fit.varpar.hessian
    assert np.allclose(H, H.T) and np.all(np.linalg.eigvalsh(H) > 0)
