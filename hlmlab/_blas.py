"""Run a block of code with single-threaded OpenBLAS.

The optimisation loop makes thousands of BLAS/LAPACK calls on tiny matrices
(L-BFGS-B's own updates, p x p triangular solves). OpenBLAS may hand such a
call to its worker threads; on a busy machine, waking them costs more than
the arithmetic (milliseconds per call instead of microseconds). Inside
:func:`single_threaded_blas` every OpenBLAS library loaded by numpy and
scipy runs on one thread; the previous setting is restored on exit. Where
the libraries cannot be found (another BLAS, another platform) it does
nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

__all__ = ["single_threaded_blas"]

_PREFIXES = ("scipy_openblas_", "openblas_")
_SUFFIXES = ("64_", "")


@lru_cache(maxsize=1)
def _controls() -> tuple[tuple[object, object], ...]:
    """(get, set) function pairs of each OpenBLAS library mapped into this process."""
    found = []
    try:
        with open("/proc/self/maps") as fh:
            paths = sorted({line.split()[-1] for line in fh if "openblas" in line.lower() and "/" in line})
    except OSError:
        return ()
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for pre in _PREFIXES:
            for suf in _SUFFIXES:
                get = getattr(lib, f"{pre}get_num_threads{suf}", None)
                put = getattr(lib, f"{pre}set_num_threads{suf}", None)
                if get is not None and put is not None:
                    get.restype = ctypes.c_int
                    put.argtypes = [ctypes.c_int]
                    found.append((get, put))
                    break
            else:
                continue
            break
    return tuple(found)


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Context manager: OpenBLAS on one thread inside, the previous thread counts restored after."""
    saved = []
    try:
        for get, put in _controls():
            n = int(get())
            saved.append((put, n))
            if n != 1:
                put(1)
    except Exception:  # pragma: no cover - a foreign BLAS: leave it alone
        pass
    try:
        yield
    finally:
        for put, n in saved:
            if n != 1:
                put(n)
