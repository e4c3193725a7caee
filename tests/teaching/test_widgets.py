"""hlmlab.teaching.widgets: the simulation as an interactive figure."""

import matplotlib.pyplot as plt

from hlmlab.teaching.simulation import simulate_schools
from hlmlab.teaching.widgets import simulation_explorer, simulation_figure


def test_figure_and_explorer_draw():
    axes = simulation_figure(simulate_schools(5, seed=1), show_schools=2)
    assert len(axes[0].lines) == 2 * 2 + 1  # true and OLS line per school, plus gamma
    assert len(axes[1].collections) == 2  # true and OLS points
    plt.close("all")
    box = simulation_explorer(n_schools=8, seed=3)
    sliders = box.children[0].children
    sliders[1].value = 2.0  # moving a slider redraws without error
    plt.close("all")
