"""Where tasks run: in this process, in a local process pool, or on a Dask cluster.

Every parallel computation of the project goes through here: the runs of an experiment
(and so of ``station-sim run``), the replications of the validation table and of the
warm-up check.  A backend runs a *job* (a picklable function) on each task and hands
each result back as soon as it is finished; results are identical whichever backend
ran them, because each task carries its own seed and replication.  For an experiment
on this machine the job also stores its task (``stores_in_workers``), so that many
workers are not held up by one parent process writing their files.

Nothing here distributes work by itself: the local pool is
``concurrent.futures.ProcessPoolExecutor`` and the cluster is ``dask.distributed``.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

from sim.config.errors import ConfigError
from sim.pipeline.provenance import NUMERIC_VERSIONS, environment_versions

__all__ = [
    "Backend",
    "DaskBackend",
    "LocalBackend",
    "default_jobs",
    "make_backend",
    "run_all",
]

Job = Callable[[Any], Any]
"""What runs on each task: a picklable function of the task."""
OnDone = Callable[[Any, Any], None]
OnFailed = Callable[[Any, str], None]


def default_jobs() -> int:
    """Processes to use by default: the cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Backend(Protocol):
    """What runs the tasks."""

    stores_in_workers: bool
    description: str

    def run(self, tasks: Sequence[Any], job: Job, on_done: OnDone, on_failed: OnFailed) -> None:
        """Run ``job`` on every task; call ``on_done(task, result)`` or
        ``on_failed(task, traceback)`` for each as it finishes."""

    def close(self) -> None:
        """Release what the backend holds."""


def _pool_worker_start(parent: int) -> None:
    # Ctrl-C is the parent's to handle: it stops handing out tasks and keeps those
    # already stored; otherwise every worker would print its own traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker whose parent was killed (SIGKILL leaves it no chance to stop its pool)
    # must not live on holding memory: it exits once it is orphaned.
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


class LocalBackend:
    """Tasks on this machine: in this process when ``jobs`` is 1, otherwise in a pool of
    ``jobs`` processes."""

    stores_in_workers = True
    """The workers see the results folder, so each can store the tasks it ran."""

    def __init__(self, jobs: int) -> None:
        if jobs < 1:
            raise ConfigError(f"--jobs {jobs}: must be at least 1")
        self.jobs = jobs

    @property
    def description(self) -> str:
        if self.jobs == 1:
            return "this process (--jobs 1)"
        return f"a local pool of {self.jobs} processes"

    def run(self, tasks: Sequence[Any], job: Job, on_done: OnDone, on_failed: OnFailed) -> None:
        if self.jobs == 1 or len(tasks) <= 1:
            for task in tasks:
                try:
                    output = job(task)
                except Exception:
                    on_failed(task, traceback.format_exc())
                    continue
                on_done(task, output)
            return
        pool = ProcessPoolExecutor(
            max_workers=min(self.jobs, len(tasks)),
            initializer=_pool_worker_start,
            initargs=(os.getpid(),),
        )
        # Submit in waves of a few tasks per process, not all at once: an interrupted run
        # then has little to cancel, and a huge design does not sit in memory as futures.
        queue = list(reversed(tasks))
        running: dict[Future[Any], Any] = {}
        try:
            while queue or running:
                while queue and len(running) < 4 * self.jobs:
                    task = queue.pop()
                    running[pool.submit(job, task)] = task
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = running.pop(future)
                    try:
                        output = future.result()
                    except BrokenProcessPool:
                        raise
                    except Exception as error:
                        on_failed(task, _describe(error))
                        continue
                    on_done(task, output)
        except BrokenProcessPool:
            raise RuntimeError(
                "a process of the local pool died (out of memory, or killed)"
            ) from None
        finally:
            for future in running:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        """Nothing to release: the pool lives as long as one :meth:`run`."""


class DaskBackend:
    """Tasks on a Dask cluster reached at a scheduler address (``tcp://host:8786``).

    The workers must run the same versions of station-sim and of the numerical
    libraries as this machine, or their numbers could differ: this is checked first.
    """

    stores_in_workers = False
    """The workers need no shared file system: they send their outputs back here."""

    def __init__(self, address: str) -> None:
        try:
            from dask.distributed import Client
        except ImportError:
            raise ConfigError(
                "--scheduler needs dask.distributed; install it with pip install -e '.[dask]'"
            ) from None
        if "://" not in address and ":" not in address:
            raise ConfigError(
                f"--scheduler {address!r}: not a scheduler address; give one like tcp://host:8786"
            )
        self.address = address
        try:
            self.client = Client(address, timeout="20s")
        except (OSError, ValueError, TypeError) as error:
            raise ConfigError(
                f"--scheduler {address}: cannot reach a Dask scheduler there ({error})"
            ) from None
        self._check_versions()

    @property
    def description(self) -> str:
        return f"the Dask cluster at {self.address}"

    def _check_versions(self) -> None:
        ours = environment_versions()
        theirs = self.client.run(environment_versions)
        for worker, versions in theirs.items():
            changed = [
                f"{k} {versions.get(k)} (here {ours[k]})"
                for k in NUMERIC_VERSIONS
                if versions.get(k) != ours[k]
            ]
            if changed:
                self.close()
                raise ConfigError(
                    f"--scheduler {self.address}: worker {worker} runs {', '.join(changed)}; "
                    "install the same versions on every worker so that results match"
                )

    def run(self, tasks: Sequence[Any], job: Job, on_done: OnDone, on_failed: OnFailed) -> None:
        from dask.distributed import as_completed

        # pure=False gives each submission a fresh key: a task id is only unique within
        # one experiment, and Dask must never hand back another experiment's result.
        futures = {self.client.submit(job, task, pure=False): task for task in tasks}
        try:
            for future in as_completed(futures):
                task = futures[future]
                if future.status == "error":
                    on_failed(task, _describe(future.exception()))
                    continue
                on_done(task, future.result())
        finally:
            self.client.cancel(list(futures))

    def close(self) -> None:
        self.client.close()


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    return "".join(traceback.format_exception(type(error), error, error.__traceback__)).strip()


def make_backend(jobs: int | None, scheduler: str | None) -> Backend:
    """The backend the command line asks for: a Dask cluster when given a scheduler
    address, else the local pool (all cores unless ``jobs`` says otherwise)."""
    if scheduler is not None:
        if jobs is not None:
            raise ConfigError(
                "--jobs sets the processes of the local pool; with --scheduler the "
                "cluster's own workers run the tasks"
            )
        return DaskBackend(scheduler)
    return LocalBackend(default_jobs() if jobs is None else jobs)


@dataclass(frozen=True)
class _Numbered:
    """A job run on ``(k, task)`` pairs, so that results can be put back in order."""

    job: Job

    def __call__(self, numbered: tuple[int, Any]) -> Any:
        return self.job(numbered[1])


def run_all(
    backend: Backend,
    tasks: Sequence[Any],
    job: Job,
    on_done: Callable[[], None] | None = None,
) -> list[Any]:
    """``job`` of every task, in task order, for computations that keep their results in
    memory (the validation table, the warm-up check); a failure is raised at the end."""
    results: dict[int, Any] = {}
    failures: list[str] = []

    def done(numbered: tuple[int, Any], output: Any) -> None:
        results[numbered[0]] = output
        if on_done is not None:
            on_done()

    def failed(numbered: tuple[int, Any], error: str) -> None:
        failures.append(error)

    backend.run(list(enumerate(tasks)), _Numbered(job), done, failed)
    if failures:
        raise RuntimeError(f"{len(failures)} task(s) failed; the first:\n{failures[0]}")
    return [results[k] for k in range(len(tasks))]
