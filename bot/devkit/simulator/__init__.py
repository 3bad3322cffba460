"""A simulated Slack workspace: a real Web API server plus a driver that acts as Slack towards the bot.

Used by the test suite as the fake Slack (`WebClient(base_url=sim.api_url)`) and by `closeloop demo`.
Importing this package starts nothing; `SlackSimulator.start()` (or `with SlackSimulator() as sim`) does.
"""

from bot.devkit.simulator.api import ApiCall
from bot.devkit.simulator.blockkit import validate_blocks, validate_message_text, validate_view
from bot.devkit.simulator.clock import ManualClock
from bot.devkit.simulator.driver import DriverResult, SlackDriver
from bot.devkit.simulator.errors import BlockKitError, DriverError, SlackError
from bot.devkit.simulator.limits import Tier
from bot.devkit.simulator.models import (
    BOT_USER_ID,
    TEAM_ID,
    Channel,
    Ephemeral,
    Message,
    ResponsePost,
    Revision,
    User,
    View,
)
from bot.devkit.simulator.render import (
    mrkdwn_to_text,
    render_channel,
    render_dms,
    render_ephemerals,
    render_message,
)
from bot.devkit.simulator.simulator import SlackSimulator

__all__ = [
    "BOT_USER_ID",
    "TEAM_ID",
    "ApiCall",
    "BlockKitError",
    "Channel",
    "DriverError",
    "DriverResult",
    "Ephemeral",
    "ManualClock",
    "Message",
    "ResponsePost",
    "Revision",
    "SlackDriver",
    "SlackError",
    "SlackSimulator",
    "Tier",
    "User",
    "View",
    "mrkdwn_to_text",
    "render_channel",
    "render_dms",
    "render_ephemerals",
    "render_message",
    "validate_blocks",
    "validate_message_text",
    "validate_view",
]
