"""views.* methods: modals (open, push, update) and the Home tab (publish)."""

from __future__ import annotations

from typing import Any

from bot.devkit.simulator.context import Handler, MethodContext, Params, optional, required
from bot.devkit.simulator.errors import SlackError
from bot.devkit.simulator.models import View


def _view(ctx: MethodContext, method: str, params: Params, *, kind: str | None = None) -> dict[str, Any]:
    view = ctx.check_view(method, params.get("view"))
    if kind and view.get("type") != kind:
        ctx.report(method, [f"view: type must be {kind}, got {view.get('type')!r}"])
        raise SlackError("invalid_arguments")
    return view


def _answer(record: View) -> dict[str, Any]:
    return {"view": record.to_api()}


def open_modal(ctx: MethodContext, params: Params) -> dict[str, Any]:
    view = _view(ctx, "views.open", params, kind="modal")
    ws = ctx.workspace
    with ws.lock:
        trigger = ws.exchange_trigger(params.get("trigger_id"))
        return _answer(ws.open_view(trigger.user_id, view, trigger_id=trigger.id))


def push(ctx: MethodContext, params: Params) -> dict[str, Any]:
    view = _view(ctx, "views.push", params, kind="modal")
    ws = ctx.workspace
    with ws.lock:
        trigger = ws.exchange_trigger(params.get("trigger_id"))
        if trigger.view_id is None:  # Slack pushes onto the modal the interaction happened in
            raise SlackError("invalid_trigger_id")
        return _answer(ws.open_view(trigger.user_id, view, trigger_id=trigger.id, on_top_of=trigger.view_id))


def update(ctx: MethodContext, params: Params) -> dict[str, Any]:
    view_id, external_id = optional(params, "view_id"), optional(params, "external_id")
    if not view_id and not external_id:
        raise SlackError("invalid_arguments")
    view = _view(ctx, "views.update", params)
    ws = ctx.workspace
    with ws.lock:
        record = ws.view(view_id, external_id=external_id)
        if not record.is_open:
            raise SlackError("not_found")
        expected = optional(params, "hash")
        if expected is not None and expected != record.hash:
            raise SlackError("hash_conflict")
        return _answer(ws.replace_view(record.id, view))


def publish(ctx: MethodContext, params: Params) -> dict[str, Any]:
    view = _view(ctx, "views.publish", params, kind="home")
    ws = ctx.workspace
    with ws.lock:
        user_id = required(params, "user_id", "user_not_found")
        current = ws.home_view(user_id)
        expected = optional(params, "hash")
        if current and expected is not None and expected != current.hash:
            raise SlackError("hash_conflict")
        return _answer(ws.publish_home(user_id, view))


HANDLERS: dict[str, Handler] = {
    "views.open": open_modal,
    "views.push": push,
    "views.update": update,
    "views.publish": publish,
}
