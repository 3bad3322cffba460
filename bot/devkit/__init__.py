"""Tools that ship because `closeloop demo` needs them: the simulated Slack workspace, the local
stack (the real bot wired to it) and the demo itself. Tests use them too."""
