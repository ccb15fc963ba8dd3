from collections.abc import Iterator

import pytest
from sqlmodel import Session

from app.ledger.service import reconcile


@pytest.fixture(autouse=True)
def balances_reconcile(session: Session) -> Iterator[None]:
    """After every ledger test, the running balances equal a recomputation from the entries.
    tests/contracts, tests/revisions and tests/funding import it into their conftest too."""
    yield
    session.expire_all()
    assert reconcile(session=session) == []
