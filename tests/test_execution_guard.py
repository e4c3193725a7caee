"""A stuck notebook cell fails fast, with the notebook and the cell named.

Both executors are checked on ``tests/notebooks/sleeps-past-timeout.ipynb``,
whose second code cell sleeps for ten minutes: nbclient under
``tools/nbguard.py`` (the executor of ``jupyter-book build`` and
``make execute``) and nbval (the executor of ``make test``).
"""

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SLEEPER = ROOT / "tests" / "notebooks" / "sleeps-past-timeout.ipynb"


def test_nbguard_names_the_stuck_notebook_and_cell():
    t0 = time.monotonic()
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "nbguard.py"), "--cell-timeout", "3", str(SLEEPER)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    elapsed = time.monotonic() - t0
    assert run.returncode == 1
    assert "CellTimeoutError" in run.stderr
    assert "sleeps-past-timeout.ipynb, cell 2" in run.stderr
    assert "time.sleep(600)" in run.stderr or "import time" in run.stderr
    assert elapsed < 120


def test_nbval_names_the_stuck_notebook_and_cell(tmp_path):
    nb = tmp_path / SLEEPER.name
    nb.write_bytes(SLEEPER.read_bytes())
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    t0 = time.monotonic()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval",
            "--nbval-current-env",
            "--nbval-cell-timeout",
            "3",
            "-p",
            "no:cacheprovider",
            "-c",
            str(tmp_path / "pytest.ini"),
            str(nb),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    elapsed = time.monotonic() - t0
    assert run.returncode == 1
    assert (
        "sleeps-past-timeout.ipynb::Cell 1 FAILED" in run.stdout
        or "FAILED sleeps-past-timeout.ipynb::Cell 1" in run.stdout
    )
    assert "Timeout of 3 seconds exceeded" in run.stdout
    assert elapsed < 120
