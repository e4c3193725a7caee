"""The notes' simulation as an interactive figure (ipywidgets).

:func:`simulation_figure` draws one simulated sample in data space (true
school lines, students, least-squares lines) and in beta space (true lines
and least-squares lines as points, with the dispersion ellipse of G around
gamma). :func:`simulation_explorer` wraps it in sliders for G, sigma², the
number of schools and the seed, so a reader can see how each parameter moves
the picture. In the static website the widgets show their initial state; the
sliders respond in JupyterLab or on Binder.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from hlmlab.graphics.geometry import ellipse
from hlmlab.teaching.simulation import NOTES_G, NOTES_GAMMA, NOTES_SIGMA2, SimulatedSchools, simulate_schools

__all__ = ["simulation_figure", "simulation_explorer"]


def simulation_figure(sim: SimulatedSchools, show_schools: int = 4, axes: Any = None) -> np.ndarray:
    """Draw a simulated sample in data space and in beta space.

    Parameters
    ----------
    sim : SimulatedSchools
        From :func:`hlmlab.simulation.simulate_schools`.
    show_schools : int
        Number of schools whose students and lines are drawn in data space
        (all schools appear in beta space).
    axes : pair of matplotlib Axes, optional

    Returns
    -------
    numpy array of the two Axes (data space, beta space).
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    ax_data, ax_beta = axes
    colours = plt.get_cmap("tab10")
    lines = sim.lines.head(show_schools)
    grid = np.array([-3.0, 3.0])
    for k, row in enumerate(lines.itertuples()):
        col = colours(k % 10)
        d = sim.data[sim.data["school"] == row.school]
        ax_data.scatter(d["x"], d["y"], s=10, color=col, alpha=0.6)
        ax_data.plot(grid, row.b0 + row.b1 * grid, color=col, lw=2, label=f"school {row.school}: true line")
        if np.isfinite(row.ols1):
            ax_data.plot(grid, row.ols0 + row.ols1 * grid, color=col, lw=1, ls="--")
    ax_data.plot(
        grid, sim.gamma[0] + sim.gamma[1] * grid, color="black", lw=2.5, label=r"population mean line $\gamma$"
    )
    ax_data.set(xlabel="x (ses)", ylabel="y", title="Data space: true lines (solid), least squares (dashed)")
    ax_data.legend(fontsize="small", loc="upper left")

    ax_beta.scatter(sim.lines["b0"], sim.lines["b1"], s=18, color="tab:red", label=r"true $\beta_j$")
    ok = sim.lines["ols1"].notna()
    ax_beta.scatter(
        sim.lines.loc[ok, "ols0"],
        sim.lines.loc[ok, "ols1"],
        s=18,
        facecolor="none",
        edgecolor="tab:blue",
        label=r"least squares $\hat\beta_j$",
    )
    pts = ellipse(sim.gamma, sim.G, radius=[1, 2])
    for r, p in zip((1, 2), pts):
        ax_beta.plot(p[:, 0], p[:, 1], color="black", lw=1.5 if r == 1 else 0.8, label=f"G ellipse, radius {r}")
    ax_beta.plot(*sim.gamma, marker="+", color="black", ms=14, mew=2)
    ax_beta.set(xlabel=r"intercept $\beta_0$", ylabel=r"slope $\beta_1$", title="Beta space: one point per school")
    ax_beta.legend(fontsize="small", loc="upper left")
    return np.asarray(axes)


def simulation_explorer(n_schools: int = 30, seed: int = 1) -> Any:
    """Sliders for the simulation's parameters above a live figure.

    Returns an ``ipywidgets.VBox`` (display it as a notebook cell's value).
    The parameters start at the notes' values: gamma = (12, 2),
    SD(intercepts) = 4, SD(slopes) = 5, correlation 0.4 (so G = [[16, 8],
    [8, 25]]), sigma² = 20, mean school size 30.
    """
    import ipywidgets as w

    sd0 = w.FloatSlider(value=np.sqrt(NOTES_G[0][0]), min=0.0, max=8.0, step=0.5, description="SD intercept")
    sd1 = w.FloatSlider(value=np.sqrt(NOTES_G[1][1]), min=0.0, max=8.0, step=0.5, description="SD slope")
    rho = w.FloatSlider(
        value=NOTES_G[0][1] / np.sqrt(NOTES_G[0][0] * NOTES_G[1][1]),
        min=-0.95,
        max=0.95,
        step=0.05,
        description="correlation",
    )
    sigma = w.FloatSlider(value=np.sqrt(NOTES_SIGMA2), min=0.5, max=10.0, step=0.5, description="sigma")
    schools = w.IntSlider(value=n_schools, min=2, max=200, description="schools")
    mean_n = w.IntSlider(value=30, min=2, max=200, description="mean n")
    seed_w = w.IntText(value=seed, description="seed")
    out = w.Output()

    def draw(*_: Any) -> None:
        G = np.array(
            [[sd0.value**2, rho.value * sd0.value * sd1.value], [rho.value * sd0.value * sd1.value, sd1.value**2]]
        )
        sim = simulate_schools(schools.value, NOTES_GAMMA, G, sigma.value**2, mean_n.value, seed=seed_w.value)
        with out:
            out.clear_output(wait=True)
            simulation_figure(sim)
            plt.show()

    controls = [sd0, sd1, rho, sigma, schools, mean_n, seed_w]
    for c in controls:
        c.observe(draw, names="value")
    draw()
    return w.VBox([w.HBox(controls[:4]), w.HBox(controls[4:]), out])
