"""Predictions at each grouping level."""

import numpy as np
import pandas as pd
import pytest


def test_predict_level0_with_se_and_level1(slopes, hsm):
    new = pd.DataFrame(
        {"ses": [0.0, 1.0], "Sector": pd.Categorical(["Public", "Public"], categories=["Catholic", "Public"])}
    )
    p = slopes.predict(new, level=0, se=True)
    b, V = slopes.fixef.to_numpy(), slopes.vcov.to_numpy()
    x = np.array([1, 1, 1, 1.0])
    assert p["fit"].iloc[1] == pytest.approx(x @ b)
    assert p["se"].iloc[1] == pytest.approx(np.sqrt(x @ V @ x))
    rows = hsm.head(5)
    np.testing.assert_allclose(slopes.predict(rows, level=1), slopes.fitted(1).head(5))
    unknown = rows.assign(school=1)
    assert slopes.predict(unknown, level=1).isna().all()
