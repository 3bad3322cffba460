"""`closeloop export` on the pre-filled history: its wall time and its own peak RSS, measured in a
child process (the bench's own memory would hide it) that runs the real command to /dev/null."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bot.devkit.bench.report import Figure, Report

# Runs the command, then reports the process's peak RSS (KiB on Linux) as stderr's last line.
_WRAPPER = """
import resource, sys
from bot.cli import main
code = main(["export"])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


class ExportFailed(RuntimeError):
    pass


def measure_export(database_url: str, workdir: Path) -> tuple[float, int]:
    """(seconds, peak RSS in KiB) of one whole `closeloop export` as CSV."""
    env = {**os.environ, "DATABASE_URL": database_url}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=workdir,  # no .env of the caller's
        check=False,
    )
    seconds = time.monotonic() - started
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    if done.returncode != 0 or not lines or not lines[-1].isdigit():
        raise ExportFailed(f"closeloop export exited {done.returncode}: {' | '.join(lines[-3:])}")
    return seconds, int(lines[-1])


def export_figures(database_url: str, workdir: Path, report: Report, label: str) -> None:
    seconds, peak_kib = measure_export(database_url, workdir)
    report.add(Figure(f"closeloop export (CSV), {label} cases", seconds, "s"))
    name = f"closeloop export peak RSS, {label} cases"
    report.add(Figure(name, peak_kib / 1024, "MiB", note="a server-side cursor"))
