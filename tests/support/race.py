"""Real threads started at the same instant: how the concurrency tests make calls collide."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def race(count: int, action: Callable[[int], T]) -> list[T]:
    """Start `count` calls of action(i) at once (a barrier releases them together); their results."""
    barrier = threading.Barrier(count)

    def run(i: int) -> T:
        barrier.wait()
        return action(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))
