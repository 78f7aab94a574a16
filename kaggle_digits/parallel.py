"""Independent trainings (cv folds) in worker processes: threads split on a CPU, one GPU each.

A fold trains the same way in a worker as in the main process — same rows, same seed — and
saves itself completely before it reports back, so Ctrl-C or a crashed worker loses only
the folds in progress. Workers are fresh ``spawn`` processes: each imports its Keras
backend after its thread count (and, with several GPUs, its GPU) is set, which only works
before the first import.

On a CPU, TensorFlow's sums depend on how many threads share them, so a fold's last digits
depend on its thread count, not on being run in parallel: ``--jobs 2`` on 2 cores trains
each fold with 1 thread, exactly like ``--jobs 1 --threads 1``.
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import os
import queue
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kaggle_digits import backend

if TYPE_CHECKING:
    import numpy as np

    from kaggle_digits.train import Progress, TrainConfig, TrainedModel

Event = tuple[str, tuple[Any, ...]]  # (method of a Progress, its arguments)


def threads_per_job(jobs: int) -> int:
    return max(1, backend.usable_cpus() // jobs)


def gpu_count() -> int:
    """NVIDIA GPUs visible to this process, asked of nvidia-smi (no framework import)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() not in ("", "-1")])
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                                timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(line.startswith("GPU ") for line in listed.stdout.splitlines())


def _start_worker(threads: int, gpus: int, slots: Any) -> None:
    """Runs first in every worker: its share of the CPU, and its own GPU when there are
    several (with one GPU, the workers share it, which pays for small models)."""
    backend.limit_threads(threads)
    if gpus > 1:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(slots.get() % gpus)


def run_in_workers(function: Callable[..., Any], tasks: Sequence[tuple[Any, ...]], *,
                   jobs: int, threads: int, on_event: Callable[[Event], None],
                   check_stop: Callable[[], None]) -> Iterator[Any]:
    """Call ``function(*task, events)`` for every task in ``jobs`` workers and yield the
    results as they finish. ``events`` is a queue on which a worker puts ``Event``s; they
    are handed to ``on_event`` here, in the main process. ``check_stop`` raises
    KeyboardInterrupt when the user asked to stop: then no new task starts, and the
    workers' own Ctrl-C ends the tasks in progress."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        events, slots = manager.Queue(), manager.Queue()
        for slot in range(jobs):
            slots.put(slot)
        pool = futures.ProcessPoolExecutor(jobs, mp_context=context,
                                           initializer=_start_worker,
                                           initargs=(threads, gpu_count(), slots))
        try:
            pending = {pool.submit(function, *task, events) for task in tasks}
            while pending:
                done, pending = futures.wait(pending, timeout=0.2,
                                             return_when=futures.FIRST_COMPLETED)
                _drain(events, on_event)
                for finished in done:
                    yield finished.result()
                check_stop()
            _drain(events, on_event)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)


def _drain(events: Any, on_event: Callable[[Event], None]) -> None:
    while True:
        try:
            on_event(events.get_nowait())
        except queue.Empty:
            return


def fit_members_in_workers(config: TrainConfig, pixels: np.ndarray, labels: np.ndarray, *,
                           jobs: int, folder: Path,
                           progress: Progress | None = None) -> TrainedModel:
    """A config's seeded members trained in ``jobs`` workers, each exactly as one process
    would train it among the others (`train.fit(member=…)`), then loaded back here: the
    same model, in less wall time when one fit cannot keep every core busy.
    ``progress.for_member(member)`` receives that member's events. Each member stays in
    ``folder`` as it finishes, and those already there are not trained again
    (`submit.fit_kept`)."""
    from kaggle_digits.train import kept_members, load_kept, member_count

    def forward(event: Event) -> None:
        member, method, args = event[1]
        if progress is not None:
            getattr(progress.for_member(member), method)(*args)

    missing = kept_members(config, folder)[1]
    tasks = [(config, pixels, labels, m, str(folder)) for m in missing]
    # threads as when no member was kept: a member's last digits follow its threads
    threads = threads_per_job(min(jobs, member_count(config)))
    for _ in run_in_workers(_fit_member, tasks, jobs=max(1, min(jobs, len(missing))),
                            threads=threads, on_event=forward, check_stop=lambda: None):
        pass
    return load_kept(config, folder)


class _MemberEvents:
    """A worker's `Progress`: every event goes to the main process, tagged with its member."""

    def __init__(self, events: Any, member: int) -> None:
        self.events, self.member, self.last = events, member, 0.0

    def __getattr__(self, method: str) -> Callable[..., None]:
        def put(*args: Any) -> None:
            if method == "batch_done":  # a few a second are plenty for a bar
                now = time.monotonic()
                if now - self.last < 0.2:
                    return
                self.last = now
            self.events.put(("member", (self.member, method, args)))
        return put


def _fit_member(config: TrainConfig, pixels: np.ndarray, labels: np.ndarray, member: int,
                folder: str, events: Any) -> int:
    from kaggle_digits.train import fit, keep_member

    trained = fit(config.preset, pixels, labels, config, member=member,
                  progress=_MemberEvents(events, member))  # type: ignore[arg-type]
    keep_member(Path(folder), member, trained)
    return member
