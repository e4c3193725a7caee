"""hlmlab.ddf: one dispatch, contrast_df(L, ddf, coef_df=, varpar=), and its names."""

import numpy as np
import pandas as pd
import pytest

import hlmlab as hl
from hlmlab.contract import ContrastDF
from hlmlab.ddf import ALIASES, METHODS, contrast_df, method_name


@pytest.mark.parametrize(
    "name, canonical",
    [
        (None, "nlme"),
        ("nlme", "nlme"),
        ("between-within", "nlme"),
        ("satterthwaite", "satterthwaite"),
        ("sat", "satterthwaite"),
        ("Satterthwaite", "satterthwaite"),
        ("kenward-roger", "kenward-roger"),
        ("kr", "kenward-roger"),
        ("kenward_roger", "kenward-roger"),
        ("KR", "kenward-roger"),
    ],
)
def test_names_and_aliases(name, canonical):
    assert method_name(name) == canonical
    assert set(ALIASES.values()) == set(METHODS)


@pytest.mark.parametrize("bad", ["residual", "bogus", "", 3, "kenward"])
def test_unknown_name_lists_the_known_ones(bad):
    with pytest.raises(ValueError, match="unknown ddf") as err:
        method_name(bad)
    for name in ("None", "'nlme'", "'between-within'", "'satterthwaite'", "'sat'", "'kenward-roger'", "'kr'"):
        assert name in str(err.value)


def test_nlme_rule_from_coef_df():
    coef_df = np.array([100.0, 100.0, 20.0, 100.0])
    res = contrast_df(np.array([[0, 1.0, 0, 0], [0, 1.0, 1.0, 0]]), coef_df=coef_df)
    assert isinstance(res, ContrastDF)
    assert list(res.row_df) == [100, 20] and res.joint_df == 20
    e1 = np.eye(4)[[0]]
    assert contrast_df(e1, "between-within", coef_df=coef_df) == contrast_df(e1, coef_df=coef_df)


def test_nlme_rule_aligns_a_dataframe_by_name():
    coef_df = pd.Series([100.0, 20.0], index=["(Intercept)", "SectorPublic"])
    rows, joint = contrast_df(pd.DataFrame({"SectorPublic": [1.0]}), coef_df=coef_df)
    assert list(rows) == [20] and joint == 20
    with pytest.raises(KeyError, match="not coefficients"):
        contrast_df(pd.DataFrame({"Sector": [1.0]}), coef_df=coef_df)
    with pytest.raises(ValueError, match="2 fixed effects"):
        contrast_df(np.eye(3), coef_df=coef_df)


def test_satterthwaite_and_kr_need_the_variance_parameters():
    with pytest.raises(ValueError, match="varpar"):
        contrast_df(np.eye(2), "sat", coef_df=np.array([10.0, 10.0]))


def test_dispatch_returns_row_and_joint_df(ref):
    fit = ref.hl_fit("sleepstudy_reml")
    rows, joint = contrast_df(np.eye(2), "satterthwaite", coef_df=fit.df, varpar=fit.varpar)
    assert rows.shape == (2,) and joint == pytest.approx(17.0, rel=1e-8)
    rows, joint = contrast_df(np.eye(2), "kenward-roger", coef_df=fit.df, varpar=fit.varpar)
    assert rows == pytest.approx([17.0, 17.0], rel=1e-12) and joint == pytest.approx(16.0, rel=1e-12)
    # the aliases give the same numbers, bit for bit
    assert np.array_equal(contrast_df(np.eye(2), "kr", coef_df=fit.df, varpar=fit.varpar).row_df, rows)
    sat = contrast_df(np.eye(2), "sat", coef_df=fit.df, varpar=fit.varpar)
    assert np.array_equal(sat.row_df, contrast_df(np.eye(2), "satterthwaite", coef_df=fit.df, varpar=fit.varpar).row_df)


def test_fit_contrast_df_goes_through_the_dispatch(ref):
    fit = ref.hl_fit("sleepstudy_reml")
    for name in ("nlme", "sat", "kr"):
        assert np.array_equal(
            fit.contrast_df(np.eye(2), name).row_df,
            contrast_df(np.eye(2), name, coef_df=fit.df, varpar=fit.varpar).row_df,
        )
    with pytest.raises(ValueError, match="unknown ddf 'bogus'.*'kenward-roger'"):
        fit.contrast_df(np.eye(2), "bogus")


def test_lm_contrast_df_rejects_an_unknown_name(hs):
    fit = hl.lm("mathach ~ ses", hs)
    with pytest.raises(ValueError, match="unknown ddf 'residual'.*'satterthwaite'"):
        fit.contrast_df(np.eye(2), "residual")
