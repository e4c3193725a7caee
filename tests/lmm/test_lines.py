"""hlmlab.lmm.lines: each group's BLUP and population line in x from a mixed fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hlmlab import lme
from hlmlab.inference.grid import used_data
from hlmlab.lmm.lines import group_lines, group_means, line_terms


@pytest.fixture(scope="module")
def fit(hsm):
    return lme("mathach ~ ses * Sector", hsm, random="~ 1 + ses | school")


def test_line_terms_write_each_column_as_a_line_in_x(fit, hsm):
    a, s = line_terms(fit, "ses", "school", used_data(fit))
    public = (hsm.groupby("school")["Sector"].first().reindex(a.index) == "Public").to_numpy(float)
    np.testing.assert_allclose(a["(Intercept)"], 1.0)
    np.testing.assert_allclose(s["(Intercept)"], 0.0, atol=1e-12)
    np.testing.assert_allclose(a["ses"], 0.0, atol=1e-12)
    np.testing.assert_allclose(s["ses"], 1.0)
    np.testing.assert_allclose(a["SectorPublic"], public, atol=1e-12)
    np.testing.assert_allclose(s["ses:SectorPublic"], public, atol=1e-12)


def test_group_lines_are_the_groups_coefficients_in_x(fit, hsm):
    blup, pop = group_lines(fit, "ses", "school", used_data(fit))
    co = fit.coef()
    pub = (hsm.groupby("school")["Sector"].first().reindex(co.index) == "Public").to_numpy(float)
    np.testing.assert_allclose(blup["intercept"], co["(Intercept)"] + pub * co["SectorPublic"], atol=1e-8)
    np.testing.assert_allclose(blup["slope"], co["ses"] + pub * co["ses:SectorPublic"], atol=1e-8)
    b = fit.fixef
    np.testing.assert_allclose(pop["intercept"], b["(Intercept)"] + pub * b["SectorPublic"], atol=1e-8)
    np.testing.assert_allclose(pop["slope"], b["ses"] + pub * b["ses:SectorPublic"], atol=1e-8)
    # each BLUP line goes through the group's fitted values
    rows = used_data(fit)
    line = blup.reindex(rows["school"])
    np.testing.assert_allclose(
        line["intercept"].to_numpy() + line["slope"].to_numpy() * rows["ses"].to_numpy(),
        fit.fitted().to_numpy(),
        atol=1e-8,
    )


def test_lines_say_what_they_support(hsm):
    f0 = lme("mathach ~ ses", hsm, random="~ 1 | school")
    with pytest.raises(ValueError, match=r"random part '~ 1 \+ ses \| group'"):
        group_lines(f0, "ses", "school", used_data(f0))
    f1 = lme("mathach ~ ses + Sex", hsm, random="~ 1 + ses | school")
    with pytest.raises(ValueError, match="column 'SexMale' varies otherwise"):
        line_terms(f1, "ses", "school", used_data(f1))


def test_group_means_of_a_one_way_fit(hsm):
    f = lme("mathach ~ 1", hsm, random="~ 1 | school")
    rows = used_data(f)
    est = group_means(f, "school", rows, rows["mathach"])
    np.testing.assert_allclose(est["blue"], hsm.groupby("school")["mathach"].mean().reindex(est.index))
    assert list(est["n"]) == list(hsm["school"].value_counts().reindex(est.index))
    np.testing.assert_allclose(est["blup"], f.coef()["(Intercept)"].reindex(est.index))
    # shrinkage: each BLUP lies between gamma-hat and its group mean
    gamma = float(f.fixef.iloc[0])
    assert np.all((est["blup"] - gamma) * (est["blue"] - gamma) >= 0)
    assert isinstance(est, pd.DataFrame)
