"""What people do in the simulated workspace, as steps the end-to-end tests share: a survey
response arrives, someone clicks a case's button, someone closes the loop."""

from __future__ import annotations

from typing import Any

from bot.devkit.local_stack import LocalStack
from bot.devkit.simulator.driver import DriverResult
from bot.domain.records import CaseSnapshot
from tests.factories import CLOSE_FORM, payload


def open_case(stack: LocalStack, **overrides: Any) -> CaseSnapshot:
    """A survey response (`payload(**overrides)`) arrives; its case once the bot has settled."""
    answer = stack.post_feedback(payload(**overrides))
    assert answer.status == 202, answer.body
    stack.settle()
    return stack.runtime.repository.get_case(answer.body["case_id"])


def click(stack: LocalStack, user: str, case: CaseSnapshot, action_id: str) -> None:
    """`user` clicks a button on the case's message, and the bot settles."""
    stack.slack.click(user, case.slack_channel, case.slack_ts, action_id)
    stack.settle()


def close_case(
    stack: LocalStack, case: CaseSnapshot, user: str = "U0ALICE", form: dict[str, Any] | None = None
) -> tuple[dict[str, Any], DriverResult]:
    """`user` clicks Close loop and submits the form (CLOSE_FORM unless given): (view, answer)."""
    click(stack, user, case, "case_close")
    (view,) = stack.simulator.open_views(user)
    result = stack.slack.submit_view(user, view["id"], form or CLOSE_FORM)
    stack.settle()
    return view, result
