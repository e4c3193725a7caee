"""hlmlab.graphics.palette: the one place colours are defined."""

from __future__ import annotations

from hlmlab.graphics import palette as pal
from hlmlab.graphics import plots


def test_the_sector_has_the_same_colours_in_any_order():
    assert pal.palette(["Public", "Catholic"]) == {"Public": "tab:red", "Catholic": "tab:blue"}
    assert pal.palette(["Catholic"]) == {"Catholic": "tab:blue"}


def test_other_levels_take_the_level_colours_in_order_and_many_levels_a_palette():
    assert pal.palette(["a", "b"]) == {"a": "tab:blue", "b": "tab:red"}
    many = pal.palette(list(range(10)))
    assert len(many) == 10 and len(set(many.values())) == 10
    assert len(pal.palette(["a", "b"], palette="Set2")) == 2


def test_method_colours_are_apart_from_the_level_colours():
    assert set(pal.METHOD_COLORS) == set(pal.METHOD_LABELS) == {"pooled", "fixed", "two-stage", "between"}
    assert not set(pal.METHOD_COLORS.values()) & set(pal.LEVEL_COLORS)


def test_plots_reexport_the_palette():
    assert plots.SECTOR_COLORS is pal.SECTOR_COLORS
    assert plots.METHOD_COLORS is pal.METHOD_COLORS
    assert plots.METHOD_LABELS is pal.METHOD_LABELS
