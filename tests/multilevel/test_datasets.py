"""The data sets reproduce the counts of data-facts.md and the notes' tables."""

import hashlib
import pathlib
import subprocess
import sys

import pandas as pd
import pytest

import hlmlab

ROOT = pathlib.Path(__file__).resolve().parents[2]

HS_SCHOOLS = [
    1317,
    1906,
    2208,
    2458,
    2626,
    2629,
    2639,
    2658,
    2771,
    3013,
    3610,
    3992,
    4292,
    4511,
    4530,
    4868,
    5619,
    5640,
    5650,
    5720,
    5761,
    5762,
    6074,
    6484,
    6897,
    7172,
    7232,
    7342,
    7345,
    7688,
    7697,
    7890,
    7919,
    8531,
    8627,
    8707,
    8854,
    8874,
    9550,
    9586,
]


@pytest.mark.parametrize(
    "name, schools, students",
    [("hsfull", 160, 7185), ("hs", 40, 1977), ("hs1", 80, 3684), ("hs2", 80, 3501)],
)
def test_counts_match_data_facts(name, schools, students):
    df = hlmlab.load_data(name)
    assert len(df) == students
    assert df["school"].nunique() == schools
    assert not df.isna().any().any()


def test_hs_school_list_is_the_notes_list():
    assert sorted(hlmlab.load_data("hs")["school"].unique()) == HS_SCHOOLS


def test_hs_sector_and_sex_counts():
    hs = hlmlab.load_data("hs")
    # The notes' tab(~ Sector + school) table has 21 Catholic and 19 Public
    # schools (their running text, and data-facts.md, swap the two counts);
    # the student counts agree with both.
    by_school = hs.groupby("school", observed=True)["Sector"].first().value_counts()
    assert by_school.to_dict() == {"Catholic": 21, "Public": 19}
    assert hs["Sector"].value_counts().to_dict() == {"Catholic": 1144, "Public": 833}
    assert hs["Sex"].value_counts().to_dict() == {"Female": 1074, "Male": 903}


def test_halves_partition_the_full_file():
    full, h1, h2 = (hlmlab.load_data(n) for n in ("hsfull", "hs1", "hs2"))
    assert set(h1["school"]).isdisjoint(h2["school"])
    assert sorted(pd.concat([h1, h2])["X"]) == sorted(full["X"])


def test_factors_are_categoricals_with_reference_first():
    hs = hlmlab.load_data("hsfull")
    assert list(hs["Sector"].cat.categories) == ["Catholic", "Public"]
    assert list(hs["Sex"].cat.categories) == ["Female", "Male"]
    assert list(hs["Minority"].cat.categories) == ["No", "Yes"]


def test_row_numbers_follow_the_full_file():
    hs = hlmlab.load_data("hs")
    first = hs.iloc[0]
    assert (first["school"], first["X"]) == (1317, 141)
    assert (first["mathach"], first["ses"]) == (12.862, 0.882)
    assert hs["X"].is_monotonic_increasing


def test_load_data_returns_independent_copies():
    a = hlmlab.load_data("hs")
    a.loc[0, "mathach"] = -999
    assert hlmlab.load_data("hs").loc[0, "mathach"] == 12.862


def test_unknown_name_lists_the_known_names():
    with pytest.raises(ValueError, match="unknown data set 'hsb'.*'hsfull'.*'hs1'"):
        hlmlab.load_data("hsb")


def test_checksums_in_the_data_readme():
    readme = (ROOT / "data" / "README.md").read_text()
    for f in ("hsb_students.csv", "hsb_schools.csv"):
        digest = hashlib.sha256((ROOT / "hlmlab" / "multilevel" / "data" / f).read_bytes()).hexdigest()
        assert digest in readme, f"checksum of {f} is not the one documented"


def test_load_data_works_from_another_folder(tmp_path):
    code = "import hlmlab; print(len(hlmlab.load_data('hs2')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3501"
