"""The fixed design: names, NA handling, new data, bad input, aliasing."""

import numpy as np
import pandas as pd
import pytest

import hlmlab as hl
from hlmlab.formula.fixed import aliased_columns, fixed_design



@pytest.fixture(scope="module")
def hs():
    return hl.load_data("hs")


def test_r_style_names_and_column_order(hs):
    d = fixed_design("mathach ~ ses * Sector + cvar(ses, school)", hs)
    assert d.names == ["(Intercept)", "ses", "SectorPublic", "cvar(ses, school)", "ses:SectorPublic"]
    assert d.X.shape == (1977, 5) and d.y.shape == (1977,)
    assert d.n_dropped == 0 and d.rows.all()
    # cvar inside the formula is the school mean of ses
    np.testing.assert_allclose(d.X[:, 3], hl.cvar(hs["ses"], hs["school"]).to_numpy())


def test_factor_names_use_first_level_as_reference(hs):
    d = fixed_design("mathach ~ C(school)", hs)
    assert d.names[:3] == ["(Intercept)", "C(school)1906", "C(school)2208"]
    assert len(d.names) == 40


def test_missing_values_are_dropped_and_counted(hs):
    h = hs.copy()
    h.loc[[3, 10], "ses"] = np.nan
    h.loc[20, "mathach"] = np.nan
    d = fixed_design("mathach ~ ses", h)
    assert d.n_dropped == 3 and d.n == 1974
    assert not d.rows[[3, 10, 20]].any()
    np.testing.assert_allclose(d.y, h.loc[d.rows, "mathach"].to_numpy())


def test_keep_mask_drops_more_rows(hs):
    keep = np.ones(len(hs), bool)
    keep[:5] = False
    d = fixed_design("mathach ~ ses", hs, keep=keep)
    assert d.n_dropped == 5 and d.n == 1972


def test_model_matrix_for_new_data_has_same_columns(hs):
    d = fixed_design("mathach ~ ses * Sector", hs)
    new = pd.DataFrame({"ses": [-1.0, 0.0, 1.0], "Sector": pd.Categorical(["Public"] * 3, categories=["Catholic", "Public"])})
    X = d.model_matrix(new)
    np.testing.assert_allclose(X, [[1, -1, 1, -1], [1, 0, 1, 0], [1, 1, 1, 1]])


def test_missing_column_is_a_key_error_naming_it(hs):
    with pytest.raises(KeyError, match="nosuch.*available columns"):
        fixed_design("mathach ~ ses + nosuch", hs)


def test_non_numeric_response_is_an_error(hs):
    with pytest.raises(ValueError, match="response 'Sector' is not numeric"):
        fixed_design("Sector ~ ses", hs)


def test_rank_deficient_design_names_the_aliased_columns(hs):
    with pytest.raises(ValueError, match=r"rank deficient.*\['SectorPublic'\]"):
        fixed_design("mathach ~ C(school) + Sector", hs)
    with pytest.raises(ValueError, match=r"I\(2 \* ses\)"):
        fixed_design("mathach ~ ses + I(2 * ses)", hs)


def test_aliased_columns_follows_r_order():
    x = np.arange(10.0)
    X = np.column_stack([np.ones(10), x, 3 * x + 1, x**2])
    assert aliased_columns(X, ["a", "b", "c", "d"]) == ["c"]


def test_model_matrix_refuses_unseen_factor_levels(hs):
    d = fixed_design("mathach ~ ses * Sector", hs)
    with pytest.raises(ValueError, match="'Other'.*did not have"):
        d.model_matrix(pd.DataFrame({"ses": [0.0], "Sector": ["Other"]}))
