"""hlmlab.graphics.plots: the public namespace of the pictures (``hl.plots``)."""

from __future__ import annotations

import importlib

import pytest

from hlmlab.graphics import plots

#: the names the book and the labs use through hl.plots / plots.
BOOK_NAMES = [
    "SECTOR_COLORS",
    "METHOD_COLORS",
    "beta_space",
    "beta_difference",
    "confidence_plot",
    "dispersion_plot",
    "draw_ellipse",
    "effect_plot",
    "gap_plot",
    "influence_plot",
    "lines_and_points",
    "panels",
    "qq_plot",
    "qq_ranef",
    "qq_residuals",
    "quantile_plots",
    "ranef3d",
    "residuals_fitted",
    "scale_location",
    "scatter3d",
    "shrinkage",
    "shrinkage_beta",
    "shrinkage_points",
    "trellis",
    "smooth",
]


@pytest.mark.parametrize("name", BOOK_NAMES)
def test_every_name_the_book_uses_is_in_the_namespace(name):
    assert name in plots.__all__
    assert getattr(plots, name) is not None


def test_every_exported_name_exists_and_comes_from_a_family_module():
    for name in plots.__all__:
        obj = getattr(plots, name)
        if callable(obj):
            assert obj.__module__.startswith("hlmlab.graphics."), name
            assert obj.__module__ != "hlmlab.graphics.plots", name


def test_hl_plots_is_this_module():
    import hlmlab as hl

    assert hl.plots is plots
    assert hl.plots.trellis is importlib.import_module("hlmlab.graphics.data").trellis
