"""Exceptions shared by the simulator's layers.

`SlackError` carries a Slack error code so the workspace and the method handlers can fail the
same way and the HTTP layer can turn any of them into Slack's `{"ok": false, "error": ...}`.
"""

from __future__ import annotations

from typing import Any


class SlackError(Exception):
    """A Web API failure as Slack reports it: an error code plus optional extra response fields."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra

    def to_response(self) -> dict[str, Any]:
        return {"ok": False, "error": self.code, **self.extra}


class BlockKitError(AssertionError):
    """Raised by a strict simulator when the bot sent something real Slack would reject or mangle."""

    def __init__(self, violations: list[str]) -> None:
        listing = "\n".join(f"  - {v}" for v in violations)
        super().__init__(f"{len(violations)} Slack platform violation(s):\n{listing}")
        self.violations = list(violations)


class DriverError(RuntimeError):
    """The driver was asked to do something a real user could not do (missing message, button, option)."""
