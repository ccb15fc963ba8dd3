"""The command line: `python -m app serve | migrate | seed [FILE] [--update] | demo |
keys create|list|revoke | audit verify | ledger reconcile | idempotency purge |
export oc4ids [--programme P] [--as-of D] [--output FILE]`."""

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app import migrate
from app.auth.actor import CLI_ACTOR
from app.auth.models import Role
from app.config import Settings, get_settings
from app.db import SessionFactory, make_engine
from app.errors import DomainError
from app.keys import service as keys
from app.keys.schemas import ApiKeyCreate


def _factory() -> SessionFactory:
    return SessionFactory(make_engine(get_settings()))


def _ready_schema() -> bool:
    """Migrate SQLite in place; elsewhere, say so if the schema is behind the code."""
    settings = get_settings()
    if settings.database_url.startswith("sqlite"):
        migrate.upgrade(settings.database_url)
        return True
    current = migrate.current_revision(settings.database_url)
    if current != migrate.head_revision():
        sys.stderr.write(
            f"the database schema is at {current}, the code needs {migrate.head_revision()}: "
            "run `python -m app migrate` first\n"
        )
        return False
    return True


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def cmd_migrate(args: argparse.Namespace) -> int:
    url = get_settings().database_url
    if args.downgrade:
        migrate.downgrade(url, args.downgrade)
    else:
        migrate.upgrade(url, args.revision)
    _out(f"database at {args.downgrade or args.revision}")
    return 0


def server_options(settings: Settings) -> dict[str, Any]:
    """What `serve` tells uvicorn besides where to listen. Uvicorn has no timeout for a
    request's headers: the reverse proxy in front sets one (README, Deployment)."""
    return {
        "proxy_headers": True,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "log_level": settings.log_level.lower(),
    }


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    if settings.database_url.startswith("sqlite"):
        migrate.upgrade(settings.database_url)
    uvicorn.run(
        "app.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        **server_options(settings),
    )
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from seed import DEFAULT_SEED
    from seed.loader import SeedError, load_file

    if not _ready_schema():
        return 2
    path = Path(args.file) if args.file else DEFAULT_SEED
    try:
        with _factory().begin(write=True) as session:
            result = load_file(session=session, path=path, update=args.update)
    except SeedError as exc:
        sys.stderr.write(f"seed refused, nothing written: {exc}\n")
        return 2
    for line in result.report:
        _out(line)
    _out(f"{path.name}: {result.summary()}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from app.demo.service import DemoError, load_demo
    from app.timeutil import business_today

    if not _ready_schema():
        return 2
    today = business_today(get_settings().business_timezone)
    try:
        with _factory().begin(write=True) as session:
            result = load_demo(session=session, today=today)
    except DemoError as exc:
        sys.stderr.write(f"demo refused, nothing written: {exc}\n")
        return 2
    except DomainError as exc:
        sys.stderr.write(f"demo refused, nothing written: {exc.detail}\n")
        return 2
    for warning in result.warnings:
        _out(f"warning: {warning}")
    _out(result.summary())
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    try:
        data = ApiKeyCreate(name=args.name, role=Role(args.role), contractor_id=args.contractor)
        with _factory().begin(write=True) as session:
            row, plaintext = keys.create_key(
                session=session, actor=CLI_ACTOR, data=data, key_prefix=get_settings().key_prefix
            )
    except (ValidationError, DomainError) as exc:
        sys.stderr.write(f"key not created: {exc}\n")
        return 2
    _out(f"created key {row.id} ({row.role}) {row.name}; shown once, store it now:")
    _out(plaintext)
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    with _factory().begin(write=False) as session:
        rows = keys.list_keys(session=session)
    _out("id\trole\tcontractor\tprefix\tcreated\trevoked\tname")
    for k in rows:
        revoked = k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "-"
        _out(
            f"{k.id}\t{k.role}\t{k.contractor_id or '-'}\t{k.prefix}…\t"
            f"{k.created_at.isoformat(timespec='seconds')}\t{revoked}\t{k.name}"
        )
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    try:
        with _factory().begin(write=True) as session:
            row = keys.revoke_key(session=session, actor=CLI_ACTOR, key_id=args.id)
    except DomainError as exc:
        sys.stderr.write(f"{exc.detail}\n")
        return 2
    _out(f"revoked key {row.id} ({row.name})")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from app.audit.service import verify

    with _factory().begin(write=False) as session:
        result = verify(session=session)
    summary = {"ok": result.ok, "entries": result.entries, "first_broken": result.first_broken}
    _out(json.dumps(summary))
    if not result.ok:
        sys.stderr.write(result.detail + "\n")
    return 0 if result.ok else 1


def cmd_ledger_reconcile(args: argparse.Namespace) -> int:
    from app.ledger.service import reconcile

    with _factory().begin(write=False) as session:
        problems = reconcile(session=session)
    for problem in problems:
        _out(problem)
    _out("balances match the entries" if not problems else f"{len(problems)} balances differ")
    return 0 if not problems else 1


def cmd_idempotency_purge(args: argparse.Namespace) -> int:
    from app.idempotency.service import purge

    hours = get_settings().idempotency_retention_hours
    with _factory().begin(write=True) as session:
        removed = purge(session=session, retention_hours=hours)
    _out(f"removed {removed} idempotency records older than {hours} hours")
    return 0


def _as_of(text: str) -> date:
    """`--as-of`, read as the reports' `as_of` is (an ISO date, not before 1900)."""
    from pydantic import TypeAdapter

    from app.inputs import IsoDate

    try:
        return TypeAdapter(IsoDate).validate_python(text)
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(exc.errors()[0]["msg"]) from None


def cmd_export_oc4ids(args: argparse.Namespace) -> int:
    from app.oc4ids.encoding import exact_json
    from app.oc4ids.service import Publication, project_package
    from app.timeutil import business_today

    settings = get_settings()
    today = business_today(settings.business_timezone)
    try:
        with _factory().begin(write=False) as session:
            package = project_package(
                session=session,
                actor=CLI_ACTOR,
                programme=args.programme,
                as_of=args.as_of or today,
                today=today,
                publication=Publication.of(settings),
            )
    except DomainError as exc:
        sys.stderr.write(f"nothing exported: {exc.detail}\n")
        return 2
    document = exact_json(package)
    if args.output is None:
        sys.stdout.write(document + "\n")
        return 0
    Path(args.output).write_text(document, encoding="utf-8")
    _out(f"{args.output}: {len(package['projects'])} projects as of {args.as_of or today}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP service (migrates first on SQLite)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    mig = sub.add_parser("migrate", help="upgrade the database schema (or --downgrade)")
    mig.add_argument("--revision", default="head")
    mig.add_argument("--downgrade", metavar="REVISION", help="downgrade to REVISION (e.g. base)")
    mig.set_defaults(func=cmd_migrate)

    seed = sub.add_parser(
        "seed",
        help="load a programme file (default: the 专栏7 seed): create what is missing, "
        "report what differs",
    )
    seed.add_argument("file", nargs="?", help="a programme TOML file")
    seed.add_argument(
        "--update",
        action="store_true",
        help="also change existing records where the file differs (audited, each listed)",
    )
    seed.set_defaults(func=cmd_seed)

    sub.add_parser(
        "demo",
        help="add clearly synthetic demo activity （示例） over 2021–2025 on top of the seed "
        "(once: a second run changes nothing)",
    ).set_defaults(func=cmd_demo)

    keys_parser = sub.add_parser("keys", help="API keys")
    keys_sub = keys_parser.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="issue a key; prints it alone on the last line")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--name", required=True)
    create.add_argument("--contractor", type=int, help="contractor id (contractor role only)")
    create.set_defaults(func=cmd_keys_create)
    keys_sub.add_parser("list", help="list keys (never the keys themselves)").set_defaults(
        func=cmd_keys_list
    )
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=cmd_keys_revoke)

    audit_parser = sub.add_parser("audit", help="the audit trail")
    audit_sub = audit_parser.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser(
        "verify", help="recompute the hash chain; exit 1 and name the first broken entry"
    ).set_defaults(func=cmd_audit_verify)

    ledger_parser = sub.add_parser("ledger", help="the disbursement ledger")
    ledger_sub = ledger_parser.add_subparsers(dest="ledger_command", required=True)
    ledger_sub.add_parser(
        "reconcile", help="compare running balances with the entries; exit 1 on any difference"
    ).set_defaults(func=cmd_ledger_reconcile)

    idem_parser = sub.add_parser("idempotency", help="stored responses to Idempotency-Keys")
    idem_sub = idem_parser.add_subparsers(dest="idempotency_command", required=True)
    idem_sub.add_parser(
        "purge", help="forget records older than IDEMPOTENCY_RETENTION_HOURS (run daily)"
    ).set_defaults(func=cmd_idempotency_purge)

    export_parser = sub.add_parser("export", help="publish the data in an open standard")
    export_sub = export_parser.add_subparsers(dest="export_command", required=True)
    oc4ids = export_sub.add_parser(
        "oc4ids",
        help="an OC4IDS 0.9 project package, the same document as GET /api/v1/exports/oc4ids",
    )
    oc4ids.add_argument("--programme", help="the programme's code or id (default: every one)")
    oc4ids.add_argument("--as-of", type=_as_of, help="as of this date (default: today)")
    oc4ids.add_argument("--output", help="write it to this file (default: standard output)")
    oc4ids.set_defaults(func=cmd_export_oc4ids)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
