"""Semantics of the multilevel data tools, and the notes' tables."""

import numpy as np
import pandas as pd
import pytest

import hlmlab as hl


@pytest.fixture
def toy():
    return pd.DataFrame(
        {
            "g": ["b", "a", "b", "a", None, "c"],
            "x": [1.0, 2.0, 3.0, 6.0, 5.0, 7.0],
            "sex": pd.Categorical(["F", "M", "M", "M", "F", "F"], categories=["F", "M"]),
            "size": [10, 20, 10, 20, 99, 30],
            "flag": [True, False, True, True, False, False],
        }
    )


# capply ---------------------------------------------------------------------
def test_capply_scalar_is_repeated_and_missing_group_gets_nan(toy):
    out = hl.capply(toy["x"], toy["g"], np.mean)
    np.testing.assert_allclose(out, [2.0, 4.0, 2.0, 4.0, np.nan, 7.0])
    assert out.index.equals(toy.index)


def test_capply_vector_result_keeps_row_order(toy):
    out = hl.capply(toy["x"], toy["g"], lambda s: s - s.iloc[0])
    np.testing.assert_allclose(out, [0.0, 0.0, 2.0, 4.0, np.nan, 0.0])


def test_capply_on_a_data_frame_with_a_column_name(toy):
    out = hl.capply(toy, "g", lambda d: (d["x"] * d["size"]).sum())
    assert out.tolist()[:4] == [40.0, 160.0, 40.0, 160.0]


def test_capply_counts_rows(toy):
    assert hl.capply(toy["x"], toy["g"], len).tolist()[:4] == [2, 2, 2, 2]


def test_capply_rejects_wrong_length_results(toy):
    with pytest.raises(ValueError, match="one value per row"):
        hl.capply(toy["x"], toy["g"], lambda s: s.to_numpy()[:1].repeat(3))


def test_capply_by_of_different_length_is_a_clear_error(toy):
    with pytest.raises(ValueError, match="by has length 3 but the data have length 6"):
        hl.capply(toy["x"], ["a", "b", "c"], np.mean)


def test_missing_by_column_is_a_key_error(toy):
    with pytest.raises(KeyError, match="'school'.*not found"):
        hl.capply(toy, "school", len)
    with pytest.raises(KeyError, match="'school'"):
        hl.up(toy, "school")


# cvar, dvar ------------------------------------------------------------------
def test_cvar_plus_dvar_gives_back_x(toy):
    c, d = hl.cvar(toy["x"], toy["g"]), hl.dvar(toy["x"], toy["g"])
    np.testing.assert_allclose(c, [2.0, 4.0, 2.0, 4.0, np.nan, 7.0])
    ok = toy["g"].notna()
    np.testing.assert_allclose((c + d)[ok], toy["x"][ok])
    assert np.isnan(d[4])


def test_cvar_of_a_categorical_is_the_proportion_of_non_reference_levels(toy):
    c = hl.cvar(toy["sex"], toy["g"])
    assert list(c.columns) == ["sexM"]
    np.testing.assert_allclose(c["sexM"], [0.5, 1.0, 0.5, 1.0, np.nan, 0.0])
    d = hl.dvar(toy["sex"], toy["g"])
    np.testing.assert_allclose(d["sexM"], [-0.5, 0.0, 0.5, 0.0, np.nan, 0.0])


def test_cvar_ignores_missing_values_within_a_group():
    x = pd.Series([1.0, np.nan, 3.0, 4.0])
    np.testing.assert_allclose(hl.cvar(x, [1, 1, 1, 2]), [2.0, 2.0, 2.0, 4.0])


def test_cvar_on_hs_equals_groupby_mean(hs):
    expected = hs.groupby("school")["ses"].transform("mean")
    np.testing.assert_allclose(hl.cvar(hs["ses"], hs["school"]), expected)


# up, gvars -------------------------------------------------------------------
def test_up_keeps_invariant_columns_sorted_by_group(toy):
    u = hl.up(toy, "g")
    assert list(u.columns) == ["g", "size", "Freq"]
    assert u["g"].tolist() == ["a", "b", "c"]
    assert u["size"].tolist() == [20, 10, 30]
    assert u["Freq"].tolist() == [2, 2, 1]


def test_up_all_summarises_varying_columns(toy):
    u = hl.up(toy, "g", all=True)
    assert u["x"].tolist() == [4.0, 2.0, 7.0]
    assert u["flag"].tolist() == [0.5, 1.0, 0.0]
    assert u["sex"].tolist() == ["M", "F", "F"]  # most frequent (ties: first level)
    assert isinstance(u["sex"].dtype, pd.CategoricalDtype)


def test_up_agg_adds_level_proportions(toy):
    u = hl.up(toy, "g", agg="sex")
    assert u["sex_F"].tolist() == [0.0, 0.5, 1.0]
    assert u["sex_M"].tolist() == [1.0, 0.5, 0.0]


def test_up_of_hs_is_the_school_file(hs):
    u = hl.up(hs, "school")
    assert len(u) == 40
    assert set(u.columns) == {"school", "Size", "Sector", "PRACAD", "DISCLIM", "HIMINTY", "MEANSES", "Freq"}
    schools = hl.load_data("hsb_schools").set_index("school").loc[u["school"]]
    np.testing.assert_array_equal(u["Size"], schools["Size"])
    assert u["Freq"].sum() == 1977


def test_gvars_lists_level_two_columns(hs):
    assert hl.gvars(hs, "school") == ["Size", "Sector", "PRACAD", "DISCLIM", "HIMINTY", "MEANSES"]


# tab, some -------------------------------------------------------------------
def test_tab_sector_by_school_matches_the_notes(hs):
    t = hl.tab(hs, "~ Sector + school")
    assert t.loc["Total", "Total"] == 1977
    assert t.loc["Catholic", "Total"] == 1144 and t.loc["Public", "Total"] == 833
    assert (t.loc["Catholic", 1317], t.loc["Public", 2626], t.loc["Public", 9550]) == (48, 38, 29)
    # each school lies in one sector
    assert ((t.drop(index="Total", columns="Total") > 0).sum(axis=0) == 1).all()


def test_tab_sex_composition_of_three_schools(hs):
    t = hl.tab(hs, "~ Sex + school")
    assert t[4292].tolist() == [0, 65, 65]  # a boys' school
    assert t[7172].tolist() == [22, 22, 44]  # coed, half and half
    assert t[9586].tolist() == [59, 0, 59]  # a girls' school
    assert t["Total"].tolist() == [1074, 903, 1977]


def test_tab_percentages_and_one_way(hs):
    t = hl.tab(hs, "~ Sector + Sex", pct="row")
    np.testing.assert_allclose(t["Total"], 100.0)
    one = hl.tab(hs, "~ Sex")
    assert one.tolist() == [1074, 903, 1977]


def test_tab_counts_missing_values_on_request(toy):
    t = hl.tab(toy, "~ g", dropna=False)
    assert t["NA"] == 1 and t["Total"] == 6


def test_tab_unknown_variable(toy):
    with pytest.raises(KeyError, match="'Sexe'"):
        hl.tab(toy, "~ Sexe")


def test_some_is_reproducible_and_in_order(hs):
    a, b = hl.some(hs, 10, seed=3), hl.some(hs, 10, seed=3)
    assert a.index.equals(b.index) and a.index.is_monotonic_increasing and len(a) == 10


# gicc ------------------------------------------------------------------------
def test_gicc_is_one_for_level_two_variables(hs):
    icc = hl.gicc(hs, "school")
    for v in ("Size", "Sector", "PRACAD", "HIMINTY"):
        assert icc[v] == pytest.approx(1.0)
    assert 0.1 < icc["mathach"] < 0.25  # the well-known ~0.18 of the HSB data
    assert 0 < icc["Sex"] < 1


def test_gicc_numeric_matches_anova_formula():
    g = np.repeat([0, 1, 2], 4)
    y = np.array([1, 2, 3, 4, 2, 3, 4, 5, 6, 7, 8, 9], dtype=float)
    icc = hl.gicc(pd.DataFrame({"g": g, "y": y}), "g")["y"]
    msb = 4 * np.var([2.5, 3.5, 7.5], ddof=1)
    msw = 5 / 3
    assert icc == pytest.approx((msb - msw) / (msb + 3 * msw))


def test_gicc_categorical_is_goodman_kruskal_tau():
    df = pd.DataFrame({"g": [1, 1, 2, 2], "c": ["a", "a", "b", "b"]})
    assert hl.gicc(df, "g")["c"] == pytest.approx(1.0)
    df = pd.DataFrame({"g": [1, 1, 2, 2], "c": ["a", "b", "a", "b"]})
    assert hl.gicc(df, "g")["c"] == pytest.approx(0.0)


def test_tab_rejects_an_unknown_percentage(toy):
    with pytest.raises(ValueError, match="pct must be one of"):
        hl.tab(toy, "~ g", pct="bogus")


# up always has one row per group ----------------------------------------------
def test_up_with_no_constant_column_gives_the_groups_and_freq():
    d = pd.DataFrame({"g": ["b", "a", "b", "a", "c"], "x": [1.0, 2.0, 3.0, 4.0, 5.0]})
    out = hl.up(d, "g")
    assert list(out.columns) == ["g", "Freq"]
    assert out["g"].tolist() == ["a", "b", "c"] and out["Freq"].tolist() == [2, 2, 1]
    out = hl.up(d.assign(h=[1, 1, 1, 1, 2]), ["g", "h"])
    assert list(out.columns) == ["g", "h", "Freq"] and len(out) == 3


def test_up_keeps_one_row_per_group_with_all_and_agg():
    d = pd.DataFrame({"g": ["b", "a", "b", "a"], "x": [1.0, 2.0, 3.0, 6.0], "s": pd.Categorical(list("FMMF"))})
    out = hl.up(d, "g", agg="s")
    assert list(out.columns) == ["g", "s_F", "s_M", "Freq"] and len(out) == 2
    assert hl.up(d, "g", all=True)["x"].tolist() == [4.0, 2.0]


# pandas values and groupings are paired by index ---------------------------------
@pytest.fixture
def shuffled():
    x = pd.Series([1.0, 2.0, 10.0, 20.0], index=[10, 11, 12, 13], name="x")
    g = pd.Series(["a", "a", "b", "b"], index=[10, 11, 12, 13])
    return x, g.iloc[[2, 0, 3, 1]]  # the same labels in another order


def test_cvar_dvar_capply_align_a_grouping_in_another_order(shuffled):
    x, g = shuffled
    np.testing.assert_allclose(hl.cvar(x, g), [1.5, 1.5, 15.0, 15.0])
    np.testing.assert_allclose(hl.dvar(x, g), [-0.5, 0.5, -5.0, 5.0])
    np.testing.assert_allclose(hl.capply(x, g, np.mean), [1.5, 1.5, 15.0, 15.0])
    assert hl.cvar(x, g).index.equals(x.index)
    share = hl.cvar(pd.Series(list("FMMM"), index=x.index), g)  # a factor: proportion of M
    np.testing.assert_allclose(share.iloc[:, 0], [0.5, 0.5, 1.0, 1.0])


def test_cvar_dvar_capply_refuse_groupings_with_other_labels(shuffled):
    x, g = shuffled
    other = g.sort_index().reset_index(drop=True)  # labels 0..3, not 10..13
    for call in (lambda: hl.cvar(x, other), lambda: hl.dvar(x, other), lambda: hl.capply(x, other, np.mean)):
        with pytest.raises(ValueError, match="different indexes"):
            call()
    # arrays are paired by position
    np.testing.assert_allclose(hl.cvar(x, other.to_numpy()), [1.5, 1.5, 15.0, 15.0])
    np.testing.assert_allclose(hl.cvar(x.to_numpy(), other), [1.5, 1.5, 15.0, 15.0])
