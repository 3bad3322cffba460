"""Benchmark: a burst of survey responses to one department, and one to another, against a real
`closeloop run` and the simulated Slack (which enforces Slack's per-channel rate, 429 and all).

    .venv/bin/python -m tests.benchmarks.burst [--responses 15]

Prints when the other department's case appeared (it should not wait behind the burst), when
the burst was all in Slack (Slack allows five at once, then about one a second), whether the
burst kept its order, and any answer from Slack other than 200. Not a test: timings vary by
machine; run it before and after a change to the outbox. `closeloop bench` measures the same
over five channels, and the rest of issue 9's figures; this one is the quick look at ordering.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bot.devkit.bench.process import BotProcess, wait_until
from bot.devkit.bench.slack_side import case_posts
from bot.devkit.local_stack import seed_workspace
from bot.devkit.simulator import SlackSimulator
from bot.policy_file import example_policy_path, load_policy
from storage.migrate import upgrade
from tests.factories import payload


def posted_in(simulator: SlackSimulator, channel: str) -> list[int]:
    """Case ids of the case messages in `channel`, in the order Slack took them, repeats included."""
    posts = sorted((p for ps in case_posts(simulator.calls).values() for p in ps), key=lambda p: p.at)
    return [p.case_id for p in posts if p.channel == channel]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=15, help="responses in the burst (default 15)")
    burst = parser.parse_args().responses
    simulator = SlackSimulator(bot_token="xoxb-benchmark", signing_secret="benchmark-secret")
    with simulator, tempfile.TemporaryDirectory() as workdir:
        seed_workspace(simulator, load_policy(example_policy_path()))
        database_url = f"sqlite:///{workdir}/benchmark.db"
        upgrade(database_url)
        bot = BotProcess(simulator, database_url, example_policy_path(), Path(workdir), name="benchmark")
        bot.start()
        try:
            started = time.monotonic()
            for number in range(burst):
                bot.post_feedback(payload(id=f"burst-{number}", comment="Export fails."))
            bot.post_feedback(payload(id="other", comment="Charged twice, refund please."))
            wait_until(lambda: len(posted_in(simulator, "C0BILLING")) == 1, timeout=120, interval=0.01)
            other = time.monotonic() - started
            wait_until(lambda: len(posted_in(simulator, "C0SUPPORT")) == burst, timeout=300, interval=0.01)
            everything = time.monotonic() - started
        finally:
            bot.stop()
        posted = posted_in(simulator, "C0SUPPORT")
        refused = [
            f"{call.method} {call.params.get('channel')}: {call.http_status}"
            for call in simulator.calls
            if call.http_status != 200
        ]
        print(f"burst of {burst} in #support, 1 response in #billing")
        print(f"  #billing case in Slack after  {other:6.2f} s")
        print(f"  whole burst in Slack after    {everything:6.2f} s  (floor: {max(burst - 5, 0)} s)")
        print(f"  burst in order:               {'yes' if posted == sorted(posted) else posted}")
        print(f"  answers other than 200:       {refused or 'none'}")


if __name__ == "__main__":
    main()
