"""Independent pieces of a computation on several processes (simulation replicates, deleted groups).

:func:`run_chunks` splits ``range(n)`` into chunks and calls ``work(shared,
idx)`` on each, on ``n_jobs`` worker processes, returning the results in
chunk order, so that the answer does not depend on the number of workers
(anything random is drawn before the work is split).

On Linux the workers are forked, so ``shared`` (fits, simulated responses)
reaches them without being copied or pickled; elsewhere they are spawned and
``shared`` is pickled once per worker. A worker must not print: progress is
shown by the parent (tqdm), as chunks finish.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

import numpy as np

__all__ = ["resolve_jobs", "run_chunks"]

T = TypeVar("T")

_WORK: tuple[Callable[[Any, np.ndarray], Any], Any] | None = None


def resolve_jobs(n_jobs: object) -> int:
    """The number of worker processes: ``n_jobs`` itself, or every core for -1 (None means 1).

    Raises
    ------
    ValueError
        For anything but None, -1 or a positive whole number.
    """
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or (n_jobs < 1 and n_jobs != -1):
        raise ValueError(f"n_jobs must be a positive whole number of processes or -1 (all cores), got {n_jobs!r}")
    return (os.cpu_count() or 1) if n_jobs == -1 else int(n_jobs)


def _init(work: Callable[[Any, np.ndarray], Any], shared: Any) -> None:
    global _WORK
    _WORK = (work, shared)


def _run(idx: np.ndarray) -> Any:
    assert _WORK is not None
    work, shared = _WORK
    return work(shared, idx)


def run_chunks(
    work: Callable[[Any, np.ndarray], T],
    shared: Any,
    n: int,
    n_jobs: int = 1,
    progress: bool = False,
    desc: str = "",
) -> list[tuple[np.ndarray, T]]:
    """Call ``work(shared, idx)`` for chunks ``idx`` of ``range(n)``; return [(idx, result)] in order.

    Parameters
    ----------
    work : callable
        A module-level function (it is sent to the workers by reference).
    shared : object
        What every chunk needs (fits, simulated responses).
    n : int
        Number of items.
    n_jobs : int
        Worker processes (1: in this process, item by item).
    progress : bool
        Show a tqdm progress bar over the items.
    desc : str
        The progress bar's label.
    """
    from tqdm.auto import tqdm

    if n_jobs <= 1 or n < 2:
        out = []
        for k in tqdm(range(n), desc=desc, disable=not progress):
            idx = np.array([k])
            out.append((idx, work(shared, idx)))
        return out
    chunks = [c for c in np.array_split(np.arange(n), min(n, 8 * n_jobs)) if c.size]
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    ctx = multiprocessing.get_context(method)
    results: list[Any] = [None] * len(chunks)
    with (
        ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx, initializer=_init, initargs=(work, shared)) as pool,
        tqdm(total=n, desc=desc, disable=not progress) as bar,
    ):
        futures = {pool.submit(_run, idx): i for i, idx in enumerate(chunks)}
        for fut in as_completed(futures):
            i = futures[fut]
            results[i] = fut.result()
            bar.update(len(chunks[i]))
    return list(zip(chunks, results))
