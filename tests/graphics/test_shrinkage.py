"""hlmlab.graphics.shrinkage: BLUE to BLUP."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")


import matplotlib.colors  # noqa: E402
import matplotlib.text  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hlmlab.graphics import plots  # noqa: E402
from hlmlab.ols.lmlist import group_coefficients  # noqa: E402


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


def test_shrinkage_on_the_engine_one_way_fit_matches_the_notes():
    import hlmlab
    from hlmlab import lme

    hs = hlmlab.load_data("hs")
    fit = lme("mathach ~ 1", hs, random="~ 1 | school")
    ax = plots.shrinkage(fit)
    blue, blup = ax.collections[0].get_offsets(), ax.collections[1].get_offsets()
    schools = sorted(hs["school"].unique())
    k = schools.index(8854)
    np.testing.assert_allclose(blue[k], [32, 4.239781], atol=1e-6)
    np.testing.assert_allclose(blup[k], [32, 5.356214], atol=1e-4)
    assert ax.get_lines()[0].get_ydata()[0] == pytest.approx(12.60468, abs=1e-4)


def test_shrinkage_beta_on_the_engine_fit_uses_its_blups(hsm, scatter):
    from hlmlab import lme

    fit = lme("mathach ~ ses * Sector", hsm, random="~ 1 + ses | school")
    ax = plots.shrinkage_beta(fit, "ses", by="Sector")
    co = fit.coef()
    sector = hsm.groupby("school")["Sector"].first().reindex(co.index)
    public = (sector == "Public").to_numpy()
    expected = pd.DataFrame(
        {
            "intercept": co["(Intercept)"] + public * co["SectorPublic"],
            "slope": co["ses"] + public * co["ses:SectorPublic"],
        }
    )
    for lev in ("Catholic", "Public"):
        got = scatter(ax, f"BLUP: {lev}")
        np.testing.assert_allclose(got, expected[(sector == lev).to_numpy()].to_numpy(), atol=1e-8)
    pop = scatter(ax, "population line (by Sector)")
    b = fit.fixef
    np.testing.assert_allclose(
        pop,
        [[b["(Intercept)"], b["ses"]], [b["(Intercept)"] + b["SectorPublic"], b["ses"] + b["ses:SectorPublic"]]],
        atol=1e-8,
    )


def test_shrinkage_beta_colours_blue_and_blup_points_by_level(data, stand_in_lme, scatter):
    fit = stand_in_lme(data)
    ax = plots.shrinkage_beta(fit, "x", by="Sector")
    labels = ax.get_legend_handles_labels()[1]
    for lab in ("BLUE (OLS): Catholic", "BLUE (OLS): Public", "BLUP: Catholic", "BLUP: Public"):
        assert lab in labels
    assert ax.get_legend().get_title().get_text() == "Sector"
    sector = data.groupby("g")["Sector"].first()
    blue = group_coefficients(data, "x", "y", "g")
    colours = {}
    for lev in ("Catholic", "Public"):
        groups = sector.index[sector == lev]
        np.testing.assert_allclose(
            scatter(ax, f"BLUP: {lev}"), fit.coef().loc[groups, ["(Intercept)", "x"]].to_numpy(), atol=1e-10
        )
        np.testing.assert_allclose(
            scatter(ax, f"BLUE (OLS): {lev}"), blue.loc[groups, ["intercept", "slope"]].to_numpy(), atol=1e-10
        )
        c_blup = [c for c in ax.collections if c.get_label() == f"BLUP: {lev}"][0]
        c_blue = [c for c in ax.collections if c.get_label() == f"BLUE (OLS): {lev}"][0]
        colours[lev] = matplotlib.colors.to_hex(c_blup.get_facecolor()[0])
        assert matplotlib.colors.to_hex(c_blue.get_edgecolor()[0]) == colours[lev]
    assert colours["Catholic"] != colours["Public"]
    # a dashed (BLUE) and a solid (BLUP) data ellipse per level
    ells = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 50]
    assert sorted(ln.get_linestyle() for ln in ells) == ["-", "-", "--", "--"]


def test_shrinkage_beta_with_a_categorical_group_column(hsm, scatter):
    from hlmlab import lme

    d = hsm.copy()
    ids = d["Sector"].astype(str).str[0] + d["school"].astype(str)
    order = sorted(ids.unique(), key=lambda v: (v[0] != "P", -int(v[1:])))  # not alphabetical
    d["id"] = pd.Categorical(ids, categories=order + ["X0000"])  # and an unused level
    fit = lme("mathach ~ ses * Sector", d, random="~ 1 + ses | id")
    ax = plots.shrinkage_beta(fit, "ses", by="Sector")
    co = fit.coef()
    co.index = co.index.map(str)
    blue = group_coefficients(d, "ses", "mathach", "id", "Sector")
    for lev, pub in (("Catholic", 0.0), ("Public", 1.0)):
        ids_lev = [str(i) for i in blue.index[blue["Sector"] == lev]]
        c = co.loc[ids_lev]
        expected = np.column_stack([c["(Intercept)"] + pub * c["SectorPublic"], c["ses"] + pub * c["ses:SectorPublic"]])
        np.testing.assert_allclose(scatter(ax, f"BLUP: {lev}"), expected, atol=1e-8)
        np.testing.assert_allclose(
            scatter(ax, f"BLUE (OLS): {lev}"),
            blue.loc[blue["Sector"] == lev, ["intercept", "slope"]].to_numpy(),
            atol=1e-10,
        )


def test_shrinkage_beta_keeps_the_group_mean_of_a_contextual_variable(hsm, scatter):
    """With cvar(ses, school) in the formula the BLUP line's intercept holds the school's own mean ses."""
    from hlmlab import lme

    fit = lme("mathach ~ ses + cvar(ses, school)", hsm, random="~ 1 + ses | school")
    ax = plots.shrinkage_beta(fit, "ses")
    co = fit.coef()
    cname = [c for c in co.columns if c.startswith("cvar")][0]
    xbar = hsm.groupby("school")["ses"].mean().reindex(co.index)
    expected = np.column_stack([co["(Intercept)"] + co[cname] * xbar, co["ses"]])
    np.testing.assert_allclose(ax.collections[1].get_offsets(), expected, atol=1e-8)
    # the BLUP lines go through the fitted values of each school
    fitted = fit.fitted().to_numpy()
    blup = pd.DataFrame(expected, index=co.index, columns=["a", "b"]).reindex(hsm["school"])
    np.testing.assert_allclose(blup["a"].to_numpy() + blup["b"].to_numpy() * hsm["ses"].to_numpy(), fitted, atol=1e-8)
    # population: a line per school (gamma_00 + gamma_01 xbar_j, gamma_10); here their average
    b = fit.fixef
    pop = scatter(ax, "population line")
    assert pop.shape[0] == hsm["school"].nunique()
    np.testing.assert_allclose(np.sort(pop[:, 0]), np.sort((b["(Intercept)"] + b[cname] * xbar).to_numpy()), atol=1e-8)


def test_shrinkage_beta_says_what_it_supports(hsm):
    from hlmlab import lme

    f0 = lme("mathach ~ ses", hsm, random="~ 1 | school")
    with pytest.raises(ValueError, match=r"random part '~ 1 \+ ses \| group'.*plots.shrinkage"):
        plots.shrinkage_beta(f0, "ses")
    f1 = lme("mathach ~ ses + Sex", hsm, random="~ 1 + ses | school")
    with pytest.raises(ValueError, match="column 'SexMale' varies otherwise"):
        plots.shrinkage_beta(f1, "ses")
