"""Slack's side of the bot, as views: escaping, Block Kit rendering of domain records, action ids,
the words for refusals. It never touches storage; sending is the outbox's job (bot.outbox)."""
