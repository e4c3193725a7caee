"""Smoke tests of hlmlab.plots: each picture draws the artists it should."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import importlib

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import seaborn as sns  # noqa: E402

from hlmlab.graphics import geometry as geo  # noqa: E402
from hlmlab.graphics import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---------------------------------------------------------------------------
# synthetic multilevel data and a stand-in lme fit (numpy only)
# ---------------------------------------------------------------------------
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
        rows.append(pd.DataFrame({"g": 100 + j, "x": x, "w": w, "y": y, "Sector": sector,
                                  "Sex": rng.choice(["Female", "Male"], n)}))
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
        return pd.DataFrame(np.column_stack([np.ones(len(newdata))] + [newdata[c].to_numpy(float) for c in self.cols]),
                            columns=self.names)


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
def lme_fit(data):
    return StandInLme(data)


@pytest.fixture(scope="module")
def oneway(data):
    return StandInLme(data, fixed=(), random=())


def _lines(ax):
    return [ln for ln in ax.get_lines() if len(ln.get_xdata())]


# ---------------------------------------------------------------------------
# smoother
# ---------------------------------------------------------------------------
def test_smoother_reproduces_a_straight_line_and_checks_input():
    x = np.linspace(0, 10, 40)
    gx, gy = plots.smooth(x, 3 + 2 * x, frac=0.3, n=25)
    np.testing.assert_allclose(gy, 3 + 2 * gx, atol=1e-9)
    with pytest.raises(ValueError, match="lengths must match"):
        plots.smooth(x, x[:5])
    with pytest.raises(ValueError, match="frac"):
        plots.smooth(x, x, frac=0)
    assert plots.smooth([1, 1, 1], [1, 2, 3])[0].size == 0


def test_smoother_follows_a_curve():
    x = np.linspace(-2, 2, 400)
    gx, gy = plots.smooth(x, x**2, frac=0.1)
    np.testing.assert_allclose(gy, gx**2, atol=0.05)


# ---------------------------------------------------------------------------
# data plots
# ---------------------------------------------------------------------------
def test_quantile_plots_draw_every_column(data):
    d = data.copy()
    d.loc[[0, 5], "Sex"] = np.nan
    axes = plots.quantile_plots(d)
    assert len(axes) == d.shape[1]
    ax_y = axes[list(d.columns).index("y")]
    assert len(ax_y.get_lines()) == 4  # points, mean, mean ± SD
    mean_line = ax_y.get_lines()[1]
    assert mean_line.get_ydata()[0] == pytest.approx(d["y"].mean())
    ax_sex = axes[list(d.columns).index("Sex")]
    assert [t.get_text() for t in ax_sex.get_xticklabels()] == ["Female", "Male", "NA"]
    assert ax_sex.patches[2].get_height() == 2
    assert "NA: 2" in ax_sex.get_title()


def test_normal_quantile_plot_uses_normal_quantiles(data):
    axes = plots.quantile_plots(data[["y"]], kind="normal")
    x = axes[0].get_lines()[0].get_xdata()
    assert x[0] < -2 and axes[0].get_xlabel() == "normal quantile"
    with pytest.raises(ValueError, match="'uniform' or 'normal'"):
        plots.quantile_plots(data, kind="beta")
    with pytest.raises(KeyError, match="nope"):
        plots.quantile_plots(data, columns=["nope"])


def test_trellis_has_a_panel_per_group_in_the_requested_order(data):
    g = plots.trellis(data, "x", "y", "g", order_by="x", label_by="Sector", ellipse=[1, 2], smoother=True)
    assert isinstance(g, sns.FacetGrid)
    assert len(g.axes.flat) == data["g"].nunique()
    means = data.groupby("g")["x"].mean().sort_values()
    first = g.axes.flat[0]
    assert first.get_title().startswith(str(means.index[0]))
    assert first.get_title().endswith(str(data.loc[data.g == means.index[0], "Sector"].iloc[0]))
    # LS line + 2 ellipses + smoother per panel, and the points
    assert len(_lines(first)) == 4
    assert len(first.collections) == 1


def test_trellis_with_hue_draws_a_line_per_level(data):
    g = plots.trellis(data, "x", "y", "g", hue="Sex")
    assert all(len(_lines(ax)) == 2 for ax in g.axes.flat)
    with pytest.raises(KeyError, match="'school'"):
        plots.trellis(data, "x", "y", "school")


def test_panels_by_factor_with_lines_per_group(data):
    g = plots.panels(data, "x", "y", col="Sector", lines_by="g")
    assert len(g.axes.flat) == 2
    n_public = data.loc[data.Sector == "Public", "g"].nunique()
    assert len(_lines(g.axes.flat[1])) == n_public + 1
    g2 = plots.panels(data, "x", "y", col="Sector", hue="Sex")
    assert len(g2.axes.flat[0].collections) == 2
    with pytest.raises(KeyError, match="'Region'"):
        plots.panels(data, "x", "y", col="Region")


# ---------------------------------------------------------------------------
# beta space
# ---------------------------------------------------------------------------
def test_draw_ellipse_puts_the_points_on_the_axes():
    e = geo.Ellipse([1, 2], [[1, 0.5], [0.5, 2]], 2.0, label="E")
    ax = plt.figure().gca()
    line = plots.draw_ellipse(e, ax, n=50, center=True)
    np.testing.assert_allclose(np.column_stack(line.get_data()), e.points(50))
    assert line.get_label() == "E" and len(ax.get_lines()) == 2


def test_beta_space_draws_points_and_an_ellipse_per_method_and_level(data):
    ax = plots.beta_space(data, "x", "y", "g", by="Sector")
    ncoef = data["g"].nunique()
    assert sum(len(c.get_offsets()) for c in ax.collections) == ncoef
    ells = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 50]
    assert len(ells) == 4 * 2 + 2  # 4 methods x 2 sectors + 2 data ellipses
    labels = ax.get_legend_handles_labels()[1]
    assert "two-stage (MANOVA)" in labels and "fixed effects" in labels


def test_beta_space_ellipse_radius_follows_the_convention(data):
    ax = plots.beta_space(data, "x", "y", "g", methods=["pooled"], kind="shadows", data_ellipse=None)
    e = geo.method_ellipses(data, "x", "y", "g", methods=["pooled"])["pooled"]["all"]
    pts = np.column_stack(ax.get_lines()[0].get_data())
    np.testing.assert_allclose(e.quadratic_form(pts), geo.radius("shadows", e.df) ** 2, rtol=1e-8)


def test_beta_difference_marks_the_origin(data):
    ax = plots.beta_difference(data, "x", "y", "g", by="Sector", methods=["fixed", "two-stage"])
    assert len(ax.get_legend_handles_labels()[1]) == 4
    assert any(np.allclose(ln.get_xydata(), [[0, 0]]) for ln in ax.get_lines())
    assert "Public − Catholic" in ax.get_xlabel()


def test_lines_and_points_pairs_each_line_with_a_point(data):
    axes = plots.lines_and_points(data, "x", "y", "g", by="Sector", highlight=[100])
    coefs = geo.group_ols(data, "x", "y", "g")
    line = axes[0].get_lines()[0]
    xd, yd = line.get_data()
    slope = (yd[1] - yd[0]) / (xd[1] - xd[0])
    assert slope == pytest.approx(coefs["slope"].iloc[0])
    pt = axes[1].get_lines()[0].get_xydata()[0]
    np.testing.assert_allclose(pt, coefs.iloc[0][["intercept", "slope"]].to_numpy(float))
    assert [t.get_text() for t in axes[1].texts] == ["100"]


def test_dispersion_plot_draws_three_ellipses():
    X = np.column_stack([np.ones(20), np.linspace(-1, 1, 20)])
    ax = plots.dispersion_plot([[4, 0.3], [0.3, 0.5]], 3.0, X, [12, 2], beta_true=[13, 1.5], beta_hat=[14, 1])
    assert len([ln for ln in ax.get_lines() if len(ln.get_xdata()) > 50]) == 3
    with pytest.raises(ValueError, match="G must be symmetric"):
        plots.dispersion_plot([[4, 0.3], [0.1, 0.5]], 3.0, X, [12, 2])


# ---------------------------------------------------------------------------
# model-based plots (stand-in lme; lm from the engine)
# ---------------------------------------------------------------------------
def test_shrinkage_arrows_go_from_group_mean_to_blup(data, oneway):
    ax = plots.shrinkage(oneway)
    J = data["g"].nunique()
    blue = ax.collections[0].get_offsets()
    blup = ax.collections[1].get_offsets()
    np.testing.assert_allclose(blue[:, 1], data.groupby("g")["y"].mean().to_numpy())
    np.testing.assert_allclose(blup[:, 1], oneway.coef()["(Intercept)"].to_numpy())
    assert len([c for c in ax.get_children() if isinstance(c, matplotlib.text.Annotation)]) == J
    # shrinkage towards gamma: every BLUP lies between its BLUE and gamma
    gamma = oneway.fixef.iloc[0]
    assert np.all((blup[:, 1] - gamma) * (blue[:, 1] - gamma) >= 0)
    assert np.all(np.abs(blup[:, 1] - gamma) <= np.abs(blue[:, 1] - gamma))


def test_shrinkage_points_checks_lengths():
    with pytest.raises(ValueError, match="equal lengths"):
        plots.shrinkage_points([1, 2], [1, 2, 3], [5, 6])


def test_shrinkage_beta_draws_blue_blup_and_population(data, lme_fit):
    ax = plots.shrinkage_beta(lme_fit, "x")
    J = data["g"].nunique()
    blup = ax.collections[1].get_offsets()
    co = lme_fit.coef()
    np.testing.assert_allclose(blup, co[["(Intercept)", "x"]].to_numpy(), atol=1e-10)
    np.testing.assert_allclose(ax.collections[2].get_offsets()[0], lme_fit.fixef.to_numpy())
    assert len([c for c in ax.get_children() if isinstance(c, matplotlib.text.Annotation)]) == J
    assert len([ln for ln in ax.get_lines() if len(ln.get_xdata()) > 50]) == 2


def test_confidence_plot_shows_both_conventions(data):
    from hlmlab.ols.fit import lm

    fit = lm("y ~ x * Sector", data)
    ax = plots.confidence_plot(fit, ["x", "x:SectorPublic"])
    labels = ax.get_legend_handles_labels()[1]
    assert labels[0].startswith("coverage (r = ") and labels[1].startswith("shadows (r = ")
    bar = ax.get_lines()[3]  # the interval along the x axis
    sha = geo.confidence_ellipse(fit, ["x", "x:SectorPublic"], kind="shadows")
    np.testing.assert_allclose(bar.get_xdata(), sha.shadows().iloc[0][["lower", "upper"]].to_numpy(float))


def test_effect_plot_band_is_the_wald_interval(data):
    from hlmlab.ols.fit import lm

    fit = lm("y ~ x * Sector", data)
    ax = plots.effect_plot(fit, "x", by="Sector")
    assert len(_lines(ax)) == 2 and len(ax.collections) == 2
    xs, ys = ax.get_lines()[1].get_data()  # Public
    grid = pd.DataFrame({"x": xs[[0, -1]], "Sector": pd.Categorical(["Public"] * 2, ["Catholic", "Public"])})
    pr = fit.predict(grid, interval="confidence")
    np.testing.assert_allclose(ys[[0, -1]], pr["fit"].to_numpy())
    band = ax.collections[1].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(min(pr["lower"].min(), pr["upper"].min()), abs=1e-8)


def test_gap_plot_is_the_difference_of_the_two_curves(data):
    from hlmlab.ols.fit import lm

    fit = lm("y ~ x * Sector", data)
    ax = plots.gap_plot(fit, "x", "Sector")
    xs, ys = ax.get_lines()[0].get_data()
    b = fit.fixef
    np.testing.assert_allclose(ys, b["SectorPublic"] + b["x:SectorPublic"] * xs, atol=1e-10)
    assert ax.get_ylabel().startswith("gap in y (Public − Catholic)")
    with pytest.raises(KeyError, match="'Region'"):
        plots.gap_plot(fit, "x", "Region")


def test_diagnostic_plots_draw_points_and_smoothers(data, lme_fit):
    ax = plots.residuals_fitted(lme_fit, by="Sector")
    assert len(ax.collections) == 2 and len(_lines(ax)) == 3  # two smoothers and the zero line
    np.testing.assert_allclose(np.sort(np.concatenate([c.get_offsets()[:, 1] for c in ax.collections])),
                               np.sort(lme_fit.residuals(level=1).to_numpy()))
    ax = plots.scale_location(lme_fit)
    assert ax.collections[0].get_offsets()[:, 1].min() >= 0
    ax = plots.qq_residuals(lme_fit, by="Sector")
    assert len(_lines(ax)) == 4  # points + reference line per sector
    axes = plots.qq_ranef(lme_fit, by="Sector")
    assert len(axes) == 2 and axes[1].get_ylabel() == "BLUP of x"


def test_qq_plot_is_linear_for_normal_scores():
    from scipy import stats

    q = stats.norm.ppf((np.arange(1, 101) - 0.5) / 100)
    ax = plots.qq_plot(3 + 2 * q)
    xs, ys = ax.get_lines()[0].get_data()
    np.testing.assert_allclose(ys, 3 + 2 * xs)
    with pytest.raises(ValueError, match="lengths must match"):
        plots.qq_plot([1, 2, 3], by=["a", "b"])


def test_influence_plot_labels_the_largest_changes():
    ch = pd.DataFrame({"a": [0.1, -2.0, 0.3], "b": [0.5, 0.2, 1.5]}, index=["s1", "s2", "s3"])
    ax = plots.influence_plot(ch, top=1)
    assert [t.get_text() for t in ax.texts] == ["s2", "s3"]
    with pytest.raises(TypeError, match="dropone result"):
        plots.influence_plot([1, 2, 3])


def test_influence_plot_from_dropone(data):
    from hlmlab.inference.inference import dropone
    from hlmlab.ols.fit import lm

    d = dropone(lm("y ~ x", data), "g", progress=False)
    ax = plots.influence_plot(d)
    assert sum(len(c.get_offsets()) for c in ax.collections) == 2 * data["g"].nunique()


def test_scatter3d_and_ranef3d_draw_the_ellipsoid(data):
    fit = StandInLme(data, fixed=("x", "w"), random=("x", "w"))
    ax = plots.ranef3d(fit, by="Sector")
    assert ax.name == "3d"
    assert len(ax.collections) == 3  # two sectors and the wireframe
    with pytest.raises(ValueError, match="3 random effects"):
        plots.ranef3d(StandInLme(data))
    with pytest.raises(ValueError, match="3 x 3"):
        plots.scatter3d(data, "x", "w", "y", shape=np.eye(2))


def test_shrinkage_on_the_engine_one_way_fit_matches_the_notes():
    lme = importlib.import_module("hlmlab.lmm.lme")
    import hlmlab

    hs = hlmlab.load_data("hs")
    fit = lme.lme("mathach ~ 1", hs, random="~ 1 | school")
    ax = plots.shrinkage(fit)
    blue, blup = ax.collections[0].get_offsets(), ax.collections[1].get_offsets()
    schools = sorted(hs["school"].unique())
    k = schools.index(8854)
    np.testing.assert_allclose(blue[k], [32, 4.239781], atol=1e-6)
    np.testing.assert_allclose(blup[k], [32, 5.356214], atol=1e-4)
    assert ax.get_lines()[0].get_ydata()[0] == pytest.approx(12.60468, abs=1e-4)


def _scatter(ax, label):
    """The offsets of the scatter collection with this legend label."""
    found = [c for c in ax.collections if c.get_label() == label]
    assert len(found) == 1, [c.get_label() for c in ax.collections]
    return np.asarray(found[0].get_offsets())


@pytest.fixture(scope="module")
def hs():
    import hlmlab

    return hlmlab.load_data("hs")


def test_shrinkage_beta_on_the_engine_fit_uses_its_blups(hs):
    lme = importlib.import_module("hlmlab.lmm.lme")

    fit = lme.lme("mathach ~ ses * Sector", hs, random="~ 1 + ses | school")
    ax = plots.shrinkage_beta(fit, "ses", by="Sector")
    co = fit.coef()
    sector = hs.groupby("school")["Sector"].first().reindex(co.index)
    public = (sector == "Public").to_numpy()
    expected = pd.DataFrame({"intercept": co["(Intercept)"] + public * co["SectorPublic"],
                             "slope": co["ses"] + public * co["ses:SectorPublic"]})
    for lev in ("Catholic", "Public"):
        got = _scatter(ax, f"BLUP: {lev}")
        np.testing.assert_allclose(got, expected[(sector == lev).to_numpy()].to_numpy(), atol=1e-8)
    pop = _scatter(ax, "population line (by Sector)")
    b = fit.fixef
    np.testing.assert_allclose(pop, [[b["(Intercept)"], b["ses"]],
                                     [b["(Intercept)"] + b["SectorPublic"], b["ses"] + b["ses:SectorPublic"]]],
                               atol=1e-8)


def test_shrinkage_beta_colours_blue_and_blup_points_by_level(data):
    fit = StandInLme(data)
    ax = plots.shrinkage_beta(fit, "x", by="Sector")
    labels = ax.get_legend_handles_labels()[1]
    for lab in ("BLUE (OLS): Catholic", "BLUE (OLS): Public", "BLUP: Catholic", "BLUP: Public"):
        assert lab in labels
    assert ax.get_legend().get_title().get_text() == "Sector"
    sector = data.groupby("g")["Sector"].first()
    blue = geo.group_ols(data, "x", "y", "g")
    colours = {}
    for lev in ("Catholic", "Public"):
        groups = sector.index[sector == lev]
        np.testing.assert_allclose(_scatter(ax, f"BLUP: {lev}"),
                                   fit.coef().loc[groups, ["(Intercept)", "x"]].to_numpy(), atol=1e-10)
        np.testing.assert_allclose(_scatter(ax, f"BLUE (OLS): {lev}"),
                                   blue.loc[groups, ["intercept", "slope"]].to_numpy(), atol=1e-10)
        c_blup = [c for c in ax.collections if c.get_label() == f"BLUP: {lev}"][0]
        c_blue = [c for c in ax.collections if c.get_label() == f"BLUE (OLS): {lev}"][0]
        colours[lev] = matplotlib.colors.to_hex(c_blup.get_facecolor()[0])
        assert matplotlib.colors.to_hex(c_blue.get_edgecolor()[0]) == colours[lev]
    assert colours["Catholic"] != colours["Public"]
    # a dashed (BLUE) and a solid (BLUP) data ellipse per level
    ells = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 50]
    assert sorted(ln.get_linestyle() for ln in ells) == ["-", "-", "--", "--"]


def test_shrinkage_beta_with_a_categorical_group_column(hs):
    lme = importlib.import_module("hlmlab.lmm.lme")

    d = hs.copy()
    ids = d["Sector"].astype(str).str[0] + d["school"].astype(str)
    order = sorted(ids.unique(), key=lambda v: (v[0] != "P", -int(v[1:])))  # not alphabetical
    d["id"] = pd.Categorical(ids, categories=order + ["X0000"])  # and an unused level
    fit = lme.lme("mathach ~ ses * Sector", d, random="~ 1 + ses | id")
    ax = plots.shrinkage_beta(fit, "ses", by="Sector")
    co = fit.coef()
    co.index = co.index.map(str)
    blue = geo.group_ols(d, "ses", "mathach", "id", "Sector")
    for lev, pub in (("Catholic", 0.0), ("Public", 1.0)):
        ids_lev = [str(i) for i in blue.index[blue["Sector"] == lev]]
        c = co.loc[ids_lev]
        expected = np.column_stack([c["(Intercept)"] + pub * c["SectorPublic"], c["ses"] + pub * c["ses:SectorPublic"]])
        np.testing.assert_allclose(_scatter(ax, f"BLUP: {lev}"), expected, atol=1e-8)
        np.testing.assert_allclose(_scatter(ax, f"BLUE (OLS): {lev}"),
                                   blue.loc[blue["Sector"] == lev, ["intercept", "slope"]].to_numpy(), atol=1e-10)


def test_shrinkage_beta_keeps_the_group_mean_of_a_contextual_variable(hs):
    """With cvar(ses, school) in the formula the BLUP line's intercept holds the school's own mean ses."""
    lme = importlib.import_module("hlmlab.lmm.lme")

    fit = lme.lme("mathach ~ ses + cvar(ses, school)", hs, random="~ 1 + ses | school")
    ax = plots.shrinkage_beta(fit, "ses")
    co = fit.coef()
    cname = [c for c in co.columns if c.startswith("cvar")][0]
    xbar = hs.groupby("school")["ses"].mean().reindex(co.index)
    expected = np.column_stack([co["(Intercept)"] + co[cname] * xbar, co["ses"]])
    np.testing.assert_allclose(ax.collections[1].get_offsets(), expected, atol=1e-8)
    # the BLUP lines go through the fitted values of each school
    fitted = fit.fitted().to_numpy()
    blup = pd.DataFrame(expected, index=co.index, columns=["a", "b"]).reindex(hs["school"])
    np.testing.assert_allclose(blup["a"].to_numpy() + blup["b"].to_numpy() * hs["ses"].to_numpy(), fitted,
                               atol=1e-8)
    # population: a line per school (gamma_00 + gamma_01 xbar_j, gamma_10); here their average
    b = fit.fixef
    pop = _scatter(ax, "population line")
    assert pop.shape[0] == hs["school"].nunique()
    np.testing.assert_allclose(np.sort(pop[:, 0]), np.sort((b["(Intercept)"] + b[cname] * xbar).to_numpy()),
                               atol=1e-8)


def test_shrinkage_beta_says_what_it_supports(hs):
    lme = importlib.import_module("hlmlab.lmm.lme")

    f0 = lme.lme("mathach ~ ses", hs, random="~ 1 | school")
    with pytest.raises(ValueError, match=r"random part '~ 1 \+ ses \| group'.*plots.shrinkage"):
        plots.shrinkage_beta(f0, "ses")
    f1 = lme.lme("mathach ~ ses + Sex", hs, random="~ 1 + ses | school")
    with pytest.raises(ValueError, match="column 'SexMale' varies otherwise"):
        plots.shrinkage_beta(f1, "ses")


def test_beta_space_draws_extra_ellipses(data):
    e = geo.Ellipse([12, 2], [[0.5, 0.1], [0.1, 0.3]], 2.0, label="mixed model")
    ax = plots.beta_space(data, "x", "y", "g", methods=["pooled"], data_ellipse=None, extra=[e])
    assert "mixed model" in ax.get_legend_handles_labels()[1]
    line = [ln for ln in ax.get_lines() if ln.get_label() == "mixed model"][0]
    np.testing.assert_allclose(e.quadratic_form(np.column_stack(line.get_data())), 4.0, rtol=1e-8)


def test_qq_ranef_takes_the_innermost_level_of_a_nested_fit(lme_fit):
    class Nested:
        def __init__(self, inner):
            self.inner = inner
            self.data, self.groups = inner.data, inner.groups

        def ranef(self, level=None):
            outer = pd.DataFrame({"(Intercept)": [0.5, -0.5]}, index=["A", "B"])
            return {"board": outer, "g": self.inner.ranef()} if level is None else outer

    axes = plots.qq_ranef(Nested(lme_fit))
    assert len(axes) == 2
    assert len(axes[0].get_lines()[0].get_xdata()) == lme_fit.ranef().shape[0]


def test_scatter3d_equal_aspect_shows_a_pancake_truthfully():
    rng = np.random.default_rng(3)
    # a flat ellipsoid: the third axis has 1/20 of the others' SD
    G = np.diag([4.0, 1.0, 0.01])
    pts = pd.DataFrame(rng.multivariate_normal(np.zeros(3), G, 60), columns=["a", "b", "c"])
    ax = plots.scatter3d(pts, "a", "b", "c", shape=G)
    default = [np.ptp(lim) for lim in (ax.get_xlim(), ax.get_ylim(), ax.get_zlim())]
    assert default[2] < 0.5 * default[0]  # matplotlib stretches the flat axis
    ax = plots.scatter3d(pts, "a", "b", "c", shape=G, equal_aspect=True)
    lims = np.array([ax.get_xlim(), ax.get_ylim(), ax.get_zlim()])
    widths = lims[:, 1] - lims[:, 0]
    np.testing.assert_allclose(widths, widths[0], rtol=1e-12)
    np.testing.assert_allclose(ax.get_box_aspect() / ax.get_box_aspect()[0], [1, 1, 1], rtol=1e-12)
    # every point and the whole ellipsoid (half-axes 2, 1, 0.1 around 0) are inside
    both = np.vstack([pts.to_numpy(), np.diag([2.0, 1.0, 0.1]), -np.diag([2.0, 1.0, 0.1])])
    assert np.all(both >= lims[:, 0] - 1e-12) and np.all(both <= lims[:, 1] + 1e-12)
    # centred on the midpoints of the ranges
    lo, hi = both.min(axis=0), both.max(axis=0)
    np.testing.assert_allclose(lims.mean(axis=1), (lo + hi) / 2, atol=1e-9)


def test_ranef3d_passes_equal_aspect(data):
    fit = StandInLme(data, fixed=("x", "w"), random=("x", "w"))
    ax = plots.ranef3d(fit, by="Sector", equal_aspect=True)
    widths = [np.ptp(lim) for lim in (ax.get_xlim(), ax.get_ylim(), ax.get_zlim())]
    np.testing.assert_allclose(widths, widths[0], rtol=1e-12)


def test_confidence_plot_can_show_the_origin(data):
    from hlmlab.ols.fit import lm

    d = data.copy()
    d["y"] = d["y"] + 40 + 10 * d["x"]  # intercept and slope far from 0
    fit = lm("y ~ x", d)
    ax = plots.confidence_plot(fit, ["(Intercept)", "x"])
    assert not ax.get_xlim()[0] <= 0 <= ax.get_xlim()[1]  # default: the limits fit the ellipses
    n_default = len(ax.get_lines())
    plt.close("all")
    ax = plots.confidence_plot(fit, ["(Intercept)", "x"], show_origin=True)
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    assert xlim[0] < 0 < xlim[1] and ylim[0] < 0 < ylim[1]
    assert xlim[1] > fit.fixef["(Intercept)"] and ylim[1] > fit.fixef["x"]
    lines = ax.get_lines()
    assert len(lines) == n_default + 2
    hline, vline = lines[-2], lines[-1]
    assert list(hline.get_ydata()) == [0, 0] and list(vline.get_xdata()) == [0, 0]
    assert hline.get_linewidth() < 1 and vline.get_linewidth() < 1
    # the interval bars still sit on the (new) edges and are the Wald intervals
    sha = geo.confidence_ellipse(fit, ["(Intercept)", "x"], kind="shadows")
    np.testing.assert_allclose(lines[3].get_xdata(), sha.shadows().iloc[0][["lower", "upper"]].to_numpy(float))
    assert lines[3].get_ydata()[0] == pytest.approx(ylim[0])


def test_default_grid_refuses_a_model_with_group_summaries_in_its_formula():
    import hlmlab as hl

    hs = hl.load_data("hs")
    fit = hl.lm("mathach ~ ses + cvar(ses, school)", hs)
    with pytest.raises(ValueError, match="cvar/dvar"):
        plots.effect_plot(fit, "ses")
    plt.close("all")


def test_residual_plots_keep_the_category_order_in_the_legend():
    import hlmlab as hl

    hs = hl.load_data("hs")
    hs["third"] = pd.Categorical(
        pd.qcut(hs["ses"], 3, labels=["low", "middle", "high"]).astype(str), categories=["low", "middle", "high"]
    )
    fit = hl.lm("mathach ~ ses", hs)
    ax = plots.scale_location(fit, by="third")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["low", "middle", "high"]
    plt.close("all")
