"""L builders: lrows, as_L, contrast_matrix, pairwise, lgrid, ldiff."""

import numpy as np
import pandas as pd
import pytest

from hlmlab.inference.hypotheses import CoefficientError, as_L, contrast_matrix, ldiff, lgrid, lrows, pairwise, rank
from hlmlab.inference.wald import wald
from hlmlab.ols.fit import lm

CATS = ["Catholic", "Public"]


def test_gap_curve_from_a_grid(pooled):
    ses = [-2.0, -1.0, 0.0, 1.0, 2.0]
    pub = pd.DataFrame({"ses": ses, "Sector": pd.Categorical(["Public"] * 5, categories=CATS)})
    cat = pub.assign(Sector=pd.Categorical(["Catholic"] * 5, categories=CATS))
    L = ldiff(lgrid(pooled, pub), lgrid(pooled, cat))
    assert L.index[0] == "Sector: Public - Catholic at ses=-2"
    w = wald(pooled, L)
    b = pooled.fixef
    np.testing.assert_allclose(w.estimate["Estimate"], b["SectorPublic"] + np.array(ses) * b["ses:SectorPublic"])
    V = pooled.vcov
    var = (
        V.loc["SectorPublic", "SectorPublic"]
        + 2 * np.array(ses) * V.loc["SectorPublic", "ses:SectorPublic"]
        + np.array(ses) ** 2 * V.loc["ses:SectorPublic", "ses:SectorPublic"]
    )
    np.testing.assert_allclose(w.estimate["Std.Error"], np.sqrt(var))
    assert w.num_df == 2  # five points on a line in a 2-dimensional space


def test_pairwise_differences_of_levels(hsm):
    d = hsm.assign(tert=pd.qcut(hsm["ses"], 3, labels=["low", "mid", "high"]))
    fit = lm("mathach ~ tert + Sector", d)
    L = pairwise(fit, "tert")
    assert list(L.index) == ["mid - low", "high - low", "high - mid"]
    est = wald(fit, L).estimate["Estimate"]
    b = fit.fixef
    np.testing.assert_allclose(est, [b["tertmid"], b["terthigh"], b["terthigh"] - b["tertmid"]])
    assert wald(fit, L).num_df == 2


def test_ldiff_broadcasts_a_single_row(pooled):
    L = lrows(pooled, "Sector")
    base = lrows(pooled, "^ses$")
    out = ldiff(L, base)
    assert out.shape == (2, 4) and (out["ses"] == -1).all()


# ---------------------------------------------------------------------------
# contrast_matrix (geometry's and ddf's former contrast_matrix, one function)
# ---------------------------------------------------------------------------
def test_contrast_matrix_picks_coefficients_by_name_or_position(pooled):
    by_name = contrast_matrix(pooled, ["ses", "SectorPublic"])
    by_pos = contrast_matrix(pooled, [1, 2])
    pd.testing.assert_frame_equal(by_name, by_pos)
    assert list(by_name.index) == ["ses", "SectorPublic"]
    np.testing.assert_array_equal(by_name.to_numpy(), np.eye(4)[[1, 2]])
    first_two = contrast_matrix(pooled, nrow=2)
    assert list(first_two.index) == ["(Intercept)", "ses"]


def test_contrast_matrix_takes_any_L_as_L_does(pooled):
    L = pd.DataFrame({"SectorPublic": [1.0, 1.0], "ses:SectorPublic": [0.0, 1.0]}, index=["gap 0", "gap 1"])
    pd.testing.assert_frame_equal(contrast_matrix(pooled, L=L), as_L(pooled, L))
    assert contrast_matrix(pooled, L=np.eye(4)[:2], nrow=2).shape == (2, 4)


def test_contrast_matrix_bad_input(pooled):
    with pytest.raises(KeyError, match="not in the fit"):
        contrast_matrix(pooled, ["ses", "nope"])
    with pytest.raises(KeyError, match="out of range"):
        contrast_matrix(pooled, [0, 9])
    with pytest.raises(ValueError, match="exactly two"):
        contrast_matrix(pooled, ["ses"], nrow=2)
    with pytest.raises(ValueError, match="exactly 2 rows"):
        contrast_matrix(pooled, L=np.eye(4)[:3], nrow=2)
    with pytest.raises(ValueError, match="4 coefficients"):
        contrast_matrix(pooled, L=np.eye(3)[:2])
    with pytest.raises(ValueError, match="not both"):
        contrast_matrix(pooled, ["ses"], L=np.eye(4)[:1])
    with pytest.raises(ValueError, match="give coefs"):
        contrast_matrix(pooled)


def test_unknown_names_raise_one_error_type(pooled):
    """Unknown coefficients are both a KeyError (a name lookup) and a ValueError (bad input)."""
    for spec in (["Sectorpublic"], pd.DataFrame({"Sectorpublic": [1.0]})):
        with pytest.raises(CoefficientError):
            as_L(pooled, spec)


def test_rank_of_L(pooled):
    L = lrows(pooled, "Sector")
    assert rank(L.to_numpy()) == 2 and rank(pd.concat([L, 2 * L]).to_numpy()) == 2


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------
def test_pattern_matching_nothing_is_an_error(pooled):
    with pytest.raises(ValueError, match=r"'Sex'.*SectorPublic"):
        wald(pooled, "Sex")


def test_L_with_the_wrong_number_of_columns(pooled):
    with pytest.raises(ValueError, match="one column per coefficient"):
        wald(pooled, np.ones((2, 3)))
    with pytest.raises(ValueError, match="not coefficients"):
        as_L(pooled, pd.DataFrame({"Sectorpublic": [1.0]}))
