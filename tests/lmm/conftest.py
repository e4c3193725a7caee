"""Fixtures of the mixed-model tests: the course's fits and the R reference cases.

The R reference values are in tests/reference/r_reference.json (script:
tests/reference/make_reference.R). A test that takes the argument
``r_case`` runs once for every reference case with a random part.
"""

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

import hlmlab as hl

REF_PATH = Path(__file__).parents[1] / "reference" / "r_reference.json"


def _ref():
    return json.loads(REF_PATH.read_text())


def _load(name):
    ref = _ref()
    info = ref["datasets"].get(name)
    if info is None or info.get("file") is None:
        return hl.load_data(name)
    df = pd.read_csv(Path(__file__).parents[2] / info["file"])
    for col, levels in info.get("factor_levels", {}).items():
        df[col] = pd.Categorical(df[col].astype(str), categories=[str(v) for v in levels])
    return df


def pytest_generate_tests(metafunc):
    if "r_case" in metafunc.fixturenames:
        metafunc.parametrize("r_case", [c["name"] for c in _ref()["cases"] if c.get("random")])


@pytest.fixture(scope="module")
def hs1_data():
    return hl.load_data("hs1")


@pytest.fixture(scope="module")
def oneway(hsm):
    return hl.lme("mathach ~ 1", hsm, "~ 1 | school", data_name="hs")


@pytest.fixture(scope="module")
def slopes(hsm):
    return hl.lme("mathach ~ ses * Sector", hsm, "~ 1 + ses | school", data_name="hs")


@pytest.fixture(scope="module")
def fitc(hs1_data):
    return hl.lme("mathach ~ ses * Sector + cvar(ses, school)", hs1_data, "~ 1 + ses | school", data_name="hs1")


@pytest.fixture(scope="session")
def ref_case():
    """The R reference case of a name."""
    cases = {c["name"]: c for c in _ref()["cases"]}
    return cases.__getitem__


@pytest.fixture(scope="session")
def ref_data():
    """A reference data set by name (the course's, or one of tests/reference/data)."""
    return _load


@pytest.fixture(scope="session")
def r_fits(ref_case):
    """hlmlab's fit of a reference case, by name (fitted once)."""
    cache = {}

    def get(name):
        if name not in cache:
            c = ref_case(name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cache[name] = hl.lme(c["fixed"], _load(c["dataset"]), c["random"], method=c["method"])
        return cache[name]

    return get
