"""`closeloop export`: every response with its case, as spreadsheet-safe CSV or JSON lines.

Rows are written straight into the tables (the export only reads them), on SQLite and PostgreSQL;
the command runs through `closeloop`'s own `main`, and through a real pipe for `| head`.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, text

from bot.app.export import COLUMNS, deadline_state
from bot.cli import main
from bot.devkit.bench.export_run import ExportFailed, measure_export
from bot.devkit.bench.prefill import prefill
from bot.export_format import neutralised
from storage import export as storage_export
from storage.db import Database, normalise_url
from storage.export import export_rows
from storage.models import Case, Feedback

pytestmark = pytest.mark.backends("sqlite", "postgresql")

POLICY = Path(__file__).parent.parent / "bot" / "examples" / "policy.yml"
HOSTILE = "line one\nline \"two\", with, commas\r\n<!channel> <@U123> =cmd|' /C calc'!A0 — ünïcode ✓"
HYPERLINK = '=HYPERLINK("http://evil.example","click")'


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def _feedback(database: Database, fid: int, **values: Any) -> None:
    row = {
        "id": fid,
        "external_id": f"ext-{fid}",
        "survey": "nps",
        "score": 9,
        "category": "promoter",
        "department": "product",
        "received_at": at(15),
        "updated_at": at(15),
        "raw": {},
        "tags": [],
    } | values
    with database.connection() as connection:
        connection.execute(insert(Feedback), row)


def _case(database: Database, cid: int, fid: int, **values: Any) -> None:
    row = {
        "id": cid,
        "feedback_id": fid,
        "department": "support",
        "category": "detractor",
        "priority": "high",
        "status": "new",
        "created_at": at(1),
        "updated_at": at(1),
    } | values
    with database.connection() as connection:
        connection.execute(insert(Case), row)


@pytest.fixture
def filled(database: Database) -> Database:
    """A closed billing case (claim met, contact met exactly at due, close missed) with hostile
    text; an open support case (no claim deadline, contact overdue, close not yet due); and a
    promoter's response with no case."""
    _feedback(
        database,
        1,
        score=2,
        category="detractor",
        department="billing",
        received_at=at(1, 8),
        submitted_at=at(1, 7, 59),
        comment=HOSTILE,
        customer_name="@SUM(A1:A2)",
        customer_email="ana@example.com",
        tags=["invoice", "=bad"],
    )
    _case(
        database,
        1,
        1,
        department="billing",
        status="closed",
        owner_id="U0OWNER",
        created_at=at(1, 8),
        claim_due_at=at(1, 10),
        claimed_at=at(1, 9, 30),
        contact_due_at=at(1, 12),
        contacted_at=at(1, 12),
        close_due_at=at(3),
        closed_at=at(4),
        closed_by="U0OWNER",
        outcome="resolved",
        root_cause=HYPERLINK,
        remedy="+1",
        close_note='-2 refunds, "sorry"\nnext line',
        customer_informed=True,
    )
    _feedback(
        database, 2, score=5, category="detractor", department="billing", received_at=at(10, 15), comment="-"
    )
    # Re-routed: the case's department wins over the response's.
    _case(
        database,
        2,
        2,
        department="support",
        status="claimed",
        owner_id="U0OTHER",
        created_at=at(10, 15),
        claimed_at=at(10, 16),
        contact_due_at=at(11),
        close_due_at=datetime(2099, 1, 1, tzinfo=UTC),
    )
    _feedback(database, 3, received_at=at(15), comment="great")
    return database


def export(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes], url: str, *args: str
) -> tuple[int, bytes, str]:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("CLOSELOOP_POLICY", str(POLICY))
    code = main(["export", *args])
    out, err = capsysbinary.readouterr()
    return code, out, err.decode()


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in ("DATABASE_URL", "CLOSELOOP_POLICY", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env
    return monkeypatch


def test_csv_has_every_column_and_each_case_its_steps_and_deadlines(filled, database_url, env, capsysbinary):
    code, out, err = export(env, capsysbinary, database_url)
    assert (code, err) == (0, "")
    assert not out.startswith(b"\xef\xbb\xbf")
    header = next(csv.reader(io.StringIO(out.decode())))
    assert header == list(COLUMNS)
    first, second, third = csv_rows(out)
    assert first["response_id"] == "1" and first["case_id"] == "1" and first["score"] == "2"
    assert first["department"] == "billing" and first["status"] == "closed" and first["owner"] == "U0OWNER"
    assert first["outcome"] == "resolved" and first["customer_informed"] == "true"
    assert first["customer_email"] == "ana@example.com"
    assert first["received_at"] == "2026-11-01T08:00:00+00:00"
    assert first["submitted_at"] == "2026-11-01T07:59:00+00:00"
    assert first["claimed_at"] == "2026-11-01T09:30:00+00:00"
    assert first["closed_at"] == "2026-11-04T12:00:00+00:00"
    assert first["claim_due_at"] == "2026-11-01T10:00:00+00:00"
    assert (first["claim_deadline"], first["first_contact_deadline"], first["close_deadline"]) == (
        "met",
        "met",  # contacted exactly when due: met
        "missed",
    )
    assert second["department"] == "support" and second["status"] == "claimed"
    assert (second["claim_deadline"], second["first_contact_deadline"], second["close_deadline"]) == (
        "none",
        "missed",  # not done, and due long ago
        "pending",
    )
    assert second["claim_due_at"] == "" and second["contacted_at"] == ""
    assert third["response_id"] == "3" and third["case_id"] == "" and third["status"] == ""
    assert (third["claim_deadline"], third["first_contact_deadline"], third["close_deadline"]) == (
        "none",
        "none",
        "none",
    )


def test_formulas_are_neutralised_and_hostile_text_survives(filled, database_url, env, capsysbinary):
    _, out, _ = export(env, capsysbinary, database_url)
    first, second, _ = csv_rows(out)
    assert first["root_cause"] == "'" + HYPERLINK
    assert first["remedy"] == "'+1"
    assert first["close_note"] == '\'-2 refunds, "sorry"\nnext line'
    assert first["customer_name"] == "'@SUM(A1:A2)"
    assert first["comment"] == HOSTILE  # newlines, quotes, commas, mentions: intact, not a formula
    assert first["tags"] == "invoice, =bad"  # starts with a letter: left alone
    assert second["comment"] == "'-"


def test_neutralising_covers_owasp_starts_and_nothing_else():
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert neutralised(start + "1") == "'" + start + "1"
    for plain in ("1", "a=b", " =1", "", "'=1"):
        assert neutralised(plain) == plain


def test_bom_for_excel(filled, database_url, env, capsysbinary):
    _, out, _ = export(env, capsysbinary, database_url, "--bom")
    assert out.startswith(b"\xef\xbb\xbfresponse_id,")
    assert csv_rows(out[3:])[0]["comment"] == HOSTILE


def test_jsonl_round_trips_raw_text_and_iso_times(filled, database_url, env, capsysbinary):
    code, out, _ = export(env, capsysbinary, database_url, "--format", "jsonl")
    assert "ünïcode ✓".encode() in out  # UTF-8 as is, not \u escapes
    lines = out.decode("utf-8").splitlines()
    assert code == 0 and len(lines) == 3
    first, second, third = (json.loads(line) for line in lines)
    assert list(first) == list(COLUMNS)
    assert first["comment"] == HOSTILE and first["root_cause"] == HYPERLINK and first["remedy"] == "+1"
    assert first["customer_name"] == "@SUM(A1:A2)" and first["tags"] == ["invoice", "=bad"]
    assert first["score"] == 2 and first["customer_informed"] is True
    assert datetime.fromisoformat(first["closed_at"]) == at(4)
    assert first["close_deadline"] == "missed" and second["first_contact_deadline"] == "missed"
    assert third["case_id"] is None and third["claimed_at"] is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--since", "2026-11-10"), ["2", "3"]),
        (("--until", "2026-11-10"), ["1", "2"]),  # the --until day is included
        (("--since", "2026-11-02", "--until", "2026-11-14"), ["2"]),
        (("--department", "billing"), ["1"]),
        (("--department", "support"), ["2"]),  # the case's department, not the response's
        (("--department", "product", "--since", "2026-11-15"), ["3"]),
    ],
)
def test_filters(filled, database_url, env, capsysbinary, args, expected):
    code, out, _ = export(env, capsysbinary, database_url, *args)
    assert code == 0
    assert [row["response_id"] for row in csv_rows(out)] == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "2026-13-01"), "closeloop: --since 2026-13-01: not a date — use YYYY-MM-DD"),
        (("--until", "01/11/2026"), "closeloop: --until 01/11/2026: not a date — use YYYY-MM-DD"),
        (("--until", "2026-1-1"), "closeloop: --until 2026-1-1: not a date — use YYYY-MM-DD"),
        (
            ("--since", "2026-11-10", "--until", "2026-11-01"),
            "closeloop: --until 2026-11-01 is before --since 2026-11-10 — swap them",
        ),
        (
            ("--department", "sales"),
            "closeloop: --department sales: no such department — known: support, billing, product",
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_line_naming_the_fix(
    filled, database_url, env, capsysbinary, args, message
):
    code, out, err = export(env, capsysbinary, database_url, *args)
    assert (code, out, err) == (2, b"", message + "\n")


def test_department_without_a_policy_says_to_set_it(database_url, env, capsysbinary):
    env.setenv("DATABASE_URL", database_url)
    code = main(["export", "--department", "billing"])
    out, err = capsysbinary.readouterr()
    assert (code, out) == (2, b"")
    assert err.decode().count("\n") == 1 and "set CLOSELOOP_POLICY" in err.decode()


@pytest.mark.backends("sqlite")
def test_unreachable_database_is_one_line(env, capsysbinary, tmp_path):
    env.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:9/none?connect_timeout=2")
    code = main(["export"])
    out, err = capsysbinary.readouterr()
    assert (code, out) == (2, b"")
    assert err.decode().count("\n") == 1 and "cannot be opened" in err.decode()


@pytest.mark.backends("postgresql")
def test_postgresql_streams_through_a_server_side_cursor(filled, database_url, monkeypatch):
    """With a server-side cursor the server is seen FETCHing batches while rows are handed out;
    a plain execute would have sent one SELECT and buffered every row client-side."""
    monkeypatch.setattr(storage_export, "BATCH", 1)
    rows = export_rows(database_url)
    assert next(rows)["feedback_id"] == 1
    watcher = create_engine(normalise_url(database_url))
    try:
        with watcher.connect() as connection:
            queries = (
                connection.execute(
                    text(
                        "SELECT query FROM pg_stat_activity"
                        " WHERE pid <> pg_backend_pid() AND datname = current_database()"
                    )
                )
                .scalars()
                .all()
            )
    finally:
        watcher.dispose()
    assert any(q.lstrip().upper().startswith("FETCH FORWARD 1") for q in queries), queries
    assert [row["feedback_id"] for row in rows] == [2, 3]


def test_deadline_rule():
    assert deadline_state(None, at(2), closed=True, now=at(20)) == "none"
    assert deadline_state(at(2), at(2), closed=False, now=at(20)) == "met"
    assert deadline_state(at(2), at(2, 12, 1), closed=False, now=at(20)) == "missed"
    assert deadline_state(at(2), None, closed=False, now=at(2)) == "missed"  # due <= now
    assert deadline_state(at(3), None, closed=False, now=at(2)) == "pending"
    assert deadline_state(at(3), None, closed=True, now=at(2)) == "missed"  # closed without the step


@pytest.mark.process
@pytest.mark.backends("sqlite")
def test_a_reader_that_stops_early_ends_it_quietly(database, database_url, tmp_path):
    with database.connection() as connection:
        connection.execute(
            insert(Feedback),
            [
                {
                    "id": n,
                    "external_id": f"e{n}",
                    "survey": "nps",
                    "score": 9,
                    "category": "promoter",
                    "department": "support",
                    "received_at": at(1),
                    "updated_at": at(1),
                    "raw": {},
                    "comment": "x" * 200,
                }
                for n in range(1, 3001)
            ],
        )
    env = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "export"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=Path(__file__).parent.parent,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith(b"response_id,")
    process.stdout.close()  # as `| head -1` does
    err = process.stderr.read()
    assert process.wait(timeout=60) == 0
    assert err == b""


@pytest.mark.process
def test_the_bench_measures_a_whole_export_and_its_peak_rss(database, database_url, tmp_path):
    prefill(database, cases=500, open_cases=50, due=0, now=at(20))
    seconds, peak_kib = measure_export(database_url, tmp_path)
    assert seconds > 0 and 10_000 < peak_kib < 1_000_000  # a Python process: tens of MiB
    with pytest.raises(ExportFailed, match="exited 2"):
        measure_export("postgresql://postgres@127.0.0.1:9/none?connect_timeout=2", tmp_path)
