"""Drop-one-group influence."""

import numpy as np
import pytest

from hlmlab.inference.influence import dropone
from hlmlab.ols.fit import lm


def test_dropone_matches_a_manual_refit(hsm):
    fit = lm("mathach ~ ses * Sector", hsm)
    d1 = dropone(fit, "school", progress=False)
    assert d1.changes.shape == (40, 4)
    manual = lm("mathach ~ ses * Sector", hsm[hsm["school"] != 8854])
    np.testing.assert_allclose(d1.changes.loc[8854], (manual.fixef - fit.fixef) / fit.se)
    top = d1.most_influential(3)
    assert len(top) == 3 and top["max |change| (SE)"].is_monotonic_decreasing
    assert top["max |change| (SE)"].iloc[0] == pytest.approx(d1.changes.abs().to_numpy().max())


def test_dropone_on_a_mixed_model(fitc, hs1_id):
    d = dropone(fitc, "id", groups=[1224, 9586], progress=False)
    manual = fitc.refit(data=hs1_id[hs1_id["id"] != 9586])
    np.testing.assert_allclose(d.changes.loc[9586], (manual.fixef - fitc.fixef) / fitc.se, rtol=1e-8, atol=1e-10)
    assert list(d.changes.index) == [1224, 9586]
    with pytest.raises(ValueError, match="not in the fit"):
        dropone(fitc, "id", groups=[1], progress=False)
