"""`python -m app serve | migrate | seed [FILE] | keys create|list|revoke`."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from app import migrate
from app.auth import service as keys
from app.auth.actor import CLI_ACTOR
from app.auth.models import Role
from app.auth.schemas import ApiKeyCreate
from app.config import get_settings
from app.db import SessionFactory, make_engine
from app.errors import DomainError


def _factory() -> SessionFactory:
    return SessionFactory(make_engine(get_settings()))


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
        proxy_headers=True,
        log_level=settings.log_level.lower(),
    )
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from seed import DEFAULT_SEED
    from seed.loader import SeedError, load_file

    settings = get_settings()
    if settings.database_url.startswith("sqlite"):
        migrate.upgrade(settings.database_url)
    path = Path(args.file) if args.file else DEFAULT_SEED
    try:
        with _factory().begin(write=True) as session:
            result = load_file(session=session, path=path)
    except SeedError as exc:
        sys.stderr.write(f"seed refused, nothing written: {exc}\n")
        return 2
    _out(f"{path.name}: {result.summary()}")
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

    seed = sub.add_parser("seed", help="load a programme file (default: the 专栏7 seed)")
    seed.add_argument("file", nargs="?", help="a programme TOML file")
    seed.set_defaults(func=cmd_seed)

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
