"""The digest's chart: a real PNG of the expected pixel size, drawn without pyplot (no global
backend switch at import, nothing kept between charts), whatever the weeks hold."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib

from bot.app.digest_chart import HEIGHT_PX, WIDTH_PX, chart_png
from bot.domain.digest import WeekPoint

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk, each CRC checked: a PNG a viewer would open."""
    assert png[:8] == SIGNATURE
    found, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, data = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", png[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + data) == crc, kind
        found.append((kind, data))
        at += 12 + length
    return found


def weeks(values: list[tuple[float | None, float | None, float | None]]) -> list[WeekPoint]:
    return [
        WeekPoint(f"2026-W{37 + i}", 10, nps, margin, rate) for i, (nps, margin, rate) in enumerate(values)
    ]


def test_the_chart_is_a_png_of_1200_by_600_pixels():
    points = weeks([(20.0 + i, 15.0, 0.5 + i / 30) for i in range(12)])
    png = chart_png(points, "NPS and closure rate")
    found = chunks(png)
    assert found[0][0] == b"IHDR" and found[-1][0] == b"IEND"
    width, height, depth, colour = struct.unpack(">IIBB", found[0][1][:10])
    assert (width, height) == (WIDTH_PX, HEIGHT_PX) == (1200, 600)
    assert depth == 8 and colour == 6  # 8-bit RGBA
    assert sum(len(d) for k, d in found if k == b"IDAT") > 10_000  # lines and text, not a blank image


def test_weeks_without_responses_or_cases_and_extreme_values_still_draw():
    empty = chart_png(weeks([(None, None, None)] * 12), "nothing yet")
    extreme = chart_png(weeks([(-100.0, 0.0, 0.0), (100.0, 60.0, 1.0)] * 6), "<!channel> & more")
    for png in (empty, extreme):
        assert struct.unpack(">II", chunks(png)[0][1][:8]) == (1200, 600)
    assert empty != extreme


def test_drawing_a_chart_never_imports_pyplot():
    code = (
        "import sys\n"
        "from bot.app.digest_chart import chart_png\n"
        "from bot.domain.digest import WeekPoint\n"
        "chart_png([WeekPoint('2026-W48', 4, 25.0, 81.3, 0.5)], 't')\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
        "import matplotlib\n"
        "print(matplotlib.rcParams['backend'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
