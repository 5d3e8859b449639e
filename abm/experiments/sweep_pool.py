"""Where sweep runs execute: the local process pool, its workers, and a Dask executor.

`abm.experiments.sweep.run_sweep` submits `abm.experiments.sweep.execute_run` tasks to the pool
`local_pool` builds, or to the executor `dask_executor` yields. Local workers ignore Ctrl-C
(the parent ends them, `abort`), die with their parent, and do not re-run the caller's
``__main__`` script (`_ScriptFreeProcess`); nor do the worker processes of a local Dask
cluster (started while ``__main__`` is hidden), so a sweep works from a plain script with or
without an ``if __name__ == "__main__":`` guard. A remote cluster's workers are started by
whoever runs them.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import types
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from abm.experiments.sweep_spec import SweepError


def abort(pool: cf.Executor, in_flight: Iterable[cf.Future[Any]], owned: bool) -> None:
    """Stop now: cancel queued tasks and, for our own pool, end its processes."""
    for future in in_flight:
        future.cancel()
    if not owned:
        return
    # The runs in flight are lost anyway (a resume reruns them), so their processes are ended
    # rather than awaited (Python 3.14 has ProcessPoolExecutor.terminate_workers for this);
    # they are looked up first because shutdown() forgets them.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with suppress(OSError, ValueError, AttributeError):
            process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _init_worker() -> None:
    """Set up a local worker process: leave Ctrl-C to the parent, and die with the parent."""
    # Ctrl-C reaches the whole process group; only the parent acts on it (and ends the workers).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A killed parent would leave its workers blocked on their task queue forever.
    parent = multiprocessing.parent_process()
    if parent is not None:
        sentinel = parent.sentinel
        threading.Thread(target=_exit_with, args=(sentinel,), daemon=True).start()


def _exit_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


class _ScriptFreeProcess(multiprocessing.context.SpawnProcess):
    """A spawned process that does not run the parent's ``__main__`` module before its task.

    A spawned child normally re-runs the parent's script (as ``__mp_main__``) to find what
    its task needs; a script without an ``if __name__ == "__main__":`` guard would then start
    the sweep again in every worker. The workers need nothing from ``__main__`` (the entry
    point is `execute_run`, its arguments are abm's own types), so the child is started while
    ``sys.modules["__main__"]`` is a bare stand-in, which multiprocessing does not re-run.
    """

    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        with _main_hidden():
            return multiprocessing.context.SpawnProcess._Popen(process_obj)


class _MainSwap:
    """Serializes the swaps of ``sys.modules["__main__"]`` (two pools may start at once)."""

    lock = threading.RLock()


@contextmanager
def _main_hidden() -> Iterator[None]:
    """Make ``sys.modules["__main__"]`` a bare stand-in for the block: children skip it."""
    with _MainSwap.lock:
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            sys.modules["__main__"] = main


class _ScriptFreeContext(multiprocessing.context.SpawnContext):
    """The "spawn" start method with `_ScriptFreeProcess` processes."""

    Process = _ScriptFreeProcess


def local_pool(workers: int, fresh_process: bool) -> cf.ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes (one per run with ``fresh_process``)."""
    # "spawn" explicitly: Mesa forces it at import anyway, and fork is unsafe with threads; its
    # processes skip the user's script, so run_sweep works from a script with no main guard.
    return cf.ProcessPoolExecutor(
        max_workers=max(1, workers),
        mp_context=_ScriptFreeContext(),
        initializer=_init_worker,
        max_tasks_per_child=1 if fresh_process else None,
    )


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@contextmanager
def dask_executor(
    scheduler: str | None = None, local_workers: int | None = None, *, timeout_s: float = 60.0
) -> Iterator[tuple[cf.Executor, int]]:
    """Connect to a Dask scheduler, or start a local cluster; yield ``(executor, n_workers)``.

    Args:
        scheduler: A scheduler address such as ``tcp://host:8786``.
        local_workers: Instead, start a ``LocalCluster`` of this many single-threaded worker
            processes.
        timeout_s: How long to wait for the scheduler, and for a first worker.

    Raises:
        SweepError: If dask.distributed is not installed, not exactly one of the two sources is
            given, the scheduler is unreachable or has no worker within ``timeout_s``, or a
            worker runs more than one thread.
    """
    if (scheduler is None) == (local_workers is None):
        raise SweepError("give exactly one of a Dask scheduler address and a local worker count")
    try:
        from distributed import Client, LocalCluster  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        raise SweepError("Dask is not installed: pip install 'abm-microstructure[dist]'") from exc
    cluster = None
    try:
        if local_workers is not None:
            with _main_hidden():  # its worker processes start now, and skip the caller's script
                cluster = LocalCluster(
                    n_workers=local_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
            client = Client(cluster)
        else:
            client = Client(scheduler, timeout=timeout_s)
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise SweepError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from exc
    try:
        try:
            client.wait_for_workers(1, timeout=timeout_s)
        except TimeoutError as exc:
            raise SweepError(
                f"no Dask worker joined {scheduler} within {timeout_s:g} s; start some with "
                f"`dask worker {scheduler} --nthreads 1 --nworkers N`"
            ) from exc
        threads = client.nthreads()
        crowded = sorted(address for address, n in threads.items() if n > 1)
        if crowded:
            raise SweepError(
                f"Dask workers {', '.join(crowded)} run several threads; start them with "
                "`--nthreads 1 --nworkers N`: pure-Python runs gain nothing from threads, and "
                "Mesa 3.3's model registry is not thread-safe"
            )
        yield client.get_executor(pure=False), len(threads)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
