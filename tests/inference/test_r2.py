"""Multilevel R²: the reduction of each variance component."""

import numpy as np
import pandas as pd
import pytest

import hlmlab as hl
from hlmlab.inference.r2 import r2_multilevel


def test_r2_multilevel_reduction_of_each_component(standin):
    null = standin(G=pd.DataFrame([[8.0]], index=["(Intercept)"], columns=["(Intercept)"]), sigma=6.0)
    G = pd.DataFrame([[2.0, 0.1], [0.1, 0.5]], index=["(Intercept)", "ses"], columns=["(Intercept)", "ses"])
    full = standin(G=G, sigma=np.sqrt(27.0))
    tab = r2_multilevel(full, null)
    assert tab.loc["(Intercept)", "R2"] == pytest.approx(0.75)
    assert tab.loc["Residual", "R2"] == pytest.approx(0.25)
    assert np.isnan(tab.loc["ses", "R2"])


def test_r2_multilevel_on_mixed_models(minority_fits, hs1_id):
    ri = minority_fits[0]
    null = hl.lme("mathach ~ 1", hs1_id, random="~ 1 | id")
    tab = r2_multilevel(ri, null)
    tau0, tau1 = null.G.iloc[0, 0], ri.G.iloc[0, 0]
    assert tab.loc["(Intercept)", "R2"] == pytest.approx(1 - tau1 / tau0)
    assert tab.loc["Residual", "R2"] == pytest.approx(1 - ri.sigma**2 / null.sigma**2)
    assert 0 < tab.loc["Residual", "R2"] < 1 and 0 < tab.loc["(Intercept)", "R2"] < 1
