"""The `/loop` slash command. `help` now; later releases add subcommands here."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.services import Services
from bot.slack.text import escape

HELP = """*closeloop* closes the customer feedback loop.
• New survey responses that need a follow-up appear as cases in your department's channel.
• *Claim* a case to own it, call or email the customer, then *Log contact*.
• *Close loop* with the outcome, the root cause and what you did — the team gets a shout-out.
Commands:
• `/loop help` — this message"""


def register(app: App, services: Services) -> None:
    @app.command("/loop")
    def loop_command(ack: Ack, command: dict[str, Any]) -> None:
        words = str(command.get("text") or "").split()
        if not words or words[0].lower() == "help":
            ack(text=HELP)
            return
        ack(text=f"I don't know `/loop {escape(words[0][:40])}`.\n\n{HELP}")
