"""Persistence for closeloop: feedback, cases, their history and pending Slack deliveries.

This package knows nothing of Slack's API or of the bot: it stores what it is given and performs
the few state changes that must be atomic (claiming a case, leasing work) in single statements.
"""
