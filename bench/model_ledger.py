"""The ledger against its reference model, at length: many more random sequences of payments,
reversals, 概算调整, contracts, change orders, 竣工验收, retention releases, milestones,
progress and certifications than the test suite runs (tests/ledger/test_model.py), each
answer predicted and every report figure compared after every step, the audit chain verified
and the balances reconciled.

    python bench/model_ledger.py                                   # a temporary SQLite file
    python bench/model_ledger.py --database-url postgresql://postgres@127.0.0.1:5432/NAME
    python bench/model_ledger.py --examples 400 --steps 40 --seed 7

A database URL is migrated to the latest schema and written to (each sequence makes a
programme of its own, with unique codes; nothing is deleted). It prints what it ran and,
on a failure, the shortest sequence of requests that shows it, and exits 1.
"""

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, seed, settings  # noqa: E402
from hypothesis.stateful import run_state_machine_as_test  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app import migrate  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import SessionFactory, make_engine, normalise_url  # noqa: E402
from app.ledger.service import reconcile  # noqa: E402
from app.main import create_app  # noqa: E402
from bench.harness import scratch_database  # noqa: E402
from tests.factories import make_keys  # noqa: E402
from tests.ledger.model import Service, machine_for  # noqa: E402


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """The database named, or a temporary SQLite file."""
    if url:
        yield normalise_url(url)
        return
    with scratch_database(None) as scratch:
        yield scratch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--examples", type=int, default=200, help="sequences to run")
    parser.add_argument("--steps", type=int, default=40, help="at most this many steps each")
    parser.add_argument("--seed", type=int, default=None, help="for a reproducible run")
    args = parser.parse_args()

    with database(args.database_url) as url:
        migrate.upgrade(url, "head")
        config = Settings(database_url=url, log_level="WARNING")
        engine = make_engine(config)
        with Session(engine, expire_on_commit=False) as session:
            keys = make_keys(session)

        def problems() -> list[str]:
            with Session(engine) as session:
                return reconcile(session=session)

        app = create_app(config, SessionFactory(engine))
        started = time.monotonic()
        failure: BaseException | None = None
        with TestClient(app, raise_server_exceptions=False) as client:
            service = Service(client, keys.admin, keys.finance, keys.contractor_id, problems)
            machine = machine_for(service)
            if args.seed is not None:
                machine = seed(args.seed)(machine)
            try:
                run_state_machine_as_test(
                    machine,
                    settings=settings(
                        max_examples=args.examples,
                        stateful_step_count=args.steps,
                        deadline=None,
                        database=None,
                        suppress_health_check=list(HealthCheck),
                    ),
                )
            except Exception as exc:  # the failing sequence, as hypothesis prints it
                failure = exc
        seconds = time.monotonic() - started
        engine.dispose()

    print(f"engine: {engine.dialect.name}; examples: {args.examples}, at most {args.steps} steps")
    print(f"seed: {args.seed if args.seed is not None else 'random'}; {seconds:.0f} s")
    for outcome, count in sorted(service.outcomes.items()):
        print(f"  {outcome}: {count}")
    if failure is not None:
        print(f"FAILED: {failure}")
        return 1
    print("every answer as the model predicted; every report figure equal; audit and balances ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
