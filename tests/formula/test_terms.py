"""Formula terms: R's coefficient names, names usable inside a formula."""

import numpy as np
import pandas as pd
import pytest

import hlmlab as hl
from hlmlab.formula.fixed import fixed_design
from hlmlab.formula.terms import r_name


@pytest.fixture(scope="module")
def hs():
    return hl.load_data("hs")


def test_r_name_translation():
    assert r_name("Intercept") == "(Intercept)"
    assert r_name("Sector[T.Public]") == "SectorPublic"
    assert r_name("ses:Sector[T.Public]") == "ses:SectorPublic"
    assert r_name("Sex[Female]") == "SexFemale"


def test_numpy_functions_and_I_inside_formulas(hs):
    d = fixed_design("mathach ~ log(Size) + I(ses**2) + np.sqrt(Size)", hs)
    np.testing.assert_allclose(d.X[:, 1], np.log(hs["Size"]))
    np.testing.assert_allclose(d.X[:, 2], hs["ses"] ** 2)


def test_group_summaries_of_a_factor_inside_a_formula_give_level_columns():
    import hlmlab as hl

    hs = hl.load_data("hs")
    d = fixed_design("mathach ~ ses + cvar(Minority, school) + dvar(Sex, school)", hs)
    assert d.names == ["(Intercept)", "ses", "cvar(Minority, school)Yes", "dvar(Sex, school)Male"]
    share = (hs["Minority"] == "Yes").groupby(hs["school"]).transform("mean")
    np.testing.assert_allclose(d.X[:, 2], share)
    male = (hs["Sex"] == "Male").astype(float)
    np.testing.assert_allclose(d.X[:, 3], male - male.groupby(hs["school"]).transform("mean"))


def test_complete_rows_matches_pandas():
    from hlmlab.formula.terms import complete_rows

    df = pd.DataFrame(
        {
            "a": [1.0, np.nan, 3.0, 4.0],
            "b": pd.Categorical(["x", "y", None, "x"]),
            "c": ["u", "v", "w", None],
        }
    )
    for names in (["a"], ["a", "b"], ["a", "b", "c"], []):
        expected = df[names].notna().all(axis=1).to_numpy() if names else np.ones(4, dtype=bool)
        np.testing.assert_array_equal(complete_rows(df, names), expected)


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([1.0, np.nan, 3.0]),
        pd.Series([1.0, np.nan, 3.0], dtype="float32"),
        pd.Series([1, 2, 3]),
        pd.Series([True, False, True]),
        pd.Series(pd.Categorical(["a", None, "b"])),
        pd.Series(["a", None, "b"]),
        pd.Series(["a", None, "b"], dtype="string"),
        pd.Series([1, None, 3], dtype="Int64"),
        pd.Series([1.0, None, 3.0], dtype="Float64"),
        pd.Series(pd.to_datetime(["2020-01-01", None, "2020-01-03"])),
        pd.Series([object(), None, object()]),
    ],
    ids=lambda s: str(s.dtype),
)
def test_missing_values_matches_pandas_isna(column):
    from hlmlab.formula.terms import missing_values

    miss = missing_values(column)
    expected = column.isna().to_numpy()
    if miss is None:  # only for dtypes that cannot hold a missing value
        assert column.dtype.kind in "iub" and not expected.any()
    else:
        np.testing.assert_array_equal(miss, expected)
