"""`SlackSimulator`: one object that is the fake Slack for tests and for `closeloop demo`.

It wires the workspace state, the Web API, the response_url endpoint and the HTTP server
together and offers the read-side helpers tests assert on. Nothing starts until `start()`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self

from bot.devkit.simulator.api import ApiCall, WebApi
from bot.devkit.simulator.driver import ACK_DEADLINE_SECONDS, SlackDriver
from bot.devkit.simulator.errors import BlockKitError
from bot.devkit.simulator.file_store import SimFile
from bot.devkit.simulator.files import upload_route
from bot.devkit.simulator.limits import (
    SLACK_TIER_3,
    SLACK_TIER_4,
    Fault,
    FaultQueue,
    RateLimiter,
    Tier,
    WorkspaceLimits,
)
from bot.devkit.simulator.models import (
    BOT_USER_ID,
    Channel,
    Clock,
    Ephemeral,
    Message,
    ResponsePost,
    User,
)
from bot.devkit.simulator.responses import ResponseUrls
from bot.devkit.simulator.transport import HttpReply, HttpRequest, HttpServer
from bot.devkit.simulator.workspace import Workspace


class SlackSimulator:
    """A simulated Slack workspace with a real Web API on 127.0.0.1 (ephemeral port).

    `strict` makes leaving the `with` block raise `BlockKitError` if the bot ever sent something
    Slack would reject or mangle; `post_rate_per_channel=None` turns chat.postMessage limits off.

    `tier3` (chat.update, conversations.open/history/replies) and `tier4` (chat.postEphemeral,
    views.*, users.info, files.getUploadURLExternal / completeUploadExternal) are Slack's
    per-workspace limits, on by default with Slack's numbers and a minute's allowance as burst:
    over them, HTTP 429 with Retry-After. On a clock that only moves when told the buckets
    refill only when it moves; `Tier(None)` turns a tier off.
    """

    bot_user_id = BOT_USER_ID

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-sim",
        signing_secret: str = "sim-signing-secret",
        clock: Clock | None = None,
        strict: bool = True,
        post_rate_per_channel: float | None = 1.0,
        post_burst: int = 5,
        tier3: Tier = SLACK_TIER_3,
        tier4: Tier = SLACK_TIER_4,
    ) -> None:
        self.bot_token = bot_token
        self.signing_secret = signing_secret
        self.strict = strict
        self.workspace = Workspace(clock)
        self._faults = FaultQueue()
        self.web_api = WebApi(
            self.workspace,
            bot_token=bot_token,
            post_limiter=RateLimiter(post_rate_per_channel, post_burst, self.workspace.clock),
            faults=self._faults,
            limits=WorkspaceLimits(tier3, tier4, self.workspace.clock),
        )
        self._response_urls = ResponseUrls(self.workspace, self.web_api.report)
        self._server = HttpServer(
            {"/api/": self._api_route, "/response/": self._response_route, "/upload/": self._upload_route}
        )

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        self._server.start()
        self.workspace.files.upload_root = f"{self.base_url}/upload/"
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        if self.strict and exc_type is None:
            self.assert_no_violations()

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def api_url(self) -> str:
        """Web API root for `WebClient(base_url=...)`; ends with a slash as slack_sdk expects."""
        return f"{self.base_url}/api/"

    # --- setup ---------------------------------------------------------------------------

    def add_user(self, user_id: str, name: str, real_name: str, *, is_bot: bool = False) -> User:
        return self.workspace.add_user(user_id, name, real_name, is_bot=is_bot)

    def add_channel(
        self, channel_id: str, name: str, *, bot_is_member: bool = True, members: Iterable[str] = ()
    ) -> Channel:
        everyone = set(members) | ({BOT_USER_ID} if bot_is_member else set())
        return self.workspace.add_channel(channel_id, name, members=everyone)

    def driver(
        self,
        request_url: str,
        *,
        ack_timeout: float = ACK_DEADLINE_SECONDS,
        signing_clock: Clock = time.time,
    ) -> SlackDriver:
        """A driver acting as Slack towards the bot at `request_url` (e.g. .../slack/events).

        Request signatures are timestamped by `signing_clock`, real time by default: the bot checks
        them against its own wall clock (Bolt cannot be given another), so the simulator's
        possibly frozen clock would make every request look replayed. Payload times
        (`action_ts`, `event_time`) and trigger expiry follow the simulator's clock.
        """
        return SlackDriver(
            self.workspace,
            signing_secret=self.signing_secret,
            request_url=request_url,
            response_url_base=f"{self.base_url}/response/",
            report=self.web_api.report,
            responses=self._response_urls,
            signing_clock=signing_clock,
            ack_timeout=ack_timeout,
        )

    def issue_trigger(self, user_id: str, *, view_id: str | None = None) -> str:
        """A fresh trigger_id as if `user_id` had just clicked something (in modal `view_id`, if given)."""
        return self.workspace.issue_trigger(user_id, view_id=view_id)

    def inject_fault(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        delay_seconds: float = 0.0,
        applied: bool = False,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` ("*" for any) fail or stall.

        `status` answers with that HTTP status, `error` with HTTP 200 and `ok: false`,
        `delay_seconds` waits in real time first (for client timeouts). With `applied=True` the
        call takes effect before the failure is answered: the uncertain send a bot must survive.
        """
        if status is None and error is None and not delay_seconds:
            raise ValueError("a fault needs a status, an error or a delay")
        self._faults.add(method, Fault(status, error, delay_seconds, applied, times))

    def clear_faults(self) -> None:
        """Forget every fault still waiting and answer the calls stalled in one: Slack is healthy
        again (the end of an outage)."""
        self._faults.clear()

    # --- observation ---------------------------------------------------------------------

    @property
    def calls(self) -> list[ApiCall]:
        return self.web_api.calls

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.web_api.calls if c.method == method]

    @property
    def violations(self) -> list[str]:
        return self.web_api.violations

    def take_violations(self) -> list[str]:
        """Return and forget the violations so far: for tests that provoke them on purpose."""
        return self.web_api.take_violations()

    def assert_no_violations(self) -> None:
        violations = self.web_api.violations
        if violations:
            raise BlockKitError(violations)

    @property
    def responses(self) -> list[ResponsePost]:
        with self.workspace.lock:
            return list(self.workspace.responses)

    def messages(self, channel_id: str, *, include_replies: bool = False) -> list[Message]:
        return self.workspace.messages(channel_id, include_replies=include_replies)

    def message(self, channel_id: str, ts: str) -> Message:
        return self.workspace.message(channel_id, ts)

    def thread(self, channel_id: str, ts: str) -> list[Message]:
        """The parent message `ts` followed by its replies, oldest first, like conversations.replies."""
        with self.workspace.lock:
            return [self.workspace.message(channel_id, ts), *self.workspace.replies(channel_id, ts)]

    def ephemerals(self, user_id: str | None = None) -> list[Ephemeral]:
        return self.workspace.ephemerals(user_id)

    def open_views(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """Open modals (oldest first) as Slack's view objects: `id`, `blocks`, `private_metadata`, ..."""
        return [v.to_api() for v in self.workspace.views(user_id) if v.type != "home"]

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The user's published Home tab as a Slack view object, or None."""
        view = self.workspace.home_view(user_id)
        return view.to_api() if view else None

    def dm_channel(self, user_id: str) -> Channel:
        return self.workspace.open_im(user_id)

    def files(self, channel_id: str | None = None) -> list[SimFile]:
        """Files the bot uploaded, oldest first, with their bytes (`data`); only those shared in
        `channel_id`, if given. A file not yet completed has `completed=False`."""
        return [f for f in self.workspace.files.all() if channel_id is None or f.channel == channel_id]

    # --- HTTP routes ---------------------------------------------------------------------

    def _api_route(self, request: HttpRequest, method: str) -> HttpReply:
        return self.web_api.call(method, request.params(), token=request.bearer_token())

    def _response_route(self, request: HttpRequest, response_id: str) -> HttpReply:
        return self._response_urls.post(response_id, request.params())

    def _upload_route(self, request: HttpRequest, file_id: str) -> HttpReply:
        return upload_route(self.workspace, self.web_api.report, request, file_id)
