"""Wall time of a sample of a national study's catchment runs, in this process.

A national study is thousands of small catchment runs, where the work outside the event
loop (demand, plan, records, measures) weighs more than in a station-year of a shipped
config.  This draws a fixed sample of the tasks a stored national experiment ran (their
resolved configs are in its ``runs/configs``), and times ``run_task`` on each, one
after the other, after a garbage collection (the loaded configs frozen out of it, as a
pool worker holds one at a time)::

    python benchmarks/national_tasks.py results/national_scale_up/runs --sample 300

With ``--store`` each task is also stored as a pool process stores it (its task folder
and, for a first replication, its resolved config, in a temporary folder), and
``--collector`` leaves the cyclic garbage collector as a pool process has it: the
imported modules' objects tracked, none frozen.

To compare two versions of the engine, run it alternately from each checkout, e.g.
``PYTHONPATH=/tmp/old python benchmarks/national_tasks.py ...`` from a worktree of the
older commit, and quote the median of the per-pair ratios.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import tempfile
import time
from pathlib import Path

import yaml

from sim.config.schema import scenario_from_dict
from sim.pipeline.store import run_and_store
from sim.pipeline.tasks import Task, run_task


def sample_tasks(runs: Path, sample: int, seed: int) -> list[Task]:
    """``sample`` tasks of the stored experiment in ``runs``, drawn with ``seed``."""
    manifest = json.loads((runs / "manifest.json").read_text(encoding="utf-8"))
    chosen = random.Random(seed).sample(sorted(manifest["tasks"]), sample)
    tasks = []
    for task_id in chosen:
        point, rest = task_id.split("-", 1)
        label, replication = rest.rsplit("-r", 1)
        text = (runs / "configs" / f"{point}-{label}.yaml").read_text(encoding="utf-8")
        scenario = scenario_from_dict(yaml.safe_load(text), task_id)
        tasks.append(Task(task_id, int(point[1:]), label, int(replication), scenario))
    return tasks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, help="a national study's runs/ folder")
    parser.add_argument("--sample", type=int, default=300, help="tasks timed (default 300)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sample (default 1)")
    parser.add_argument("--store", action="store_true", help="store each task as a pool does")
    parser.add_argument(
        "--collector", action="store_true", help="no objects frozen out of the collector"
    )
    args = parser.parse_args(argv)
    tasks = sample_tasks(args.runs, args.sample, args.seed)
    gc.collect()
    if not args.collector:
        gc.freeze()
    with tempfile.TemporaryDirectory() as scratch:
        tasks_dir = Path(scratch) / "tasks"
        tasks_dir.mkdir()
        (Path(scratch) / "configs").mkdir()
        started = time.perf_counter()
        for task in tasks:
            if args.store:
                run_and_store(tasks_dir, task)
            else:
                run_task(task)
        seconds = time.perf_counter() - started
    each = 1000 * seconds / len(tasks)
    print(f"{len(tasks)} catchment runs in {seconds:.2f} s ({each:.1f} ms each)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
