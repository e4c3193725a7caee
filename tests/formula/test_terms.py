"""Formula terms: R's coefficient names, names usable inside a formula."""

import numpy as np
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
