"""Running the same bot job in two real processes at once, as two replicas of the bot would."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

REPLICAS = ("replica-a", "replica-b")


def run_replicas(target: Callable[..., None], *args: Any, timeout: float = 180) -> dict[str, Any]:
    """Start `target(*args, start_barrier, results, name)` in each replica (spawned, so nothing is
    shared but the database and the network), wait for both, and return what each reported."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(REPLICAS))
    with context.Manager() as manager:
        results = manager.dict()
        processes = [context.Process(target=target, args=(*args, start, results, name)) for name in REPLICAS]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=timeout)
            assert process.exitcode == 0, f"{process.name} exited with {process.exitcode}"
        return dict(results)
