"""Measurements against a running `closeloop run`: intake, posting, clicks. Each phase gets a
fresh simulated Slack (so Slack's rate buckets start full) and a fresh bot process."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bot.devkit.bench.database import BenchDatabase
from bot.devkit.bench.load import DEPARTMENTS, LoadResult, detractor, run_load
from bot.devkit.bench.policy import CLICKERS, seed
from bot.devkit.bench.process import INTAKE_TOKEN, BotProcess, wait_until
from bot.devkit.bench.report import Figure, Report, percentile
from bot.devkit.bench.slack_side import POST_BURST, Post, case_posts, first_edit, ideal_post_times, refusals
from bot.devkit.simulator import DriverResult, SlackSimulator
from storage.migrate import upgrade
from storage.models import Case
from storage.repository import Repository

CLAIM_ACTION = "case_claim"  # bot/slack/actions.py ActionId.CLAIM


@dataclass
class Bench:
    store: BenchDatabase
    policy_path: Path
    workdir: Path
    report: Report
    peak_rss_kib: int = 0

    @contextmanager
    def running(self, name: str) -> Iterator[tuple[SlackSimulator, BotProcess]]:
        """A simulated Slack with the simulator's default limits, and the bot against it."""
        simulator = SlackSimulator(bot_token="xoxb-bench", signing_secret=secrets.token_hex(16), strict=False)
        simulator.start()
        seed(simulator)
        bot = BotProcess(simulator, self.store.url, self.policy_path, self.workdir, name=name)
        try:
            upgrade(self.store.url)  # a no-op, unless the code was updated under a long run
            bot.start()
            yield simulator, bot
        finally:
            bot.stop()
            self.peak_rss_kib = max(self.peak_rss_kib, bot.peak_rss_kib)
            simulator.stop()
            self.report.problems += [
                f"{name}: the bot logged {line[:300]}" for line in bot.errors_logged()[:5]
            ]
            self.report.problems += [f"{name}: Slack would reject {v}" for v in simulator.violations[:5]]

    def cases_stored(self) -> int:
        with self.store.db.transaction() as session:
            return session.scalar(select(func.count()).select_from(Case)) or 0


def _ms(seconds: float) -> float:
    return seconds * 1000


def intake(bench: Bench, seconds: float) -> None:
    """16 survey tools posting detractors as fast as answers come, from two processes."""
    with bench.running("intake") as (simulator, bot):
        cpu_before = bot.cpu_seconds()
        result = run_load(bot.url, INTAKE_TOKEN, prefix="intake", processes=2, threads=8, seconds=seconds)
        bot_cpu = bot.cpu_seconds() - cpu_before
        posted, allowed = _posted_and_allowed(result, case_posts(simulator.calls), seconds)
    wall = result.wall_seconds or seconds
    accepted = [lat for lat, status in zip(result.latency, result.status, strict=True) if status == 202]
    if result.failures():
        bench.report.problems.append(f"intake: answers other than 202: {result.failures()}")
    rate = len(accepted) / wall
    p99 = _ms(percentile(accepted, 99))
    bench.report.add(
        Figure("intake, 16 clients: accepted", rate, "/s", "≥ 1,500/s", rate >= 1500),
        Figure("intake, 16 clients: p50", _ms(percentile(accepted, 50)), "ms"),
        Figure("intake, 16 clients: p99", p99, "ms", "< 50 ms", p99 < 50),
        Figure(
            "intake: CPU of the load generator",
            100 * result.cpu_seconds / wall,
            "%",
            note="of one core (the machine's cores are shared with the bot and PostgreSQL)",
        ),
        Figure("intake: CPU of the bot", 100 * bot_cpu / (wall + 1.5), "%", note="of one core"),
        Figure(
            "posting during that intake: share of allowance",
            100 * posted / allowed if allowed else float("nan"),
            "%",
            "≥ 90 %",
            posted >= 0.9 * allowed,
            note=f"{posted / seconds:.2f} posts/s of the {allowed / seconds:.2f}/s Slack allowed",
        ),
    )


def _posted_and_allowed(result: LoadResult, posts: dict[int, list[Post]], seconds: float) -> tuple[int, int]:
    """Case messages posted within the load's window, and how many a perfect poster could have
    posted then (each channel: a burst of 5, then 1/s, never before its case existed)."""
    start = min(result.sent)
    end = start + seconds
    arrivals = result.accepted_by_department().values()
    ideal = [t for times in arrivals for t in ideal_post_times(times, start=start)]
    allowed = sum(1 for t in ideal if t <= end)
    achieved = sum(1 for ps in posts.values() for p in ps if start <= p.at <= end)
    return achieved, allowed


def _posting_problems(
    bench: Bench, name: str, posts: dict[int, list[Post]], expected: int
) -> tuple[int, int]:
    lost = max(0, expected - len(posts))
    doubled = sum(len(p) - 1 for p in posts.values())
    if lost:
        bench.report.problems.append(f"{name}: {lost} case messages never reached Slack")
    if doubled:
        bench.report.problems.append(f"{name}: {doubled} case messages were posted twice")
    return lost, doubled


def burst(bench: Bench, count: int) -> None:
    """`count` detractors at once over five channels: how close to Slack's floor they all get out."""
    with bench.running("burst") as (simulator, bot):
        result = run_load(bot.url, INTAKE_TOKEN, prefix="burst", processes=1, threads=8, requests=count)
        start = min(result.sent)
        arrivals = result.accepted_by_department()
        floor_end = max(ideal_post_times(times, start=start)[-1] for times in arrivals.values() if times)
        stored = bench.cases_stored()
        wait_until(
            lambda: len(case_posts(simulator.calls)) >= stored,
            timeout=2 * (floor_end - start) + 60,
            interval=0.2,
        )
        time.sleep(1.0)  # a double post would show up now
        posts = case_posts(simulator.calls)
        refused = refusals(simulator)
    if result.failures():
        bench.report.problems.append(f"burst: answers other than 202: {result.failures()}")
    lost, doubled = _posting_problems(bench, "burst", posts, max(stored, count))
    last = max((p.at for ps in posts.values() for p in ps), default=float("nan"))
    total, floor = last - start, floor_end - start
    name = f"burst of {count:,} over 5 channels"
    bench.report.add(
        Figure(
            f"{name}: all in Slack",
            total,
            "s",
            note=f"floor {floor:.1f} s; Slack refused: {refused or 'nothing'}",
        ),
        Figure(f"{name}: vs the floor", total / floor, "×", "≤ 1.05×", total / floor <= 1.05),
        Figure(f"{name}: lost", lost, "", "0", lost == 0),
        Figure(f"{name}: doubled", doubled, "", "0", doubled == 0),
    )


def sustained(bench: Bench, seconds: float, rate: float) -> None:
    """Intake at `rate`/s over five channels, faster than Slack lets them out: the bot should post
    as fast as Slack allows while the intake goes on."""
    with bench.running("sustained") as (simulator, bot):
        result = run_load(
            bot.url, INTAKE_TOKEN, prefix="steady", processes=1, threads=4, seconds=seconds, rate=rate
        )
        posts = case_posts(simulator.calls)
    start = min(result.sent)
    end = start + seconds
    ideal = [
        t for times in result.accepted_by_department().values() for t in ideal_post_times(times, start=start)
    ]
    allowed = sum(1 for t in ideal if t <= end)
    achieved = sum(1 for ps in posts.values() for p in ps if start <= p.at <= end)
    share = 100 * achieved / allowed if allowed else float("nan")
    bench.report.add(
        Figure(
            f"posting while intake continues at {rate:g}/s",
            achieved / seconds,
            "posts/s",
            note=f"Slack allowed {allowed / seconds:.2f}/s ({rate:g} cases/s arriving over 5 channels, "
            f"{POST_BURST} at once then 1/s each, over {seconds:g} s)",
        ),
        Figure(f"posting while intake continues at {rate:g}/s: share", share, "%", "≥ 90 %", share >= 90),
    )


def clicks(bench: Bench, label: str) -> None:
    """20 people click Claim at once on 20 fresh cases whose messages are posted: the ack (HTTP
    answer), and when Slack receives the edit of each message."""
    with bench.running(f"clicks at {label}") as (simulator, bot):
        statuses = [bot.post_feedback(detractor(f"click-{label}-{i}", DEPARTMENTS[i % 5])) for i in range(20)]
        if any(status != 202 for status in statuses):
            bench.report.problems.append(f"clicks at {label}: the intake answered {statuses}")
        wait_until(lambda: len(case_posts(simulator.calls)) >= 20, timeout=60, interval=0.05)
        posts = [ps[0] for _, ps in sorted(case_posts(simulator.calls).items())][:20]
        fresh_ids = {p.case_id for p in posts}
        time.sleep(0.5)  # the outbox is done with these posts
        results: list[tuple[float, DriverResult] | None] = [None] * len(posts)
        barrier = threading.Barrier(len(posts))

        def click(number: int, post: Post) -> None:
            driver = simulator.driver(f"{bot.url}/slack/events")
            barrier.wait()
            sent = time.time()
            results[number] = (sent, driver.click(CLICKERS[number], post.channel, post.ts, CLAIM_ACTION))

        people = [threading.Thread(target=click, args=(n, p)) for n, p in enumerate(posts)]
        for person in people:
            person.start()
        for person in people:
            person.join()
        answered = [r for r in results if r is not None]

        def edited() -> list[float | None]:
            calls = simulator.calls
            return [first_edit(calls, p.channel, p.ts, r[0]) for p, r in zip(posts, answered, strict=True)]

        wait_until(lambda: None not in edited(), timeout=60, interval=0.05)
        edits = edited()
    owners = {
        bench_case.id: bench_case.owner_id
        for bench_case in map(Repository(bench.store.db).get_case, fresh_ids)
    }
    claimed = sum(1 for owner in owners.values() if owner is not None)
    refused_acks = [r.status for _, r in answered if not r.ok and not r.timed_out]
    if len(posts) < 20 or refused_acks or claimed != len(posts):
        bench.report.problems.append(
            f"clicks at {label}: {len(posts)} cases posted, answers {refused_acks or 'ok'}, {claimed} claimed"
        )
    acks = [_ms(r.elapsed if not r.timed_out else 3.0) for _, r in answered]
    lags = [e - sent for e, (sent, _) in zip(edits, answered, strict=True) if e is not None]
    missing = sum(1 for e in edits if e is None)
    edit_p99 = percentile(lags, 99) if not missing else float("inf")
    name = f"Claim, 20 at once, {label} cases"
    bench.report.add(
        Figure(f"{name}: ack p50", percentile(acks, 50), "ms"),
        Figure(f"{name}: ack p99", percentile(acks, 99), "ms", "≤ 50 ms", percentile(acks, 99) <= 50),
        Figure(f"{name}: edit after click p50", percentile(lags, 50), "s"),
        Figure(
            f"{name}: edit after click p99",
            edit_p99,
            "s",
            "≤ 1 s",
            edit_p99 <= 1.0,
            note=f"{missing} edits not seen within 60 s" if missing else "",
        ),
    )
