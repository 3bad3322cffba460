"""What the simulated Slack saw, read from its call record (`ApiCall.at` is real time when the
simulator has no clock of its own), and the floor Slack's posting pace sets."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.devkit.simulator import ApiCall, SlackSimulator

CASE_EVENT = "closeloop_case"  # the metadata bot/slack/case_message.py puts on a case message
POST_RATE = 1.0  # chat.postMessage per second per channel, after a burst of
POST_BURST = 5


@dataclass(frozen=True)
class Post:
    case_id: int
    channel: str
    ts: str
    at: float


def _case_id(call: ApiCall) -> int | None:
    message = call.response.get("message") or {}
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != CASE_EVENT or message.get("thread_ts") not in (None, message.get("ts")):
        return None
    value = (metadata.get("event_payload") or {}).get("case_id")
    return value if isinstance(value, int) else None


def case_posts(calls: Iterable[ApiCall]) -> dict[int, list[Post]]:
    """Top-level case messages Slack accepted, by the case id in their metadata (a double shows
    as two)."""
    found: dict[int, list[Post]] = defaultdict(list)
    for call in calls:
        if call.method != "chat.postMessage" or call.http_status != 200 or not call.response.get("ok"):
            continue
        case_id = _case_id(call)
        if case_id is not None:
            found[case_id].append(Post(case_id, call.response["channel"], call.response["ts"], call.at))
    return dict(found)


def first_edit(calls: Iterable[ApiCall], channel: str, ts: str, after: float) -> float | None:
    """When Slack first accepted a `chat.update` of the message `ts` at or after `after`."""
    times = [
        call.at
        for call in calls
        if call.method == "chat.update"
        and call.http_status == 200
        and call.response.get("ok")
        and call.params.get("channel") == channel
        and call.params.get("ts") == ts
        and call.at >= after
    ]
    return min(times, default=None)


def refusals(simulator: SlackSimulator) -> dict[str, int]:
    """Answers other than a plain 200 ok, by method and error (429s included)."""
    counted: dict[str, int] = defaultdict(int)
    for call in simulator.calls:
        if call.http_status != 200 or not call.response.get("ok"):
            counted[f"{call.method} {call.http_status} {call.response.get('error', '')}".strip()] += 1
    return dict(counted)


def ideal_post_times(
    arrivals: Sequence[float], *, rate: float = POST_RATE, burst: int = POST_BURST, start: float
) -> list[float]:
    """When a perfect poster would send posts arriving at `arrivals` into one channel: each as
    soon as it exists and Slack's bucket (full at `start`, `burst` tokens, `rate` a second) has
    a token. The last of them is the floor no bot can beat."""
    tokens, clock, sent = float(burst), start, []
    for arrival in sorted(arrivals):
        now = max(arrival, sent[-1] if sent else start)
        tokens = min(float(burst), tokens + (now - clock) * rate)
        if tokens < 1.0:
            now += (1.0 - tokens) / rate
            tokens = 1.0
        tokens -= 1.0
        clock = now
        sent.append(now)
    return sent
