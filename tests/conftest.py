"""Shared test set-up: draw off screen, and give tests the course data.

The backend is chosen with ``matplotlib.use`` inside this process only: an
``MPLBACKEND`` environment variable would leak into the notebook kernels
that nbval starts and change what their figure cells print.
"""

import matplotlib
import pytest

matplotlib.use("Agg")

import hlmlab  # noqa: E402


@pytest.fixture
def hs():
    return hlmlab.load_data("hs")


@pytest.fixture
def hs1():
    return hlmlab.load_data("hs1")


@pytest.fixture(scope="module")
def hsm():
    """The hs data, shared by the tests of one module that do not change it."""
    return hlmlab.load_data("hs")


@pytest.fixture(scope="module")
def pooled(hsm):
    """The notes' pooled OLS fit, mathach ~ ses * Sector on hs."""
    return hlmlab.lm("mathach ~ ses * Sector", hsm)


# tests/notebooks/ holds notebooks the tests execute on purpose (one sleeps past
# every timeout); they are not book pages for nbval to check.
collect_ignore_glob = ["notebooks/*.ipynb"]
