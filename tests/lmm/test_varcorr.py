"""Variance components: one table of SDs and correlations (numbers, not tuples), from G."""

import numpy as np
import pytest

import hlmlab as hl


def test_frame_holds_sds_and_correlations_as_numbers(slopes):
    vc = slopes.varcorr()
    G = slopes.G.to_numpy()
    frame = vc.frame()
    assert list(frame.columns) == ["Variance", "StdDev", "Corr: (Intercept)"]
    assert frame.loc[("school", "ses"), "StdDev"] == pytest.approx(np.sqrt(G[1, 1]))
    assert frame.loc[("school", "ses"), "Corr: (Intercept)"] == pytest.approx(G[0, 1] / np.sqrt(G[0, 0] * G[1, 1]))
    assert np.isnan(frame.loc[("school", "(Intercept)"), "Corr: (Intercept)"])
    assert frame.loc[("Residual", ""), "StdDev"] == pytest.approx(slopes.sigma)
    np.testing.assert_allclose(vc.corr() @ np.ones(2), [1 + vc.corr()[0, 1]] * 2)


def test_text_and_html(slopes):
    vc = slopes.varcorr()
    text = repr(vc)
    assert "Corr: (Intercept)" in text and "0.523" in text and "(" not in text.split("\n")[-2].split()[-1]
    assert "<table" in vc._repr_html_()


def test_nested_levels_are_keyed_by_name(ref_data):
    fit = hl.lme("strength ~ 1", ref_data("Pastes"), "~ 1 | batch/cask")
    vc = fit.varcorr()
    assert vc.levels == ("batch", "batch/cask")
    assert set(fit.G_by_level) == {"batch", "batch/cask"}
    assert fit.G.equals(vc.cov("batch/cask")) and fit.ngroups == {"batch": 10, "batch/cask": 30}
    with pytest.raises(KeyError, match="no level 'school'"):
        vc.cov("school")
