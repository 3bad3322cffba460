"""The bench's workspace: five departments with one channel each, and deadlines simple enough
that the pre-filled rows can be written in SQL exactly as the bot would write them.

Kept in code, not a YAML file beside it: the package data of the wheel lists only the examples,
and `closeloop run` reads a file, so `write_policy` puts one in the bench's working folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.devkit.bench.load import DEPARTMENTS
from bot.devkit.simulator import SlackSimulator
from bot.domain.policy import Policy
from bot.policy_file import load_policy

CHANNELS = {name: f"C0BENCH{k}" for k, name in enumerate(DEPARTMENTS, start=1)}
WINS_CHANNEL = "C0BENCHWINS"
MANAGERS = {name: f"U0BMGR{k}" for k, name in enumerate(DEPARTMENTS, start=1)}
CLICKERS = tuple(f"U0BUSER{k:02d}" for k in range(1, 21))  # 20 people who click Claim at once
ADMIN = "U0BOPS"

# Deadlines (seconds): storage/prefill writes due dates and deadline rows from these.
CLAIM_SECONDS = 2 * 3600
CONTACT_SECONDS = 86400
CLOSE_SECONDS = 7 * 86400


def policy_data() -> dict[str, Any]:
    """Routing by tag (`dept3` goes to dept3); one deadline rule, no owner reminders and no second
    level, so a new case's plan is four rows: claim nudge and one escalation per step."""
    return {
        "version": 1,
        "departments": [
            {
                "name": name,
                "title": f"Department {name[-1]}",
                "channel": CHANNELS[name],
                "managers": [MANAGERS[name]],
                "members": list(CLICKERS),
            }
            for name in DEPARTMENTS
        ],
        "routing": {
            "default_department": DEPARTMENTS[0],
            "rules": [{"name": f"to {name}", "department": name, "tags": [name]} for name in DEPARTMENTS[1:]],
        },
        "cases": {
            "open_for": ["detractor", "passive"],
            "priority": {"detractor": "high", "passive": "normal", "promoter": "low"},
            "others": {"notify": True},
        },
        "root_causes": ["Product bug", "Other"],
        "remedies": ["Workaround given", "Refund"],
        "announcements": {"channel": WINS_CHANNEL, "quote_feedback": True, "quote_max_chars": 200},
        "admins": [ADMIN],
        "permissions": {"claim": "anyone", "reports": "anyone"},
        "sla": {
            "sweep_every": "30s",
            "at_risk_within": "2h",
            "deadlines": [{"name": "everything", "claim": "2h", "first_contact": "1d", "close": "7d"}],
            "owner_reminders": [],
        },
    }


def write_policy(folder: Path) -> Path:
    path = folder / "bench-policy.yml"
    path.write_text(yaml.safe_dump(policy_data(), sort_keys=False), encoding="utf-8")
    return path


def bench_policy(folder: Path) -> Policy:
    """The policy as `closeloop run` will read it (through the same loader)."""
    return load_policy(write_policy(folder))


def seed(simulator: SlackSimulator) -> None:
    """People and channels the policy names, the bot a member of every channel."""
    people = [*CLICKERS, *MANAGERS.values(), ADMIN]
    for user in people:
        simulator.add_user(user, user.lower(), f"Bench {user[3:]}")
    for name, channel in CHANNELS.items():
        simulator.add_channel(channel, name, members=people)
    simulator.add_channel(WINS_CHANNEL, "wins", members=people)
