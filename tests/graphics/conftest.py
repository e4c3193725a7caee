"""Fixtures of the graphics tests: synthetic multilevel data and a stand-in lme fit (numpy only)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def make_data(J: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for j in range(J):
        n = int(rng.integers(8, 30))
        sector = "Public" if j % 2 else "Catholic"
        x = rng.normal(0.3 * (j % 3 - 1), 0.8, n)
        w = rng.normal(0, 1, n)
        b0, b1 = 12 + rng.normal(0, 2) - 1.5 * (sector == "Public"), 2 + rng.normal(0, 0.5)
        y = b0 + b1 * x + 0.5 * w + rng.normal(0, 3, n)
        rows.append(
            pd.DataFrame(
                {"g": 100 + j, "x": x, "w": w, "y": y, "Sector": sector, "Sex": rng.choice(["Female", "Male"], n)}
            )
        )
    d = pd.concat(rows, ignore_index=True)
    d["Sector"] = pd.Categorical(d["Sector"], categories=["Catholic", "Public"])
    d["Sex"] = pd.Categorical(d["Sex"], categories=["Female", "Male"])
    return d


class _Design:
    def __init__(self, cols):
        self.cols = cols
        self.names = ["(Intercept)"] + cols
        self.rows = None

    def model_matrix(self, newdata):
        return pd.DataFrame(
            np.column_stack([np.ones(len(newdata))] + [newdata[c].to_numpy(float) for c in self.cols]),
            columns=self.names,
        )


class StandInLme:
    """y = X beta + Z b_g + e with known G and sigma (BLUPs by the textbook formula)."""

    def __init__(self, data, fixed=("x",), random=("x",), G=None, sigma=3.0):
        self.data, self.groups, self.sigma = data, "g", sigma
        self.design = _Design(list(fixed))
        self.zcols = ["(Intercept)"] + list(random)
        q = len(self.zcols)
        self.G = pd.DataFrame(np.diag([4.0, 0.25, 0.1][:q]) if G is None else G, index=self.zcols, columns=self.zcols)
        X = self.design.model_matrix(data).to_numpy()
        y = data["y"].to_numpy(float)
        beta, *_ = np.linalg.lstsq(X, y, rcond=None)
        names = self.design.names
        self.fixef = pd.Series(beta, index=names)
        V = sigma**2 * np.linalg.inv(X.T @ X)
        self.vcov = pd.DataFrame(V, index=names, columns=names)
        self.se = pd.Series(np.sqrt(np.diag(V)), index=names)
        self.df = pd.Series(float(len(y) - len(beta)), index=names)
        Gi = np.linalg.inv(self.G.to_numpy())
        b = {}
        for gval, d in data.groupby("g"):
            Z = self._Z(d)
            r = d["y"].to_numpy(float) - self.design.model_matrix(d).to_numpy() @ beta
            b[gval] = np.linalg.solve(Gi + Z.T @ Z / sigma**2, Z.T @ r / sigma**2)
        self._b = pd.DataFrame(b, index=self.zcols).T

    def _Z(self, d):
        return np.column_stack([np.ones(len(d))] + [d[c].to_numpy(float) for c in self.zcols[1:]])

    def contrast_df(self, L, ddf=None):
        k = np.atleast_2d(L).shape[0]
        return np.full(k, self.df.iloc[0]), float(self.df.iloc[0])

    def ranef(self):
        return self._b

    def coef(self):
        out = pd.DataFrame({n: self.fixef[n] for n in self.fixef.index}, index=self._b.index)
        for c in self.zcols:
            out[c] = out[c] + self._b[c]
        return out

    def predict(self, newdata, level=1, se=False):
        p = self.design.model_matrix(newdata).to_numpy() @ self.fixef.to_numpy()
        if level >= 1:
            p = p + np.einsum("ij,ij->i", self._Z(newdata), self._b.loc[newdata["g"]].to_numpy())
        return pd.Series(p, index=newdata.index)

    def fitted(self, level=1):
        return self.predict(self.data, level)

    def residuals(self, level=1, type="raw"):  # noqa: A002
        r = self.data["y"] - self.fitted(level)
        return r / self.sigma if type == "pearson" else r


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module")
def stand_in_lme():
    """The stand-in lme class, for tests that build their own fit."""
    return StandInLme


@pytest.fixture(scope="module")
def lme_fit(data):
    return StandInLme(data)


@pytest.fixture(scope="module")
def oneway(data):
    return StandInLme(data, fixed=(), random=())


def lines_drawn(ax):
    return [ln for ln in ax.get_lines() if len(ln.get_xdata())]


@pytest.fixture(scope="session")
def drawn_lines():
    """The lines of an Axes that hold points (not empty legend proxies)."""
    return lines_drawn


def scatter_with_label(ax, label):
    """The offsets of the scatter collection with this legend label."""
    found = [c for c in ax.collections if c.get_label() == label]
    assert len(found) == 1, [c.get_label() for c in ax.collections]
    return np.asarray(found[0].get_offsets())


@pytest.fixture(scope="session")
def scatter():
    return scatter_with_label
