"""History must not flood Slack: of an imported file, only responses answered within
`import.open_cases_newer_than` become live cases that the real bot's outbox posts to the simulated
Slack; older ones are stored closed and never posted, not even when their deadlines would have
passed. Customer text from the file reaches Slack escaped.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.devkit.local_stack import LocalStack
from bot.import_command import run_import
from storage.models import Case
from tests.support.clock import FakeClock

POLICY = Path(__file__).parent.parent / "bot" / "examples" / "policy.yml"
CHANNELS = ("C0SUPPORT", "C0BILLING", "C0PRODUCT")
HOSTILE = "<!channel> the export broke =cmd|' /C calc'!A0 <@U0ALICE> & more"


def _import(stack: LocalStack, clock: FakeClock, path: Path) -> tuple[int, str]:
    settings = stack.settings.__class__(**{**stack.settings.__dict__, "policy_path": str(POLICY)})
    out, err = io.StringIO(), io.StringIO()
    code = run_import(
        settings, path=str(path), maps=(), survey=None, dry_run=False, now=clock(), out=out, err=err
    )
    assert err.getvalue() == ""
    return code, out.getvalue()


def _case_posts(stack: LocalStack) -> list[Any]:
    return [
        message
        for channel in CHANNELS
        for message in stack.simulator.messages(channel)
        if (message.metadata or {}).get("event_type") == "closeloop_case"
    ]


def test_only_recent_rows_become_live_cases_and_reach_slack(
    stack: LocalStack, clock: FakeClock, tmp_path: Path
):
    now = clock()
    rows = [
        ["live-1", 2, HOSTILE, now - timedelta(hours=1)],
        ["live-2", 5, "Refund took weeks", now - timedelta(days=2)],
        ["live-3", 7, "", now - timedelta(days=13, hours=23)],
    ]
    rows += [[f"old-{n}", n % 7, f"old complaint {n}", now - timedelta(days=15 + n)] for n in range(40)]
    rows.append(["no-date", 1, "when was this?", None])  # no answer time: history, to be safe
    path = tmp_path / "history.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "survey", "score", "comment", "submitted_at"])
        writer.writerows([[i, "nps", s, c, "" if at is None else at.isoformat()] for i, s, c, at in rows])

    code, summary = _import(stack, clock, path)
    assert code == 0
    assert "44 imported" in summary and "3 opened as live cases, 41 stored as history" in summary
    stack.runtime.outbox_queue.request_sweep()
    stack.settle()

    posts = _case_posts(stack)
    with stack.runtime.database.transaction() as session:
        live = {c.id for c in session.query(Case).filter(Case.status == "new")}
    assert len(live) == 3
    assert sorted(p.metadata["event_payload"]["case_id"] for p in posts) == sorted(live)
    hostile = next(p for p in posts if "the export broke" in json.dumps(p.blocks))
    shown = json.dumps(hostile.blocks) + hostile.text
    assert "<!channel>" not in shown and "<@U0ALICE>" not in shown
    assert "&lt;!channel&gt;" in shown

    # Days later every deadline of the old responses would have passed: only live cases hear of it.
    clock.advance(days=3)
    stack.sweep_deadlines()
    stack.runtime.outbox_queue.request_sweep()
    stack.settle()
    assert sorted(p.metadata["event_payload"]["case_id"] for p in _case_posts(stack)) == sorted(live)
    threads = {p.ts for p in posts}
    for channel in CHANNELS:
        for message in stack.simulator.messages(channel, include_replies=True):
            assert message.ts in threads or message.thread_ts in threads, message.text


def test_a_history_response_sent_again_by_its_survey_tool_is_posted_as_it_now_stands(
    stack: LocalStack, clock: FakeClock, tmp_path: Path
):
    """Its placeholder message cannot be edited (no such message), so the outbox posts it afresh."""
    path = tmp_path / "one.csv"
    answered = (clock() - timedelta(days=60)).isoformat()
    path.write_text(f"id,survey,score,comment,submitted_at\nold-1,nps,3,slow,{answered}\n", encoding="utf-8")
    assert _import(stack, clock, path)[0] == 0
    stack.runtime.outbox_queue.request_sweep()
    stack.settle()
    assert _case_posts(stack) == []

    answer = stack.post_feedback(
        {"id": "old-1", "survey": "nps", "score": 3, "comment": "still slow, call me"}
    )
    assert answer.status == 202
    stack.settle()
    posts = _case_posts(stack)
    assert len(posts) == 1
    assert "still slow, call me" in json.dumps(posts[0].blocks)
