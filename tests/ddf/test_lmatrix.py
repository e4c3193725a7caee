"""hlmlab.ddf._lmatrix: L as an array, and the one rank rule."""

import numpy as np
import pandas as pd
import pytest

from hlmlab.ddf._lmatrix import RANK_TOL, CoefficientError, as_array, rank, row_basis

NAMES = ["(Intercept)", "ses", "SectorPublic", "ses:SectorPublic"]


def test_as_array_shapes_and_alignment():
    assert as_array([0, 1.0, 0, 0], NAMES).shape == (1, 4)
    L = as_array(pd.DataFrame({"SectorPublic": [1.0], "ses": [2.0]}), NAMES)
    np.testing.assert_array_equal(L, [[0, 2.0, 1.0, 0]])
    np.testing.assert_array_equal(as_array(pd.Series({"ses": 1.0}), NAMES), [[0, 1.0, 0, 0]])
    assert as_array(np.eye(3), 3).shape == (3, 3)


def test_as_array_errors_name_what_is_wrong():
    with pytest.raises(CoefficientError, match="not coefficients") as err:
        as_array(pd.DataFrame({"Sector": [1.0]}), NAMES)
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)
    assert "'" not in str(err.value)[:1]  # the message, not its repr
    with pytest.raises(ValueError, match="one column per coefficient.*4 fixed effects"):
        as_array(np.eye(3), NAMES)


def test_rank_rule():
    L = np.array([[1.0, 0, 0], [0, 1, 0], [2, -1, 0]])
    assert rank(L) == 2 and rank(np.zeros((2, 3))) == 0 and rank(np.eye(3)) == 3
    assert rank(np.array([[1.0, 0], [1.0, RANK_TOL / 10]])) == 1
    W = row_basis(L)
    np.testing.assert_allclose(W @ W.T, np.eye(2), atol=1e-14)
    # W spans the row space: projecting L on it changes nothing
    np.testing.assert_allclose(L @ W.T @ W, L, atol=1e-14)
    assert row_basis(np.zeros((2, 3))).shape == (0, 3)
