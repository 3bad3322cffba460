"""What closeloop says about itself: `/loop help` and the top of the Home tab."""

from __future__ import annotations

HELP = """*closeloop* closes the customer feedback loop.
• New survey responses that need a follow-up appear as cases in your department's channel.
• *Claim* a case to own it, call or email the customer, then *Log contact*.
• *Close loop* with the outcome, the root cause and what you did — the team gets a shout-out.
Commands:
• `/loop mine` — your open cases, oldest first, with their next deadlines and buttons
• `/loop overdue [department]` — open cases that missed a deadline or are about to, oldest first
• `/loop leaderboard [week|month|quarter]` — loops closed, kudos, and promoters nobody thanked
• `/loop causes [week|month|quarter|year|30d]` — root causes per department, their outcomes and remedies
• `/loop stats [department] [week|month|year|30d]` — NPS ± margin, closure rate, times, deadlines met
• `/loop themes [department] [week|month|30d]` — the themes rising fastest among detractors
• `/loop shipped <theme>` — managers and leaders: tell the customers who reported a theme that it is fixed
• `/loop help` — this message"""
