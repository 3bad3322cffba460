"""`closeloop bench`: the measurements of issue 9 against a real `closeloop run` and the simulated
Slack, so a change to the engine is judged by figures, not by feel.

Modules: `policy` (a five-department workspace), `process` (the bot as a child process),
`database` (refusing a used database, emptying it between phases), `prefill` (set-based SQL that
writes what the bot itself would), `load` (the intake load generator, in its own processes),
`slack_side` (what the simulator saw, and Slack's posting floor), `live` and `inprocess` (the
measurements), `report` (the table and the JSON) and `runner` (the order they run in).
Nothing here runs at import time.
"""
