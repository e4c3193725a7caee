"""Execute notebooks so that a stuck cell fails fast, with its notebook and cell named.

Notebook execution has three ways to wait for ever: the kernel never becomes
ready, a cell never replies, or its reply arrives but its output never
finishes. nbclient has a timeout for each (``startup_timeout``, ``timeout``,
``iopub_timeout``), but by default a late output only logs a warning, and a
client whose event loop is itself blocked never checks any of them. This
module closes both gaps:

* :func:`client_options` gives nbclient all three timeouts, makes a late
  output an error, and records which notebook and cell are running;
* with ``NBGUARD_PROGRESS_FILE`` set, the notebook and cell that started last
  are written to that file, so ``cat`` shows where a long run is;
* every wait on the kernel's sockets is cut into one-second slices
  (:class:`GuardedClient`), so an asyncio poll that misses a message's
  wake-up (the hang seen after widget cells) costs a second, not a timeout;
* a watchdog thread, independent of nbclient's event loop, ends the process
  with a message naming the notebook and the cell when a cell has run longer
  than its timeout plus a grace period.

It is used three ways:

* as a Sphinx extension (``sphinx: local_extensions: nbguard: tools/`` in
  ``_config.yml``), so that ``jupyter-book build`` executes every notebook
  under these rules;
* from the command line, ``python tools/nbguard.py [--inplace] NOTEBOOK ...``,
  which ``make execute`` uses to re-execute and store outputs;
* from ``benchmarks/stress_execute.py``, which runs every notebook many times.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Seconds one cell may run (nbclient's ``timeout``).
CELL_TIMEOUT = 300
#: Seconds to wait for a cell's output after its reply (nbclient's ``iopub_timeout``).
IOPUB_TIMEOUT = 60
#: Seconds to wait for a new kernel to answer (nbclient's ``startup_timeout``).
STARTUP_TIMEOUT = 120
#: Extra seconds the watchdog allows beyond nbclient's own timeouts.
GRACE = 60
#: Exit status of a process ended by the watchdog.
STUCK_EXIT = 3


@dataclass
class Progress:
    """What is executing now: shared between the executor and the watchdog."""

    notebook: str = "?"
    cell: int | None = None
    first_line: str = ""
    since: float = 0.0
    busy: bool = False

    def describe(self) -> str:
        where = f"notebook {self.notebook}"
        if self.cell is None:
            return where + " (starting its kernel)"
        return f"{where}, cell {self.cell} ({self.first_line!r})"


PROGRESS = Progress()


class NotebookError(RuntimeError):
    """A notebook cell failed or timed out; the message names the notebook, the cell and nbclient's error."""


_watchdog_started = False


def _mark(notebook: str | None = None, cell: Any = None, index: int | None = None) -> None:
    if notebook is not None:
        PROGRESS.notebook = notebook
    PROGRESS.cell = index
    src = "" if cell is None else str(cell.get("source", ""))
    PROGRESS.first_line = (src.strip().splitlines() or [""])[0][:80]
    PROGRESS.since = time.monotonic()
    PROGRESS.busy = True
    report = os.environ.get("NBGUARD_PROGRESS_FILE")
    if report:  # what a person reads when a run seems stuck
        os.makedirs(os.path.dirname(os.path.abspath(report)), exist_ok=True)
        with open(report, "w") as f:
            f.write(f"{time.strftime('%H:%M:%S')} started {PROGRESS.describe()}\n")


def client_options(notebook: str, cell_timeout: int = CELL_TIMEOUT) -> dict[str, Any]:
    """Keyword arguments for ``nbclient.NotebookClient`` that make every wait finite.

    The hooks record the running cell in :data:`PROGRESS` for the watchdog.
    """

    def on_notebook_start(**_: Any) -> None:
        _mark(notebook)

    def on_cell_start(cell: Any, cell_index: int, **_: Any) -> None:
        _mark(notebook, cell, cell_index)

    def on_cell_complete(**_: Any) -> None:
        PROGRESS.busy = False

    def on_notebook_complete(**_: Any) -> None:
        PROGRESS.busy = False

    return {
        "timeout": cell_timeout,
        "iopub_timeout": IOPUB_TIMEOUT,
        "raise_on_iopub_timeout": True,
        "startup_timeout": STARTUP_TIMEOUT,
        "on_notebook_start": on_notebook_start,
        "on_cell_start": on_cell_start,
        "on_cell_complete": on_cell_complete,
        "on_notebook_complete": on_notebook_complete,
    }


#: Longest single wait on a kernel socket, in seconds (see :class:`GuardedClient`).
POLL_SLICE = 1.0


def _sliced(get_msg_once: Any) -> Any:
    """Wrap a channel's ``get_msg`` so that it re-polls its socket every ``POLL_SLICE`` seconds.

    An asyncio zmq poll can miss the wake-up of a message that has already
    arrived (seen here after a widget cell: the kernel had replied and was
    idle, and the client slept until its 300 s timeout). Waiting in slices
    re-checks the socket each second, so a missed wake-up costs at most a
    second, while the caller's own timeout keeps its meaning.
    """
    from queue import Empty

    async def get_msg(timeout: float | None = None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SLICE if deadline is None else max(0.0, min(POLL_SLICE, deadline - time.monotonic()))
            try:
                return await get_msg_once(timeout=left)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    return get_msg


def _guarded_client_class() -> Any:
    from nbclient import NotebookClient

    class GuardedClient(NotebookClient):
        """nbclient's client with sliced socket waits on the shell and iopub channels."""

        async def async_start_new_kernel_client(self) -> Any:
            kc = await super().async_start_new_kernel_client()
            for channel in (kc.shell_channel, kc.iopub_channel):
                channel.get_msg = _sliced(channel.get_msg)
            return kc

    return GuardedClient


def start_watchdog(cell_timeout: int = CELL_TIMEOUT, grace: int = GRACE) -> None:
    """End the process, naming the notebook and cell, if one cell outlives every timeout.

    Runs in a daemon thread, so it fires even when the executor's event loop
    is blocked. The limit is ``max(cell_timeout, STARTUP_TIMEOUT) + grace`` seconds.
    """
    global _watchdog_started
    if _watchdog_started:
        return
    _watchdog_started = True
    limit = max(cell_timeout, STARTUP_TIMEOUT) + grace

    def watch() -> None:
        while True:
            time.sleep(2)
            if PROGRESS.busy and time.monotonic() - PROGRESS.since > limit:
                sys.stderr.write(
                    f"\nnbguard: STUCK for more than {limit} s in {PROGRESS.describe()}; "
                    "nbclient's own timeouts did not fire. Ending the run.\n"
                )
                sys.stderr.flush()
                os._exit(STUCK_EXIT)

    threading.Thread(target=watch, name="nbguard-watchdog", daemon=True).start()


def execute(path: str | Path, inplace: bool = False, cell_timeout: int = CELL_TIMEOUT) -> float:
    """Execute one notebook under the guard; return its run time in seconds.

    Raises :class:`NotebookError` naming the notebook and the cell, with
    nbclient's ``CellTimeoutError`` or ``CellExecutionError`` (and the cell's
    source and traceback) in its message.
    """
    import nbformat

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    start_watchdog(cell_timeout)
    client = _guarded_client_class()(
        nb, resources={"metadata": {"path": str(path.parent)}}, **client_options(str(path), cell_timeout)
    )
    t0 = time.perf_counter()
    try:
        client.execute()
    except Exception as err:
        raise NotebookError(f"{PROGRESS.describe()}: {type(err).__name__}: {err}") from err
    finally:
        PROGRESS.busy = False
    elapsed = time.perf_counter() - t0
    if inplace:
        nbformat.write(nb, path)
    return elapsed


# ---------------------------------------------------------------------------
# Sphinx extension: jupyter-book's execution under the same rules
# ---------------------------------------------------------------------------
def setup(app: Any) -> dict[str, Any]:
    """Route myst-nb's notebook execution through :func:`client_options` and the watchdog."""
    import jupyter_cache.executors.utils as jc_utils

    app.add_config_value("nbguard_cell_timeout", CELL_TIMEOUT, "env")
    state = {"docname": "?"}

    def on_source_read(_app: Any, docname: str, _source: Any) -> None:
        state["docname"] = docname

    def guarded_execute(nb: Any, **kwargs: Any) -> Any:
        timeout = kwargs.pop("timeout", None) or app.config.nbguard_cell_timeout
        start_watchdog(timeout)
        options = client_options(state["docname"], timeout)
        cwd = kwargs.pop("cwd", None)
        options.update(kwargs)
        resources = {"metadata": {"path": cwd}} if cwd is not None else {}
        return _guarded_client_class()(nb=nb, resources=resources, **options).execute()

    jc_utils.executenb = guarded_execute
    app.connect("source-read", on_source_read)
    return {"parallel_read_safe": False, "parallel_write_safe": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--inplace", action="store_true", help="store the new outputs in the notebook")
    parser.add_argument("--cell-timeout", type=int, default=CELL_TIMEOUT)
    args = parser.parse_args(argv)
    for nb in args.notebooks:
        print(f"executing {nb} ...", flush=True)
        try:
            seconds = execute(nb, inplace=args.inplace, cell_timeout=args.cell_timeout)
        except Exception as err:  # the message names the notebook and the cell
            print(f"FAILED: {type(err).__name__}: {err}", file=sys.stderr)
            return 1
        print(f"  {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
