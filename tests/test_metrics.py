"""`GET /metrics`: what a running bot counts, in Prometheus's text format."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.support.steps import click, open_case


def scrape(stack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"{stack.server.url}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_clicks_are_timed_and_the_outbox_depth_is_read_from_the_database(stack):
    case = open_case(stack)
    before = scrape(stack)
    assert before[("closeloop_outbox_owed", (("kind", "case_message"),))] == 0
    click(stack, "U0ALICE", case, "case_claim")
    after = scrape(stack)
    clicks = ("closeloop_slack_ack_seconds_count", (("kind", "interaction"),))
    assert after[clicks] == before.get(clicks, 0) + 1
    # A case whose message was never posted (Slack refused it) is owed, and its age shows.
    stack.simulator.inject_fault("chat.postMessage", error="channel_not_found", times=1)
    open_case(stack, id="owed-1")
    owed = scrape(stack)
    assert owed[("closeloop_outbox_owed", (("kind", "case_message"),))] == 1
    assert ("closeloop_outbox_oldest_owed_seconds", (("kind", "case_message"),)) in owed
