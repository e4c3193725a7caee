"""Work split over processes (hlmlab._parallel), and the two users of it: simulate_lrt and dropone."""

import numpy as np
import pytest

import hlmlab as hl
from hlmlab._parallel import resolve_jobs, run_chunks


def _square_and_pid(shared, idx):
    import os

    return [shared * i * i for i in idx], os.getpid()


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_resolve_jobs_refuses_nonsense(bad):
    with pytest.raises(ValueError, match="n_jobs must be"):
        resolve_jobs(bad)


def test_resolve_jobs_values():
    import os

    assert resolve_jobs(None) == 1 and resolve_jobs(3) == 3 and resolve_jobs(-1) == (os.cpu_count() or 1)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_run_chunks_keeps_the_order(n_jobs):
    out = run_chunks(_square_and_pid, 2, 23, n_jobs=n_jobs)
    idx = np.concatenate([i for i, _ in out])
    values = [v for _, (vals, _) in out for v in vals]
    assert list(idx) == list(range(23))
    assert values == [2 * i * i for i in range(23)]
    pids = {pid for _, (_, pid) in out}
    import os

    assert (os.getpid() in pids) == (n_jobs == 1)


def test_dropone_is_the_same_on_two_processes(fitc):
    groups = list(fitc.levels[0].labels[:6])
    one = hl.dropone(fitc, "id", groups=groups, progress=False)
    two = hl.dropone(fitc, "id", groups=groups, progress=False, n_jobs=2)
    np.testing.assert_array_equal(one.fixef.to_numpy(), two.fixef.to_numpy())
    assert list(two.fixef.index) == groups
