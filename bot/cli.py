"""`closeloop` — run the bot, try it in a demo, check a policy, migrate the database."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from bot.policy_file import PolicyError, load_policy
from bot.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    import socket

    from slack_sdk import WebClient

    from bot.domain.policy import Policy
    from bot.token_check import TokenCheck
    from bot.wiring import Runtime

log = logging.getLogger("closeloop")


def _configure_logging(verbose: bool) -> None:
    # Alembic logs at INFO while it is being imported; quiet it so `closeloop` output stays readable.
    logging.getLogger("alembic").setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _schema(settings: Settings) -> tuple[str | None, str | None]:
    """(current, latest) schema revision, or one clear line when the database cannot be reached."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from storage.migrate import pending

    try:
        return pending(settings.database_url)
    except SQLAlchemyError as error:
        shown = make_url(settings.database_url).render_as_string(hide_password=True)
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:200]
        raise SettingsError(
            f"DATABASE_URL in {settings.source} ({shown}) cannot be opened: {reason} — check the host, "
            "database name and credentials, or the SQLite file's folder"
        ) from None


def _empty_sqlite(url: str) -> bool:
    """A SQLite database with no tables at all: a new file (or none yet) that nothing has used."""
    from sqlalchemy import create_engine, inspect, pool
    from sqlalchemy.engine import make_url

    from storage.db import normalise_url

    if make_url(normalise_url(url)).get_backend_name() != "sqlite":
        return False
    engine = create_engine(normalise_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return not inspect(connection).get_table_names()
    finally:
        engine.dispose()


def _require_current_schema(settings: Settings) -> None:
    """A new, empty SQLite file gets the schema at once: the embedded default needs no extra step.
    Anything else is left to `closeloop db upgrade`, a step the admin takes knowingly (a backup
    first): an outdated schema, and PostgreSQL always."""
    current, head = _schema(settings)
    if current is None and _empty_sqlite(settings.database_url):
        from storage.migrate import upgrade

        upgrade(settings.database_url)
        log.info("created the database schema (%s) in the new SQLite file at DATABASE_URL", head)
        current, head = _schema(settings)
    if current != head:
        raise SettingsError(
            f"the database at DATABASE_URL is at schema {current or 'none'}, this version needs {head} "
            "— run `closeloop db upgrade` first"
        )


def _check_token(client: WebClient) -> TokenCheck:
    """A bad token stops start-up; a Slack that cannot answer now is asked again later."""
    from bot.token_check import TokenCheck

    def refuse(message: str) -> None:
        raise SettingsError(message)

    check = TokenCheck(client, refuse)
    check.first()
    check.on_bad = lambda message: log.error("%s", message)  # later on, the bot is already serving
    return check


def _connect_socket_mode(runtime: Runtime) -> Any:
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackApiError

    handler = SocketModeHandler(runtime.bolt_app, runtime.settings.slack_app_token)
    try:
        handler.connect()
    except SlackApiError as error:
        raise SettingsError(
            f"Socket Mode could not connect ({error.response.get('error')}) — check that SLACK_APP_TOKEN has "
            "the connections:write scope and that Socket Mode is enabled in your app's settings"
        ) from None
    except OSError as error:
        reason = str(getattr(error, "reason", None) or error)[:120]
        raise SettingsError(
            f"Socket Mode could not reach Slack ({reason}) — check this machine's network or proxy "
            "(HTTPS_PROXY); Socket Mode needs outbound HTTPS and WebSocket access to slack.com"
        ) from None
    log.info("Socket Mode connected: Slack events arrive over a WebSocket")
    return handler


def _cannot_listen(host: str, port: int, error: OSError) -> SettingsError:
    return SettingsError(f"cannot listen on {host}:{port} ({error.strerror}) — set PORT to a free port")


def _announce(host: str, port: int, url: str, workers: int) -> None:
    log.info(
        "closeloop listening on %s:%s%s, e.g. %s from this machine (POST /slack/events, POST /feedback, "
        "GET /healthz)",
        host,
        port,
        f" with {workers} worker processes" if workers > 1 else "",
        url,
    )


def command_run(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    settings = load_settings()
    needed = ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "CLOSELOOP_POLICY"]
    settings.require(*needed, *(["SLACK_APP_TOKEN"] if args.socket else []))
    settings.require_intake_auth()  # a bearer token, a signing secret, or both
    if args.workers < 1 or args.threads < 1:
        raise SettingsError("--workers and --threads take a number from 1 up")
    if args.workers > 1 and make_url(settings.database_url).get_backend_name() != "postgresql":
        raise SettingsError(
            f"--workers {args.workers} needs PostgreSQL: SQLite lets one process write at a time — "
            "run one worker (leave out --workers), or set DATABASE_URL to a PostgreSQL database"
        )
    policy = load_policy(str(settings.policy_path))
    _require_current_schema(settings)
    if args.workers == 1:
        return _serve(args, settings, policy)
    return _serve_with_workers(args, settings, policy)


def _serve_with_workers(args: argparse.Namespace, settings: Settings, policy: Policy) -> int:
    """Check the token once, listen once, then fork the workers: each builds its own runtime
    (engine, threads, scheduler) after the fork and accepts from the shared socket."""
    import os

    from bot.server import Workers, listening_socket
    from bot.wiring import slack_client

    token_check = _check_token(slack_client(settings, retry_connections=True))
    try:
        sock = listening_socket(args.host, settings.port)
    except OSError as error:
        raise _cannot_listen(args.host, settings.port, error) from None
    parent = os.getpid()

    def worker() -> int:
        try:
            return _serve(args, settings, policy, sock=sock, token_check=token_check, parent=parent)
        except (SettingsError, PolicyError) as error:
            print(f"closeloop: {error}", file=sys.stderr)
            return 2

    port = int(sock.getsockname()[1])
    host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    workers = Workers(worker, args.workers)
    _announce(args.host, port, f"http://{host}:{port}", args.workers)
    try:
        code = workers.run()
    finally:
        sock.close()
    log.info("closeloop stopped")
    return code


def _serve(
    args: argparse.Namespace,
    settings: Settings,
    policy: Policy,
    *,
    sock: socket.socket | None = None,
    token_check: TokenCheck | None = None,
    parent: int | None = None,
) -> int:
    """One runtime serving HTTP until SIGTERM or SIGINT: the whole bot, or (with `parent`, the
    pid of the process that forked it) one worker serving the listening socket `sock`."""
    from bot.server import HttpServer, watch_parent
    from bot.wiring import build_runtime

    runtime = build_runtime(settings, policy, http_threads=args.threads)
    socket_handler = None
    try:
        if token_check is None:
            token_check = _check_token(runtime.bolt_app.client)
        if token_check.identity is not None:  # requests are authorised without asking Slack again
            runtime.identity.learn(token_check.identity)
        token_check.on_good = runtime.identity.learn  # if Slack answers only later
        try:
            server = HttpServer(
                runtime.wsgi, host=args.host, port=settings.port, threads=args.threads, sock=sock
            )
        except OSError as error:
            raise _cannot_listen(args.host, settings.port, error) from None
        if args.socket:
            try:
                socket_handler = _connect_socket_mode(runtime)
            except BaseException:
                server.close(timeout=0)  # its threads would outlive the refusal otherwise
                raise
        runtime.start_background()
        if not token_check.settled and runtime.scheduler is not None:
            from bot.token_check import RECHECK_SECONDS

            runtime.scheduler.add_job(
                token_check.again, "interval", seconds=RECHECK_SECONDS, id="token-check"
            )
        stopping = threading.Event()

        def close() -> None:
            if not stopping.is_set():
                stopping.set()
                threading.Thread(target=server.close, daemon=True).start()

        def stop(signum: int, _frame: FrameType | None) -> None:
            if not stopping.is_set():
                level = logging.INFO if parent is None else logging.DEBUG  # the parent says it once
                log.log(level, "received %s: finishing in-flight work", signal.Signals(signum).name)
            close()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if parent is None:
            _announce(args.host, server.port, server.url, 1)
        else:
            watch_parent(parent, close)
        server.serve_forever()
    finally:
        if socket_handler is not None:
            socket_handler.close()
        runtime.close()
    if parent is None:
        log.info("closeloop stopped")
    return 0


def command_db(args: argparse.Namespace) -> int:
    from storage.migrate import upgrade

    settings = load_settings()
    current, head = _schema(settings)  # also proves the database can be reached
    if args.action == "upgrade" and current != head:
        upgrade(settings.database_url)
        current, head = _schema(settings)
    print(f"database schema: {current or 'empty'} (latest: {head})")
    if current != head:
        print("run `closeloop db upgrade` to bring it up to date", file=sys.stderr)
        return 1
    return 0


def command_check(args: argparse.Namespace) -> int:
    from bot.check import run_check

    return run_check(load_settings(), args.policy)


def command_demo(args: argparse.Namespace) -> int:
    if not args.verbose:  # the demo's output is the channels; the log would drown them
        logging.getLogger().setLevel(logging.WARNING)
    from bot.devkit.demo import run_demo

    return run_demo(database_path=args.database, keep=args.keep)


def command_bench(args: argparse.Namespace) -> int:
    if not args.verbose:  # the bench prints its progress and a table; the log would drown them
        logging.getLogger().setLevel(logging.WARNING)
    from bot.devkit.bench.runner import run_bench

    return run_bench(quick=args.quick, database_url=args.database, json_path=args.json)


def command_export(args: argparse.Namespace) -> int:
    from bot.clock import utc_now
    from bot.export_command import run_export

    settings = load_settings()
    _schema(settings)  # one clear line when the database cannot be reached
    return run_export(
        settings,
        since=args.since,
        until=args.until,
        department=args.department,
        fmt=args.format,
        bom=args.bom,
        now=utc_now(),
    )


def command_import(args: argparse.Namespace) -> int:
    from bot.clock import utc_now
    from bot.import_command import run_import

    settings = load_settings()
    if not args.dry_run:
        _require_current_schema(settings)  # one clear line when the database is missing or outdated
    return run_import(
        settings, path=args.file, maps=args.map, survey=args.survey, dry_run=args.dry_run, now=utc_now()
    )


def command_digest(args: argparse.Namespace) -> int:
    from bot.clock import utc_now
    from bot.digest_command import run_digest

    settings = load_settings()
    _require_current_schema(settings)  # one clear line when the database is missing or outdated
    return run_digest(
        settings, department=args.department, week=args.week, send=args.send, chart=args.chart, now=utc_now()
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="closeloop", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="serve Slack and the intake (HTTP, or Socket Mode with --socket)")
    run.add_argument("--socket", action="store_true", help="receive Slack events over Socket Mode")
    run.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the port, each a whole bot (default 1; more needs PostgreSQL)",
    )
    run.add_argument("--threads", type=int, default=8, help="HTTP threads per worker process (default 8)")
    run.set_defaults(handler=command_run)

    demo = sub.add_parser("demo", help="run a whole loop against a simulated Slack workspace")
    demo.add_argument("--database", help="SQLite file to use (default: a temporary one)")
    demo.add_argument("--keep", action="store_true", help="keep the temporary database")
    demo.set_defaults(handler=command_demo)

    bench = sub.add_parser(
        "bench",
        help="measure a real `closeloop run` against a simulated Slack, figure by figure against its goals",
    )
    bench.add_argument("--quick", action="store_true", help="small sizes, under 2 minutes (for CI)")
    bench.add_argument(
        "--database", help="an EMPTY database URL to fill and empty (default: a temporary SQLite file)"
    )
    bench.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    bench.set_defaults(handler=command_bench)

    check = sub.add_parser("check", help="validate a policy file (and channel access, with a token)")
    check.add_argument("--policy", help="policy file (default: CLOSELOOP_POLICY)")
    check.set_defaults(handler=command_check)

    digest = sub.add_parser("digest", help="preview the weekly digest in the terminal, or send it (--send)")
    digest.add_argument("--department", metavar="D", help="a department's digest (default: everyone's)")
    digest.add_argument("--week", metavar="YYYY-Www", help="the ISO week, e.g. 2026-W48 (default: last week)")
    digest.add_argument("--send", action="store_true", help="send it now, unless that week was sent already")
    digest.add_argument("--chart", metavar="FILE", help="also write the chart's PNG to FILE (preview)")
    digest.set_defaults(handler=command_digest)

    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade", "status"])
    db.set_defaults(handler=command_db)

    export = sub.add_parser("export", help="write every response with its case to stdout (CSV or JSON lines)")
    export.add_argument("--since", metavar="DATE", help="received on or after DATE (YYYY-MM-DD, UTC)")
    export.add_argument("--until", metavar="DATE", help="received on or before DATE (YYYY-MM-DD, UTC)")
    export.add_argument("--department", metavar="D", help="one department's (a name from the policy)")
    export.add_argument("--format", choices=["csv", "jsonl"], default="csv", help="default csv")
    export.add_argument("--bom", action="store_true", help="start the CSV with a UTF-8 BOM (for Excel)")
    export.set_defaults(handler=command_export)

    imp = sub.add_parser("import", help="load survey responses in bulk from a CSV file (history, live cases)")
    imp.add_argument("file", metavar="FILE.csv", help="UTF-8 CSV, its first line naming the columns")
    imp.add_argument(
        "--map",
        metavar="COLUMN=FIELD",
        action="append",
        default=[],
        help="read FIELD (id, score, comment, customer_email, ...) from COLUMN; repeat for each",
    )
    imp.add_argument("--survey", choices=["nps", "csat", "ces"], help="the survey of rows that name none")
    imp.add_argument("--dry-run", action="store_true", help="show the routing it would apply; write nothing")
    imp.set_defaults(handler=command_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        return int(args.handler(args))
    except (SettingsError, PolicyError) as error:
        print(f"closeloop: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
