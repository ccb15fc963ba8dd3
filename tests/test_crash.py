"""kill -9 in the middle of concurrent payments loses nothing and duplicates nothing
(bench/crash_safety.py, run small, on the same engine as the rest of the suite)."""

import os

import pytest

from bench.crash_safety import run


@pytest.mark.slow
def test_kill_dash_nine_mid_load(engine: object) -> None:
    report = run(os.environ.get("TEST_DATABASE_URL"), payments=150, clients=6)
    assert report.acknowledged_before_kill > 0
    assert report.unacknowledged_at_kill > 0
    assert report.entries_in_ledger == report.payments
    assert report.ledger_sum == report.expected_sum
    assert report.duplicate_vouchers == 0
    assert report.replayed_identically == report.acknowledged_before_kill
    assert report.balances_reconcile and report.audit_chain_ok
