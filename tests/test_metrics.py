"""`GET /metrics`: what a running bot counts, in Prometheus's text format."""

from __future__ import annotations

import logging
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.factories import payload
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


def test_every_intake_answer_is_counted_by_result_and_logged_at_debug_only(stack, caplog):
    caplog.set_level(logging.DEBUG, logger="handlers.intake")
    answers = [
        stack.post_feedback(payload(id="m-1")),  # created
        stack.post_feedback(payload(id="m-1")),  # unchanged
        stack.post_feedback(payload(id="m-1", comment="Still failing.")),  # updated
        stack.post_feedback(payload(id="m-2"), token="not-the-token-at-all"),
        stack.post_feedback(b"{not json"),
        stack.post_feedback(payload(id="m-3", score=99)),
        stack.post_feedback(payload(id="m-4"), content_type="text/plain"),
        stack.post_feedback(b"[" + b" " * 300_000 + b"]"),
    ]
    assert [a.status for a in answers] == [202, 202, 202, 401, 400, 422, 415, 413]
    counted = {
        dict(labels)["result"]: value
        for (name, labels), value in scrape(stack).items()
        if name == "closeloop_intake_requests_total"
    }
    assert counted == {
        "created": 1,
        "unchanged": 1,
        "updated": 1,
        "unauthorized": 1,
        "invalid_json": 1,
        "invalid_feedback": 1,
        "unsupported_media_type": 1,
        "too_large": 1,
    }
    accepted = [
        r for r in caplog.records if r.name == "handlers.intake" and r.getMessage().startswith("feedback ")
    ]
    assert len(accepted) == 3 and all(r.levelno == logging.DEBUG for r in accepted)
