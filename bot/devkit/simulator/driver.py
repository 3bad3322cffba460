"""Acting as Slack towards the bot: signed HTTP requests for clicks, modals, commands and events.

Payloads are built from what the bot really posted (the stored message or open view), so a test
cannot click a button the bot never sent. Requests go over real HTTP with Slack's signature
(timestamped by the wall clock the bot verifies against), and the driver gives up after Slack's
3-second acknowledgement deadline like Slack does.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.devkit.simulator.blockkit import validate_view
from bot.devkit.simulator.errors import DriverError, SlackError
from bot.devkit.simulator.models import APP_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, Clock, Message, View
from bot.devkit.simulator.payloads import element_state, find_element, view_state
from bot.devkit.simulator.responses import ResponseUrls
from bot.devkit.simulator.workspace import Workspace

T = TypeVar("T")

ACK_DEADLINE_SECONDS = 3.0
VERIFICATION_TOKEN = "sim-verification-token"  # deprecated by Slack, still sent in payloads


def _as_payload(message: Message | Mapping[str, Any]) -> dict[str, Any]:
    return message.to_api() if isinstance(message, Message) else dict(message)


@dataclass(frozen=True)
class DriverResult:
    """The bot's HTTP answer; `status` 0 with `timed_out` means it missed Slack's ack deadline."""

    status: int
    body: str
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    elapsed: float = 0.0
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class SlackDriver:
    """Sends what Slack would send to the bot's request URL, on behalf of workspace members."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        signing_secret: str,
        request_url: str,
        response_url_base: str,
        report: Callable[[str, list[str]], None],
        responses: ResponseUrls,
        signing_clock: Clock = time.time,
        ack_timeout: float = ACK_DEADLINE_SECONDS,
    ) -> None:
        self.workspace = workspace
        self.request_url = request_url
        self._verifier = SignatureVerifier(signing_secret)
        self._response_url_base = response_url_base.rstrip("/")
        self._report = report
        self._responses = responses
        self._clock = workspace.clock
        self._signing_clock = signing_clock
        self.ack_timeout = ack_timeout
        # the bot listens locally: never send these through an HTTP(S)_PROXY from the environment
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # --- interactions --------------------------------------------------------------------

    def click(
        self,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        *,
        value: object = None,
        block_id: str | None = None,
        message: Message | Mapping[str, Any] | None = None,
    ) -> DriverResult:
        """Click a button (or pick `value` in a select) on a message, possibly an ephemeral one.

        `message` is the version the user's screen shows, e.g. a snapshot taken before someone
        else's click changed it; by default the current one.
        """
        ws = self.workspace
        with ws.lock:
            channel = self._lookup(lambda: ws.channel(channel_id))
            ephemeral = ws.find_ephemeral(channel.id, user_id, message_ts) if message is None else None
            shown: dict[str, Any] | None = None
            if ephemeral is not None:
                blocks = ephemeral.blocks
            else:
                stored = self._lookup(lambda: ws.message(channel.id, message_ts))
                shown = stored.to_api() if message is None else _as_payload(message)
                blocks = shown.get("blocks") or []
            element_block, element = find_element(blocks, action_id, value=value, block_id=block_id)
            container: dict[str, Any] = {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel.id,
                "is_ephemeral": ephemeral is not None,
            }
            if shown and shown.get("thread_ts"):
                container["thread_ts"] = shown["thread_ts"]
            response_url = ws.issue_response_url(
                user_id, channel.id, message_ts, ephemeral=ephemeral is not None
            )
            payload = self._block_actions(user_id, element_block, element, value, container)
            payload.update(
                channel={"id": channel.id, "name": "directmessage" if channel.is_im else channel.name},
                response_url=f"{self._response_url_base}/{response_url.id}",
                state={"values": {}},
            )
            if shown is not None:
                payload["message"] = shown
        return self._post_form({"payload": json.dumps(payload)})

    def click_in_view(
        self, user_id: str, view_id: str, action_id: str, *, value: object = None, block_id: str | None = None
    ) -> DriverResult:
        """Click a button (or pick `value`) inside an open modal or a published Home tab."""
        record = self._own_view(user_id, view_id)
        element_block, element = find_element(
            record.view.get("blocks", []), action_id, value=value, block_id=block_id
        )
        payload = self._block_actions(
            user_id, element_block, element, value, {"type": "view", "view_id": view_id}
        )
        payload["view"] = record.to_api()
        return self._post_form({"payload": json.dumps(payload)})

    def submit_view(
        self,
        user_id: str,
        view_id: str,
        values: Mapping[str, object] | None = None,
        *,
        enforce_required: bool = False,
    ) -> DriverResult:
        """Submit an open modal with `values` keyed by block_id (or "block_id.action_id").

        Inputs not given keep their initial value or stay empty. Slack's client refuses to submit
        an empty required input; `enforce_required=True` does too, while the default lets a test
        check the bot's own validation. The view then changes as Slack would change it from the
        bot's answer: closed on an empty 200, kept open on `errors`, replaced on `update`,
        stacked on `push`, all closed on `clear`.
        """
        record = self._own_view(user_id, view_id)
        state = view_state(record.view.get("blocks", []), values or {}, enforce_required=enforce_required)
        payload = {
            **self._envelope(user_id, "view_submission"),
            "trigger_id": self.workspace.issue_trigger(user_id, view_id=record.id),
            "view": record.to_api(state),
            "response_urls": [],
        }
        result = self._post_form({"payload": json.dumps(payload)})
        self._apply_submission_answer(record, result)
        return result

    def close_view(self, user_id: str, view_id: str) -> DriverResult | None:
        """The user dismisses a modal; Slack tells the bot only if the view asked (`notify_on_close`)."""
        record = self._own_view(user_id, view_id)
        self.workspace.close_view(record.id)
        if not record.view.get("notify_on_close"):
            return None
        payload = {**self._envelope(user_id, "view_closed"), "view": record.to_api(), "is_cleared": False}
        return self._post_form({"payload": json.dumps(payload)})

    def slash_command(self, user_id: str, channel_id: str, command: str, text: str = "") -> DriverResult:
        """Run `/command text`; a non-empty answer appears as Slack shows it (ephemeral by default)."""
        ws = self.workspace
        user = self._lookup(lambda: ws.user(user_id))
        channel = self._lookup(lambda: ws.channel(channel_id))
        response_url = ws.issue_response_url(user_id, channel.id, None)
        form = {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel.id,
            "channel_name": "directmessage" if channel.is_im else channel.name,
            "user_id": user.id,
            "user_name": user.name,
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": f"{self._response_url_base}/{response_url.id}",
            "trigger_id": ws.issue_trigger(user_id),
        }
        result = self._post_form(form)
        if result.ok and result.body.strip():
            self._responses.answer_command(response_url, result.body, result.json)
        return result

    # --- events --------------------------------------------------------------------------

    def event(
        self,
        event: Mapping[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> DriverResult:
        """Deliver an Events API `event_callback`; `retry_num` makes it look like Slack's redelivery."""
        now = self._clock()
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": {"event_ts": f"{now:.6f}", **event},
            "type": "event_callback",
            "event_id": event_id or f"Ev{secrets.token_hex(5).upper()}",
            "event_time": int(now),
            "authorizations": [
                {"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}
            ],
            "is_ext_shared_channel": False,
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return self.send_raw(json.dumps(envelope).encode(), "application/json", headers=headers)

    def user_message(
        self, user_id: str, channel_id: str, text: str, *, thread_ts: str | None = None
    ) -> DriverResult:
        """A person posts in a channel: stored in the workspace, then delivered as a `message` event."""
        message = self._lookup(lambda: self.workspace.post(channel_id, user_id, text, thread_ts=thread_ts))
        event: dict[str, Any] = {
            "type": "message",
            "channel": message.channel,
            "user": user_id,
            "text": text,
            "ts": message.ts,
            "channel_type": "im" if self.workspace.channel(message.channel).is_im else "channel",
        }
        if message.thread_ts:
            event["thread_ts"] = message.thread_ts
        return self.event(event)

    def url_verification(self, challenge: str = "sim-challenge") -> DriverResult:
        body = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
        return self.send_raw(json.dumps(body).encode(), "application/json")

    # --- transport -----------------------------------------------------------------------

    def sign(self, body: bytes, timestamp: str) -> str:
        """Slack's `X-Slack-Signature` for `body` sent at `timestamp` (seconds, as a string)."""
        signature = self._verifier.generate_signature(timestamp=timestamp, body=body)
        if signature is None:
            raise DriverError("a signature needs a timestamp")
        return signature

    def send_raw(
        self,
        body: bytes,
        content_type: str,
        *,
        signature: str | None = None,
        timestamp: str | int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> DriverResult:
        """POST `body` signed like Slack; pass `signature` or an old `timestamp` to forge a request."""
        stamp = str(int(self._signing_clock()) if timestamp is None else timestamp)
        request = urllib.request.Request(self.request_url, data=body, method="POST")
        request.add_header("Content-Type", content_type)
        request.add_header("X-Slack-Request-Timestamp", stamp)
        request.add_header(
            "X-Slack-Signature", signature if signature is not None else self.sign(body, stamp)
        )
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        return self._send(request)

    def _send(self, request: urllib.request.Request) -> DriverResult:
        started = time.monotonic()
        try:
            with self._opener.open(request, timeout=self.ack_timeout) as response:
                status, raw, headers = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, raw, headers = error.code, error.read(), dict(error.headers)
        except TimeoutError:
            return DriverResult(0, "", elapsed=time.monotonic() - started, timed_out=True)
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                return DriverResult(0, "", elapsed=time.monotonic() - started, timed_out=True)
            raise DriverError(f"the bot at {self.request_url} is unreachable: {error.reason}") from error
        body = raw.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(body) if body.strip() else None
        except ValueError:
            parsed = None
        return DriverResult(status, body, parsed, headers, time.monotonic() - started)

    def _post_form(self, form: Mapping[str, str]) -> DriverResult:
        return self.send_raw(urlencode(form).encode(), "application/x-www-form-urlencoded")

    # --- helpers -------------------------------------------------------------------------

    def _lookup(self, find: Callable[[], T]) -> T:
        """Run a workspace lookup, turning Slack's error into a driver error a test author can read."""
        try:
            return find()
        except SlackError as exc:
            raise DriverError(f"cannot act as Slack here: {exc.code}") from exc

    def _own_view(self, user_id: str, view_id: str) -> View:
        record = self._lookup(lambda: self.workspace.view(view_id))
        if record.user_id != user_id:
            raise DriverError(f"view {view_id} belongs to {record.user_id}, not {user_id}")
        if not record.is_open:
            raise DriverError(f"view {view_id} is closed")
        return record

    def _envelope(self, user_id: str, kind: str) -> dict[str, Any]:
        user = self._lookup(lambda: self.workspace.user(user_id))
        return {
            "type": kind,
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "is_enterprise_install": False,
            "enterprise": None,
        }

    def _block_actions(
        self, user_id: str, block_id: str, element: dict[str, Any], value: object, container: dict[str, Any]
    ) -> dict[str, Any]:
        action: dict[str, Any] = {
            "action_id": element["action_id"],
            "block_id": block_id,
            "type": element.get("type"),
            "action_ts": f"{self._clock():.6f}",
        }
        if element.get("type") == "button":
            action.update(text=element.get("text"), value=element.get("value"))
            if "style" in element:
                action["style"] = element["style"]
        else:
            action.update(element_state(element, value))
        return {
            **self._envelope(user_id, "block_actions"),
            "container": container,
            "trigger_id": self.workspace.issue_trigger(user_id, view_id=container.get("view_id")),
            "actions": [action],
        }

    def _apply_submission_answer(self, record: View, result: DriverResult) -> None:
        ws = self.workspace
        if not result.ok:
            return
        answer = result.json if isinstance(result.json, dict) else {}
        action = answer.get("response_action")
        if action is None:
            ws.close_view(record.id)
        elif action == "clear":
            ws.close_view(record.id, whole_stack=True)
        elif action == "errors":
            self._check_error_keys(record, answer.get("errors"))
        elif action in ("update", "push"):
            where = f"view_submission response_action={action}"
            problems = validate_view(answer.get("view"))
            if problems:
                self._report(where, problems)
            elif action == "update":
                ws.replace_view(record.id, answer["view"])
            else:
                try:
                    ws.open_view(record.user_id, answer["view"], trigger_id=None, on_top_of=record.id)
                except SlackError as exc:
                    self._report(where, [f"Slack would refuse the push: {exc.code}"])
        else:
            self._report("view_submission", [f"unknown response_action {action!r}"])

    def _check_error_keys(self, record: View, errors: object) -> None:
        """Slack shows `errors` only under input blocks; other keys make the whole submission fail."""
        inputs = {b.get("block_id") for b in record.view.get("blocks", []) if b.get("type") == "input"}
        if not isinstance(errors, dict) or not errors:
            self._report("view_submission", ["response_action=errors needs a non-empty `errors` object"])
            return
        unknown = sorted(set(errors) - inputs)
        if unknown:
            self._report("view_submission", [f"errors for {unknown}, which are not input block_ids"])
