"""The High School and Beyond data shipped with hlmlab.

The CSV files live in the repository's ``data/`` folder (provenance, licence,
codebook and checksums in ``data/README.md``) and are installed with the
package, so :func:`load_data` works from any folder after ``pip install .``.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd

#: Levels of the factors, reference level first (treatment contrasts use it).
FACTOR_LEVELS = {
    "Sector": ["Catholic", "Public"],
    "Sex": ["Female", "Male"],
    "Minority": ["No", "Yes"],
}

DATASETS = {
    "hsfull": "all 160 schools, 7,185 students",
    "hs": "the 40 schools of the notes, 1,977 students",
    "hs1": "Lab 1's random half: 80 schools, 3,684 students",
    "hs2": "the other half: 80 schools, 3,501 students",
    "hsb_students": "the student file alone (one row per student)",
    "hsb_schools": "the school file alone (one row per school)",
}

STUDENT_COLUMNS = ["X", "school", "mathach", "ses", "Sex", "Minority"]
SCHOOL_COLUMNS = ["Size", "Sector", "PRACAD", "DISCLIM", "HIMINTY", "MEANSES"]


@cache
def _read(filename: str) -> pd.DataFrame:
    path = resources.files("hlmlab.multilevel").joinpath("data", filename)
    with resources.as_file(path) as p:
        df = pd.read_csv(p)
    for col, levels in FACTOR_LEVELS.items():
        if col in df:
            df[col] = pd.Categorical(df[col], categories=levels)
    return df


def load_data(name: str) -> pd.DataFrame:
    """Return one of the course's data sets as a new pandas DataFrame.

    Parameters
    ----------
    name : str
        ``"hsfull"``, ``"hs"``, ``"hs1"`` or ``"hs2"`` for the multilevel
        (one row per student) files, with the school variables merged in;
        ``"hsb_students"`` or ``"hsb_schools"`` for the two separate files.

    Returns
    -------
    pandas.DataFrame
        Students in their original order (``X`` is the 1-based row number of
        the full file). ``Sector`` (Catholic, Public), ``Sex`` (Female, Male)
        and ``Minority`` (No, Yes) are categoricals with the reference level
        first.

    Raises
    ------
    ValueError
        If ``name`` is not one of the known data sets (the message lists them).
    """
    if name not in DATASETS:
        known = ", ".join(f"{k!r}" for k in DATASETS)
        raise ValueError(f"unknown data set {name!r}; known data sets are {known}")
    students = _read("hsb_students.csv")
    schools = _read("hsb_schools.csv")
    if name == "hsb_students":
        return students.copy()
    if name == "hsb_schools":
        return schools.copy()
    keep = {
        "hsfull": schools["school"],
        "hs": schools.loc[schools["in_hs"], "school"],
        "hs1": schools.loc[schools["half"] == "hs1", "school"],
        "hs2": schools.loc[schools["half"] == "hs2", "school"],
    }[name]
    long = students[students["school"].isin(keep)].merge(
        schools[["school", *SCHOOL_COLUMNS]], on="school", how="left", validate="many_to_one"
    )
    return long.sort_values("X", ignore_index=True)
