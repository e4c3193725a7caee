"""Shared by the tests of hlmlab.inference: a tiny stand-in fit and the Lab 1 mixed models."""

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hlmlab as hl

REF = json.loads((Path(__file__).parents[1] / "reference" / "r_reference.json").read_text())


@dataclass
class StandIn:
    """A tiny fit honouring the contract, with chosen DFs and variance components."""

    fixef: pd.Series
    vcov: pd.DataFrame
    row_df: np.ndarray | None = None
    method: str = "REML"
    loglik: float = -100.0
    aic: float = 210.0
    bic: float = 220.0
    nobs: int = 50
    G: pd.DataFrame | dict | None = None
    sigma: float = 1.0
    calls: list = field(default_factory=list)

    @property
    def se(self):
        return pd.Series(np.sqrt(np.diag(self.vcov)), index=self.fixef.index)

    def contrast_df(self, L, ddf=None):
        """nlme-like: each row takes the smallest DF of the coefficients it involves."""
        self.calls.append(ddf)
        L = np.atleast_2d(L)
        rows = np.array([self.row_df[np.abs(r) > 0].min() for r in L])
        return rows, float(rows.min())


def _standin(**kw):
    names = ["(Intercept)", "x", "z", "x:z"]
    V = pd.DataFrame(np.diag([1.0, 0.25, 4.0, 1.0]), index=names, columns=names)
    return StandIn(pd.Series([10.0, 1.0, -2.0, 0.5], index=names), V, np.array([100.0, 100.0, 20.0, 100.0]), **kw)


@pytest.fixture
def standin():
    """A factory of stand-in fits: ``standin(method="ML", G=..., sigma=...)``."""
    return _standin


@pytest.fixture(scope="session")
def nlme_fitc():
    """nlme's fitc (fixef, vcov, between/within DF) from the R reference, as a contract stand-in."""
    nl = next(c for c in REF["cases"] if c["name"] == "hs1_fitc_reml")["nlme"]
    names = list(nl["fixef"])
    V = pd.DataFrame(nl["vcov"]["values"], index=nl["vcov"]["rows"], columns=nl["vcov"]["cols"])
    return StandIn(pd.Series(nl["fixef"]), V.loc[names, names], np.array([nl["df"][n] for n in names], dtype=float))


@pytest.fixture(scope="session")
def hs1_id():
    d = hl.load_data("hs1")
    return d.assign(id=d["school"])


@pytest.fixture(scope="session")
def fitc(hs1_id):
    return hl.lme("mathach ~ ses * Sector + cvar(ses, id)", hs1_id, random="~ 1 + ses | id")


@pytest.fixture(scope="session")
def minority_fits(hs1_id):
    f = "mathach ~ ses * Minority"
    ri = hl.lme(f, hs1_id, random="~ 1 | id")
    m1 = hl.lme(f, hs1_id, random="~ 1 + dvar(Minority, id) | id")
    m2 = hl.lme(f, hs1_id, random="~ 1 + dvar(Minority, id) + dvar(ses, id) | id")
    return ri, m1, m2
