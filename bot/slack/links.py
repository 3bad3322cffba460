"""Links to case messages, built from the workspace's address (asked of Slack once, then kept)."""

from __future__ import annotations

import logging
import threading

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain.records import CaseSnapshot

log = logging.getLogger(__name__)


class WorkspaceLinks:
    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._root: str | None = None
        self._lock = threading.Lock()

    def _workspace_root(self) -> str | None:
        with self._lock:
            if self._root is None:
                try:
                    self._root = str(self.client.auth_test().get("url") or "") or None
                except (SlackApiError, OSError) as error:
                    log.info("workspace address unknown (%s); links name the channel instead", error)
            return self._root

    def case_link(self, case: CaseSnapshot) -> str | None:
        """Slack's permalink form: <workspace>/archives/<channel>/p<ts without the dot>."""
        if not case.slack_channel or not case.slack_ts:
            return None
        root = self._workspace_root()
        if root is None:
            return None
        return f"{root.rstrip('/')}/archives/{case.slack_channel}/p{case.slack_ts.replace('.', '')}"
