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
    sector = pd.Categorical(["Public"] * 3, categories=["Catholic", "Public"])
    new = pd.DataFrame({"ses": [-1.0, 0.0, 1.0], "Sector": sector})
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


# R's reading of a formula ----------------------------------------------------
@pytest.fixture(scope="module")
def small():
    """A small frame: integer and float columns, an R-style dotted name, a name with a space."""
    return pd.DataFrame(
        {
            "y": [1.0, 3.0, 2.0, 5.0, 4.0, 7.0, 6.0, 9.0],
            "Days": np.arange(8),  # integer, as pandas reads it from a CSV
            "b": [0.5, 1.5, 2.5, 1.0, 3.0, 2.0, 4.0, 3.5],
            "c": [2.0, 1.0, 0.0, 1.0, 3.0, 2.0, 1.0, 0.0],
            "x.1": [1.0, 3.0, 2.0, 4.0, 5.0, 3.0, 2.0, 1.0],
            "my var": [1.0, 2.0, 1.0, 2.0, 3.0, 3.0, 1.0, 2.0],
            "k": [3, 1, 2, 3, 10, 1, 10, 2],
        }
    )


@pytest.mark.parametrize("column", ["Days", "b"])
def test_caret_inside_I_is_a_power_on_integer_and_float_columns(small, column):
    # R: model.matrix(~ I(Days^2)) has the squares (0, 1, 4, 9, ...); Python's ^ would be XOR
    d = fixed_design(f"y ~ {column} + I({column}^2) + log({column}^2 + 1)", small)
    x = small[column].to_numpy(dtype=float)
    np.testing.assert_array_equal(d.X[:, 2], x**2)
    np.testing.assert_allclose(d.X[:, 3], np.log(x**2 + 1))
    assert d.names == ["(Intercept)", column, f"I({column} ** 2)", f"log({column} ** 2 + 1)"]


def test_caret_on_a_sum_of_terms_crosses_them_up_to_degree_two(small):
    # R: colnames(model.matrix(~ (a + b + c)^2)) = (Intercept) a b c a:b a:c b:c
    d = fixed_design("y ~ (Days + b + c)^2", small)
    assert d.names == ["(Intercept)", "Days", "b", "c", "Days:b", "Days:c", "b:c"]
    a, b, c = (small[v].to_numpy(dtype=float) for v in ("Days", "b", "c"))
    np.testing.assert_array_equal(d.X[:, 4:], np.column_stack([a * b, a * c, b * c]))


def test_dotted_and_backticked_names_work_and_keep_their_names(small):
    d = fixed_design("y ~ x.1 + log(x.1) + `my var`", small)
    assert d.names == ["(Intercept)", "x.1", "log(x.1)", "my var"]
    np.testing.assert_allclose(d.X[:, 1:], np.column_stack([small["x.1"], np.log(small["x.1"]), small["my var"]]))
    with pytest.raises(KeyError, match=r"\['x\.2'\]"):
        fixed_design("y ~ x.2", small)
    with pytest.raises(KeyError, match=r"\['zz\.1'\]"):
        fixed_design("y ~ log(zz.1)", small)


def test_factor_makes_a_categorical_with_levels_sorted_as_r(small):
    # R: levels(factor(c(3, 1, 2, 3, 10, 1, 10, 2))) = "1" "2" "3" "10" (numeric order)
    d = fixed_design("y ~ factor(k)", small)
    assert d.names == ["(Intercept)", "factor(k)2", "factor(k)3", "factor(k)10"]
    k = small["k"].to_numpy()
    np.testing.assert_array_equal(d.X[:, 1:], np.column_stack([k == 2, k == 3, k == 10]).astype(float))
    new = pd.DataFrame({"k": [10, 1]})
    np.testing.assert_array_equal(d.model_matrix(new), [[1, 0, 0, 1], [1, 0, 0, 0]])


def test_offset_is_refused_with_advice(small):
    with pytest.raises(ValueError, match=r"offset\(\) is not supported; subtract it from the response"):
        fixed_design("y ~ b + offset(c)", small)


def test_random_effects_bar_in_a_fixed_formula_points_to_lmer(small):
    with pytest.raises(ValueError, match=r"hl\.lmer") as err:
        fixed_design("y ~ Days + (Days | k)", small)
    assert "\x1b" not in str(err.value)


@pytest.mark.parametrize(
    ("formula", "term"),
    [("y ~ b + * c", "+*"), ("y ~ I(b +* c)", "I(b +* c)"), ("y ~ I(`my var`.nosuch)", "my var")],
)
def test_formulaic_errors_are_plain_value_errors_naming_the_term(small, formula, term):
    with pytest.raises(ValueError) as err:
        fixed_design(formula, small)
    message = str(err.value)
    assert "\x1b" not in message and term in message and formula in message


def test_unknown_function_is_named(small):
    with pytest.raises(ValueError, match=r"function\(s\) \['poly2'\].*not known"):
        fixed_design("y ~ poly2(b, 2)", small)


def test_unused_levels_are_dropped_as_r_drops_them(hs):
    h = hs.assign(school=hs["school"].astype("category"))
    public = h[h["Sector"] == "Public"]  # Sector keeps its Catholic level, school its Catholic schools
    d = fixed_design("mathach ~ ses + C(school)", public)
    kept = sorted(public["school"].unique())
    assert d.names == ["(Intercept)", "ses"] + [f"C(school){s}" for s in kept[1:]]
    d = fixed_design("mathach ~ ses * Sex", public.assign(Sex=public["Sex"].cat.add_categories(["Other"])))
    assert d.names == ["(Intercept)", "ses", "SexMale", "ses:SexMale"]


def test_levels_present_only_on_dropped_rows_are_dropped(hs):
    h = hs.assign(school=hs["school"].astype("category"))
    h.loc[h["school"] == h["school"].iloc[0], "ses"] = np.nan  # the first school has no usable row
    d = fixed_design("mathach ~ ses + C(school)", h)
    assert len(d.names) == 2 + 38 and d.n_dropped == int((hs["school"] == hs["school"].iloc[0]).sum())


def test_a_factor_left_with_one_level_is_an_error_as_in_r(hs):
    with pytest.raises(ValueError, match=r"factor 'Sector'.*only the level\(s\) \['Public'\].*2 or more levels"):
        fixed_design("mathach ~ ses + Sector", hs[hs["Sector"] == "Public"])


def test_duplicated_column_names_used_by_the_formula_are_an_error(small):
    d = small.copy()
    d.columns = ["y", "Days", "b", "b", "x.1", "my var", "k"]
    with pytest.raises(ValueError, match=r"more than one column named \['b'\]"):
        fixed_design("y ~ b", d)
    assert fixed_design("y ~ Days", d).names == ["(Intercept)", "Days"]  # unused duplicates do no harm


def test_data_that_is_not_a_data_frame_is_a_type_error(small):
    with pytest.raises(TypeError, match="DataFrame, got dict"):
        fixed_design("y ~ b", dict(small))
    with pytest.raises(TypeError, match="DataFrame"):
        hl.lm("y ~ b", dict(small))


def test_lm_reads_formulas_as_r(small):
    fit = hl.lm("y ~ I(Days^2) + factor(k) + x.1", small)
    assert list(fit.fixef.index) == ["(Intercept)", "I(Days ** 2)", "factor(k)2", "factor(k)3", "factor(k)10", "x.1"]
    X = np.column_stack(
        [np.ones(8), small["Days"] ** 2, small["k"] == 2, small["k"] == 3, small["k"] == 10, small["x.1"]]
    ).astype(float)
    np.testing.assert_allclose(fit.fixef.to_numpy(), np.linalg.lstsq(X, small["y"].to_numpy(), rcond=None)[0])
