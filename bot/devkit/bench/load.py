"""The intake load generator: survey tools posting responses over keep-alive HTTP connections.

It runs in child processes of its own (`python -m bot.devkit.bench.load CONFIG`), so its threads
do not share a GIL with the bench (which is also the simulated Slack), and it reports the CPU it
used: on a small machine the load generator competes with the bot for the same cores.
"""

from __future__ import annotations

import http.client
import json
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# The bench policy's departments (bot/devkit/bench/policy.py routes each by its tag). Defined
# here, in the light module the load generator's child processes import, not there.
DEPARTMENTS = tuple(f"dept{k}" for k in range(1, 6))


def detractor(external_id: str, department: str) -> dict[str, Any]:
    """A survey response that opens a high-priority case in `department` (routed by its tag)."""
    return {
        "id": external_id,
        "survey": "nps",
        "score": 2,
        "comment": "The export keeps failing and nobody answers my tickets.",
        "customer": {"id": f"cus-{external_id}", "name": "Dana Scully", "account": "Acme Corp"},
        "tags": [department],
        "touchpoint": "support",
        "language": "en",
    }


@dataclass
class LoadResult:
    """Every request: when it was sent (wall clock), how long the answer took, and its status
    (None: no answer). `cpu_seconds` is what the generator's processes used while sending."""

    number: list[int] = field(default_factory=list)
    sent: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    status: list[int | None] = field(default_factory=list)
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0

    @property
    def accepted(self) -> int:
        return sum(1 for s in self.status if s == 202)

    def failures(self) -> dict[str, int]:
        return {str(s): n for s, n in Counter(self.status).items() if s != 202}

    def accepted_by_department(self) -> dict[str, list[float]]:
        """When each accepted response's case existed (its answer time), by department."""
        found: dict[str, list[float]] = {name: [] for name in DEPARTMENTS}
        for g, sent, latency, status in zip(self.number, self.sent, self.latency, self.status, strict=True):
            if status == 202:
                found[DEPARTMENTS[g % len(DEPARTMENTS)]].append(sent + latency)
        return found


def run_load(
    url: str,
    token: str,
    *,
    prefix: str,
    processes: int,
    threads: int,
    seconds: float | None = None,
    requests: int | None = None,
    rate: float | None = None,
) -> LoadResult:
    """`processes` × `threads` clients, for `seconds` or until `requests` in all were sent; `rate`
    (requests per second in all) paces them, else each sends as fast as answers come. Request
    number g (over all clients) goes to department g % 5, so departments get equal shares."""
    start_at = time.time() + 1.5  # let every child import and connect first
    config = {
        "url": url,
        "token": token,
        "prefix": prefix,
        "threads": threads,
        "clients": processes * threads,
        "start_at": start_at,
        "stop_at": start_at + seconds if seconds else None,
        "requests": requests,
        "rate": rate,
    }
    children = [
        subprocess.Popen(
            [sys.executable, "-m", __name__, json.dumps({**config, "process": number})],
            stdout=subprocess.PIPE,
        )
        for number in range(processes)
    ]
    result = LoadResult()
    for child in children:
        out, _ = child.communicate(timeout=(seconds or 0) + 600)
        if child.returncode != 0:
            raise RuntimeError(f"the load generator failed with exit code {child.returncode}")
        part = json.loads(out)
        result.number += part["number"]
        result.sent += part["sent"]
        result.latency += part["latency"]
        result.status += part["status"]
        result.cpu_seconds += part["cpu_seconds"]
        result.wall_seconds = max(result.wall_seconds, part["wall_seconds"])
    return result


Record = tuple[int, float, float, int | None]  # request number, sent at, seconds to answer, status


def _client(config: dict[str, Any], client: int, out: list[Record]) -> None:
    parts = urlsplit(config["url"])
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {config['token']}"}
    clients, limit, rate = config["clients"], config["requests"], config["rate"]

    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)

    connection = connect()
    while time.time() < config["start_at"]:
        time.sleep(0.001)
    number = 0
    while True:
        g = number * clients + client  # this request's number among all clients'
        if limit is not None and g >= limit:
            break
        if config["stop_at"] is not None and time.time() >= config["stop_at"]:
            break
        if rate:
            slot = config["start_at"] + g / rate
            while (wait := slot - time.time()) > 0:
                time.sleep(min(wait, 0.05))
        body = json.dumps(detractor(f"{config['prefix']}-{g}", DEPARTMENTS[g % len(DEPARTMENTS)])).encode()
        sent, started = time.time(), time.perf_counter()
        status: int | None
        try:
            connection.request("POST", "/feedback", body, headers)
            response = connection.getresponse()
            response.read()
            status = response.status
            if response.will_close:
                connection.close()
                connection = connect()
        except (OSError, http.client.HTTPException):
            status = None
            connection.close()
            connection = connect()
        out.append((g, sent, time.perf_counter() - started, status))
        number += 1
    connection.close()


def main(argv: list[str]) -> int:
    config = json.loads(argv[1])
    base = config["process"] * config["threads"]
    records: list[list[Record]] = [[] for _ in range(config["threads"])]
    workers = [
        threading.Thread(target=_client, args=(config, base + t, records[t]), daemon=True)
        for t in range(config["threads"])
    ]
    for worker in workers:
        worker.start()
    while time.time() < config["start_at"]:
        time.sleep(0.001)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    for worker in workers:
        worker.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    flat = [record for part in records for record in part]
    json.dump(
        {
            "number": [r[0] for r in flat],
            "sent": [r[1] for r in flat],
            "latency": [r[2] for r in flat],
            "status": [r[3] for r in flat],
            "cpu_seconds": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "wall_seconds": time.monotonic() - started,
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
