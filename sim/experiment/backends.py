"""Where the tasks of an experiment run: in this process, in a local process pool, or
on a Dask cluster.  Every backend runs the job it is given on each task and hands each
result back as soon as it is finished; the results are identical whichever backend ran
them.  The job runs :func:`sim.experiment.tasks.run_task`; on this machine it also
stores the task (``stores_in_workers``), so that many workers are not held up by one
parent process writing their files.

Nothing here distributes work by itself: the local pool is
``concurrent.futures.ProcessPoolExecutor`` and the cluster is ``dask.distributed``.
"""

from __future__ import annotations

import signal
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from sim.config import ConfigError
from sim.experiment.store import NUMERIC_VERSIONS
from sim.experiment.tasks import Task
from sim.store import environment_versions

__all__ = ["DaskBackend", "Job", "LocalBackend", "OnDone", "OnFailed"]

Job = Callable[[Task], Any]
"""What runs on each task: a picklable function of the task."""
OnDone = Callable[[Task, Any], None]
OnFailed = Callable[[Task, str], None]


def _ignore_interrupt() -> None:
    # Pool workers leave Ctrl-C to the parent, which stops handing out tasks and keeps
    # those already stored; otherwise every worker would print its own traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class LocalBackend:
    """Tasks on this machine: in this process when ``workers`` is 1, otherwise in a
    pool of ``workers`` processes."""

    stores_in_workers = True
    """The workers see the results folder, so each can store the tasks it ran."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ConfigError(f"--workers {workers}: must be at least 1")
        self.workers = workers

    @property
    def description(self) -> str:
        return f"local process pool, {self.workers} worker(s)"

    def run(self, tasks: Sequence[Task], job: Job, on_done: OnDone, on_failed: OnFailed) -> None:
        if self.workers == 1 or len(tasks) <= 1:
            for task in tasks:
                try:
                    output = job(task)
                except Exception:
                    on_failed(task, traceback.format_exc())
                    continue
                on_done(task, output)
            return
        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(tasks)), initializer=_ignore_interrupt
        )
        # Submit in waves of a few tasks per worker, not all at once: an interrupted run
        # then has little to cancel, and a huge design does not sit in memory as futures.
        queue = list(reversed(tasks))
        running: dict[Future[Any], Task] = {}
        try:
            while queue or running:
                while queue and len(running) < 4 * self.workers:
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
                "a worker process of the local pool died (out of memory, or killed)"
            ) from None
        finally:
            for future in running:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)


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
        self.address = address
        try:
            self.client = Client(address, timeout="20s")
        except OSError as error:
            raise ConfigError(
                f"--scheduler {address}: cannot reach a Dask scheduler there ({error})"
            ) from None
        self._check_versions()

    @property
    def description(self) -> str:
        return f"Dask cluster at {self.address}"

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

    def run(self, tasks: Sequence[Task], job: Job, on_done: OnDone, on_failed: OnFailed) -> None:
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


def make_backend(workers: int | None, scheduler: str | None) -> Any:
    """The backend the command line asks for: a Dask cluster when given a scheduler
    address, else the local pool (all cores unless ``workers`` says otherwise)."""
    from sim.runner import default_jobs

    if scheduler is not None:
        if workers is not None:
            raise ConfigError(
                "--workers applies to the local pool; with --scheduler the cluster's own "
                "workers run the tasks"
            )
        return DaskBackend(scheduler)
    return LocalBackend(default_jobs() if workers is None else workers)
