"""`closeloop import FILE.csv`: bulk history, validated as `/feedback` validates, idempotent on the
response id, on SQLite and PostgreSQL, through `closeloop`'s own `main`.

The files are generated in the tests (bot/devkit/bench/import_run.py writes them), never committed.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from bot.cli import main
from bot.devkit.bench.import_run import bad_line_numbers, write_responses_csv
from bot.import_command import MAX_LISTED
from bot.policy_file import PolicyError, parse_policy
from storage.bulk_import import NO_MESSAGE_TS
from storage.db import Database
from storage.models import Case, CaseEvent, Deadline, Delivery, Feedback, ThemeTag

pytestmark = pytest.mark.backends("sqlite", "postgresql")

POLICY = Path(__file__).parent.parent / "bot" / "examples" / "policy.yml"
NOW = datetime.now(UTC)  # the command's clock is the real one: files are written around it
TABLES = ("feedback", "cases", "case_events", "deadlines", "deliveries", "theme_tags")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> pytest.MonkeyPatch:
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "CLOSELOOP_INTAKE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CLOSELOOP_POLICY", str(POLICY))
    return monkeypatch


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["import", *args])
    out, err = capsys.readouterr()
    return code, out, err


def write(path: Path, header: list[str], rows: list[list[Any]], *, encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def dump(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables an import writes, to compare before and after."""
    with database.engine.connect() as connection:
        return {
            table: [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
            for table in TABLES
        }


def count(database: Database, model: Any, *where: Any) -> int:
    with database.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def old(days: int = 40) -> str:
    return (NOW - timedelta(days=days)).isoformat()


HEADER = ["id", "survey", "score", "comment", "customer_email", "tags", "submitted_at"]


def small_file(tmp_path: Path) -> Path:
    return write(
        tmp_path / "small.csv",
        HEADER,
        [
            ["a-1", "nps", 2, "The invoice was wrong", "a@example.com", "", old()],
            ["a-2", "nps", 9, "Lovely", "", "", old()],
            ["a-3", "csat", 1, "Bug in the export", "", "bug", old(100)],
            ["a-4", "nps", 7, "", "", "", old(400)],
        ],
    )


def test_a_100k_file_with_1_percent_bad_rows(env, capsys, tmp_path, database):
    """Every bad row is refused with its line and reason, the first MAX_LISTED listed and the rest
    counted; the others are stored; only the recent ones open live cases; exit status 1."""
    path = tmp_path / "history.csv"
    write_responses_csv(path, 100_000, NOW, recent=30, bad_every=100)
    code, out, err = run(capsys, str(path))
    assert code == 1
    bad = bad_line_numbers(100_000, 100)
    assert len(bad) == 1000
    listed = [line for line in err.splitlines() if line.startswith("line ")]
    assert [int(line.split(":")[0].removeprefix("line ")) for line in listed] == bad[:MAX_LISTED]
    assert "refused — score: must be from 0 to 10 for nps" in listed[0]
    assert "refused — score: Input should be a valid integer" in listed[1]
    assert "refused — survey:" in listed[2]
    assert "refused — id: Field required" in listed[3]
    assert "refused — customer.email: is not an email address" in listed[4]
    assert f"… and {1000 - MAX_LISTED} more refused rows (not listed)" in err
    summary = out.strip().splitlines()[-1]
    assert "100,000 rows read, 99,000 imported, 0 updated, 0 unchanged, 1,000 refused" in summary
    assert count(database, Feedback) == 99_000
    # the newest 30 rows: 27 detractors or passives (3 are promoters), the last one is bad
    live = count(database, Case, Case.status == "new")
    assert live == 26
    assert f"{live} opened as live cases" in summary
    history = count(database, Case, Case.status == "closed")
    assert history == count(database, Feedback, Feedback.category != "promoter") - live
    assert count(database, Case, Case.status == "closed", Case.slack_ts == NO_MESSAGE_TS) == history
    # history owes Slack nothing and has no deadlines; live cases have theirs
    with database.transaction() as session:
        history_ids = select(Case.id).where(Case.status == "closed")
        assert session.scalar(select(func.count()).where(Deadline.case_id.in_(history_ids))) == 0
        assert session.scalar(select(func.count()).where(Delivery.case_id.in_(history_ids))) == 0
        assert session.scalar(select(func.count()).where(CaseEvent.case_id.in_(history_ids))) == 0
    assert count(database, Deadline) > 0
    assert count(database, Delivery, Delivery.case_id.is_(None)) <= 3  # recent promoters' notices


def test_a_reimport_changes_nothing_and_says_so(env, capsys, tmp_path, database):
    path = small_file(tmp_path)
    code, out, _ = run(capsys, str(path))
    assert code == 0
    assert "4 rows read, 4 imported, 0 updated, 0 unchanged, 0 refused" in out
    assert "0 opened as live cases, 4 stored as history" in out
    with database.transaction() as session:  # survey tags become theme rows, as at intake
        assert [(t.theme, t.department) for t in session.scalars(select(ThemeTag))] == [("bug", "product")]
    before = dump(database)
    code, out, _ = run(capsys, str(path))
    assert code == 0
    assert "0 imported, 0 updated, 4 unchanged" in out
    assert out.strip().endswith("— nothing changed")
    assert dump(database) == before


def test_a_changed_row_updates_its_history_quietly(env, capsys, tmp_path, database):
    run(capsys, str(small_file(tmp_path)))
    changed = write(
        tmp_path / "changed.csv",
        HEADER,
        [["a-1", "nps", 2, "The invoice was wrong, and nobody called", "a@example.com", "refund", old()]],
    )
    code, out, _ = run(capsys, str(changed))
    assert code == 0
    assert "0 imported, 1 updated, 0 unchanged" in out
    with database.transaction() as session:
        feedback = session.scalars(select(Feedback).where(Feedback.external_id == "a-1")).one()
        assert feedback.comment == "The invoice was wrong, and nobody called"
        assert feedback.revision == 2
        case = session.scalars(select(Case).where(Case.feedback_id == feedback.id)).one()
        assert (case.status, case.department, case.version, case.message_version) == (
            "closed",
            "billing",
            1,
            1,
        )
        themes = [(t.theme, t.department) for t in session.scalars(select(ThemeTag))]
    assert sorted(themes) == [("bug", "product"), ("refund", "billing")]
    assert count(database, Delivery) == 0


def test_columns_are_renamed_with_map_and_the_survey_given_once(env, capsys, tmp_path, database):
    path = write(
        tmp_path / "tool.csv",
        ["Response ID", "NPS", "Feedback", "E-mail", "Answered"],
        [["t-1", "3", "Charged twice", "x@example.com", old()], ["t-2", "10", "", "", old()]],
    )
    code, out, err = run(
        capsys,
        str(path),
        "--map",
        "Response ID=id",
        "--map",
        "NPS=score",
        "--map",
        "Feedback=comment",
        "--map",
        "e-mail=customer_email",
        "--map",
        "Answered=submitted_at",
        "--survey",
        "nps",
    )
    assert (code, err) == (0, "")
    assert "2 imported" in out
    with database.transaction() as session:
        rows = {f.external_id: f for f in session.scalars(select(Feedback))}
    assert rows["t-1"].survey == "nps" and rows["t-1"].score == 3 and rows["t-1"].comment == "Charged twice"
    assert rows["t-1"].customer_email == "x@example.com" and rows["t-1"].department == "billing"
    assert rows["t-2"].category == "promoter" and rows["t-2"].comment is None


def test_dry_run_shows_the_routing_and_writes_nothing(env, capsys, tmp_path, database):
    rows = [[f"d-{n}", "nps", n % 7, "refund please" if n % 2 else "slow", "", "", old()] for n in range(12)]
    path = write(tmp_path / "dry.csv", HEADER, [*rows, ["d-bad", "nps", 12, "", "", "", old()]])
    before = dump(database)
    code, out, err = run(capsys, str(path), "--dry-run")
    assert code == 1  # one row refused, as the import itself would
    assert "line 14: refused — score: must be from 0 to 10 for nps" in err
    assert dump(database) == before
    lines = out.splitlines()
    billing = next(i for i, line in enumerate(lines) if line.startswith("  billing · detractor: 6 rows"))
    assert "0 live cases, 6 closed history" in lines[billing]
    examples = lines[billing + 1 : billing + 6]
    assert examples[0] == "      line 3: d-1 (NPS 1/10)"
    assert all(line.startswith("      line ") for line in examples)
    assert not lines[billing + 6].startswith("      line ")  # five examples, not six
    assert any(line.startswith("  support · detractor: 6 rows") for line in lines)
    assert "13 rows read, 12 valid, 1 refused; nothing written" in lines[-1]


def test_hostile_content_is_stored_as_is_or_refused_with_its_reason(env, capsys, tmp_path, database):
    long_ok, too_long = "x" * 10_000, "y" * 10_001
    path = write(
        tmp_path / "hostile.csv",
        [*HEADER, "customer_value"],
        [
            ["h-1", "nps", 1, "<!channel> <@U123> & <https://evil.example|click>", "", "", old(), ""],
            ["h-2", "nps", 1, '=HYPERLINK("http://evil.example","x")', "", "", old(), ""],
            ["h-3", "nps", 1, long_ok, "", "", old(), ""],
            ["h-4", "nps", 1, too_long, "", "", old(), ""],
            ["h-5", "nps", 1, "nul\x00byte", "", "", old(), ""],
            ["h-6", "nps", "7.5", "", "", "", old(), ""],
            ["h-7", "nps", 3, "", "", "", "yesterday", ""],
            ["h-8", "nps", 3, "", "", "", old(), "lots"],
            ["h-9", "NPS", 3, "", "", ",,;", old(), "12.5"],
        ],
    )
    code, out, err = run(capsys, str(path))
    assert code == 1
    refused = dict(line.split(": refused — ", 1) for line in err.splitlines())
    assert set(refused) == {"line 5", "line 7", "line 8", "line 9"}
    assert refused["line 5"].startswith("comment: String should have at most 10000 characters")
    assert refused["line 7"].startswith("score: Input should be a valid integer")
    assert refused["line 8"].startswith("submitted_at: Input should be a valid datetime")
    assert refused["line 9"] == "customer.value: must be a number"
    assert "5 imported" in out
    with database.transaction() as session:
        comments = {f.external_id: f.comment for f in session.scalars(select(Feedback))}
        value = session.scalar(select(Feedback.customer_value).where(Feedback.external_id == "h-9"))
    assert comments["h-1"] == "<!channel> <@U123> & <https://evil.example|click>"
    assert comments["h-2"] == '=HYPERLINK("http://evil.example","x")'
    assert comments["h-3"] == long_ok
    assert comments["h-5"] == "nulbyte"  # PostgreSQL refuses NUL; the intake drops it too
    assert float(value) == 12.5


def test_a_file_without_the_needed_columns_names_them_and_the_map_to_use(env, capsys, tmp_path, database):
    path = write(tmp_path / "tool.csv", ["Response", "NPS", "Comment"], [["x", "3", "y"]])
    code, _, err = run(capsys, str(path))
    assert code == 2
    assert err.strip() == (
        f"closeloop: {path}: no column for id, score, survey — its columns are: 'Response', 'NPS', "
        "'Comment'; name them with --map 'Response=id' --map 'NPS=score' --survey nps (or csat, ces) "
        "when every row is of one survey"
    )
    assert count(database, Feedback) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--map", "score"], "--map 'score': write COLUMN=FIELD, e.g. --map 'Response ID=id'"),
        (["--map", "NPS=scor"], "--map 'NPS=scor': no field 'scor' — did you mean score?"),
        (["--map", "Nope=score"], "--map Nope=score: {path} has no column 'Nope' — its columns are: 'id'"),
        (["--map", "id=score", "--map", "score=score"], "score is already fed by column 'id'"),
    ],
)
def test_a_bad_map_is_one_line_naming_the_fix(env, capsys, tmp_path, database, args, message):
    path = small_file(tmp_path)
    code, out, err = run(capsys, str(path), *args)
    assert (code, out) == (2, "")
    assert message.format(path=path) in err
    assert len(err.strip().splitlines()) == 1
    assert count(database, Feedback) == 0


def test_unreadable_files_and_wrong_encodings_are_refused_before_anything_is_written(
    env, capsys, tmp_path, database
):
    latin = write(
        tmp_path / "latin.csv", HEADER, [["l-1", "nps", 2, "café", "", "", old()]], encoding="cp1252"
    )
    utf16 = write(tmp_path / "u16.csv", HEADER, [["l-1", "nps", 2, "café", "", "", old()]], encoding="utf-16")
    (tmp_path / "empty.csv").write_bytes(b"")
    cases = {
        str(tmp_path / "missing.csv"): "no such file — check the path",
        str(tmp_path): "is a folder — give the CSV file's path",
        str(latin): "is not UTF-8 (line 2 has the byte 0xe9): save it as UTF-8",
        str(utf16): "is UTF-16, not UTF-8: save it as UTF-8",
        str(tmp_path / "empty.csv"): "is empty — its first line must name the columns",
    }
    for path, message in cases.items():
        code, _, err = run(capsys, path)
        assert code == 2, path
        assert message in err, err
    assert count(database, Feedback) == 0


def test_a_bom_is_accepted_and_a_bad_line_later_in_the_file_is_refused(env, capsys, tmp_path, database):
    """A line that is not UTF-8 past the part checked up front refuses its row only."""
    padding = "p" * 8000
    rows = [f"b-{n},nps,3,{padding},,,{old()}\r\n".encode() for n in range(10)]
    rows.append(f"b-x,nps,3,caf\xe9,,,{old()}\r\n".encode("latin-1"))
    rows.append(f"b-10,nps,3,fine,,,{old()}\r\n".encode())
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeff".encode() + ",".join(HEADER).encode() + b"\r\n" + b"".join(rows))
    code, out, err = run(capsys, str(path))
    assert code == 1
    assert err.startswith("line 12: refused — not UTF-8 text: save it as UTF-8")
    assert "11 imported" in out
    with database.transaction() as session:
        assert "b-x" not in set(session.scalars(select(Feedback.external_id)))
    assert count(database, Feedback) == 11


def test_a_response_twice_in_one_file_is_stored_once_the_second_updating_it(env, capsys, tmp_path, database):
    path = write(
        tmp_path / "twice.csv",
        HEADER,
        [["r-1", "nps", 3, "", "", "", old()], ["r-1", "nps", 3, "Now with a comment", "", "", old()]],
    )
    code, out, _ = run(capsys, str(path))
    assert code == 0
    assert "1 imported, 1 updated" in out
    with database.transaction() as session:
        assert session.scalars(select(Feedback.comment)).all() == ["Now with a comment"]
    assert count(database, Case) == 1


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        (
            {"open_cases_newer_than": "400d"},
            "policy.yml: import.open_cases_newer_than: must be between 0s (no imported response opens a "
            "live case) and 365d — 14d is a good default",
        ),
        (
            {"open_cases_newer_than": "soon"},
            "policy.yml: import.open_cases_newer_than: 'soon' is not a duration — write a number with a "
            "unit: s, m, h or d (e.g. 30m, 4h, 1h30m)",
        ),
        (
            {"open_cases_older": "3d"},
            "policy.yml: import.open_cases_older: Extra inputs are not permitted — remove it or check "
            "its spelling",
        ),
    ],
)
def test_the_policy_import_section_names_the_field_and_the_fix(raw_policy, section, problem):
    raw_policy["import"] = section
    with pytest.raises(PolicyError) as caught:
        parse_policy(raw_policy, "policy.yml")
    assert caught.value.problems == [problem]


def test_the_import_window_defaults_to_14_days_and_0s_opens_no_live_case(raw_policy):
    assert parse_policy(raw_policy, "policy.yml").import_.open_cases_newer_than == timedelta(days=14)
    raw_policy["import"] = {"open_cases_newer_than": "0s"}
    window = parse_policy(raw_policy, "policy.yml").import_
    assert not window.opens_live_case(NOW - timedelta(seconds=1), NOW)
    raw_policy["import"] = {"open_cases_newer_than": "1d"}
    window = parse_policy(raw_policy, "policy.yml").import_
    assert window.opens_live_case(NOW - timedelta(hours=23), NOW)
    assert not window.opens_live_case(NOW - timedelta(hours=25), NOW)
    assert not window.opens_live_case(None, NOW)


def test_the_bench_measures_the_import_into_its_database_and_sqlite(database_url, database, tmp_path):
    from bot.devkit.bench.import_run import import_figures
    from bot.devkit.bench.policy import write_policy
    from bot.devkit.bench.report import Report

    report = Report()
    import_figures(database_url, tmp_path, write_policy(tmp_path), report, 2000)
    backends = ["postgresql", "sqlite"] if database.is_postgres else ["sqlite"]
    assert [f.measure for f in report.figures] == [f"closeloop import, 2k rows, {b}" for b in backends]
    assert all(f.value > 0 and f.unit == "rows/s" for f in report.figures)
    assert all("2,000 rows read, 2,000 imported" in note for note in report.notes)
    assert count(database, Feedback) == 2000
    assert count(database, Case, Case.status == "new") == 18  # the 20 recent rows less 2 promoters
