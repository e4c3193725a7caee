"""Shared test set-up: draw off screen, and give tests the course data."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import pytest  # noqa: E402

import hlmlab  # noqa: E402


@pytest.fixture
def hs():
    return hlmlab.load_data("hs")


@pytest.fixture
def hs1():
    return hlmlab.load_data("hs1")
