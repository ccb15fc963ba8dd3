from tests.ledger.conftest import balances_reconcile

__all__ = ["balances_reconcile"]
