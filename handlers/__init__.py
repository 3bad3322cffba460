"""Slack listeners and the intake endpoint: thin, one module per kind of interaction.

Each module has `register(app, services)`; the wiring module calls them all.
"""
