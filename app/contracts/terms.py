"""A contract's terms: what is committed, what may be paid, what is retained (质保金).

财建〔2022〕183号 and 建质〔2017〕138号 第7条 (docs/REPORTS.md, Contracts and retention):
payments on a contract stop at committed × (1 − retention rate) until the retention is
released, then at committed. It is released when the defects-liability period after 竣工验收
ends, or earlier by an explicit finance action (e.g. against a bank guarantee, 银行保函).
The contract list, the ledger's check of a payment, the project report and the dues report
all take a contract's terms from `contract_terms`.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from app.money import round_fen, share
from app.timeutil import later


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """One contract's terms on a date, in 元, given what was paid by then."""

    committed: Decimal  # the price plus approved price change orders
    paid: Decimal
    payable_limit: Decimal  # what may be paid in all, on the date
    payable_now: Decimal  # payable_limit − paid, never below zero
    retention_planned: Decimal  # committed × rate, to the fen
    retention_unpaid: Decimal  # the retention not yet paid, held or released
    retention_held: Decimal  # what is held back of what is unpaid: 0 once released
    retention_due_on: date | None  # end of the defects period after 竣工验收
    retention_release_date: date | None  # the due date, or an earlier early release
    financial_completion: Decimal | None  # paid / committed


def contract_terms(
    *,
    amount: Decimal,
    changes: Decimal,
    paid: Decimal,
    retention_rate: Decimal,
    accepted_on: date | None,
    defects_months: int,
    released_on: date | None,
    on: date,
) -> ContractTerms:
    """The terms on the date `on` of a contract of price `amount`, with price changes
    `changes`, on which `paid` has been paid, accepted on `accepted_on` and its retention
    released early on `released_on` (None: not yet, or not by `on`)."""
    committed = amount + changes
    retention = round_fen(committed * retention_rate)
    due_on = None if accepted_on is None else later(accepted_on, months=defects_months)
    release = min((d for d in (due_on, released_on) if d is not None), default=None)
    released = release is not None and release <= on
    limit = committed if released else committed - retention
    unpaid = max(Decimal(0), min(retention, committed - paid))
    return ContractTerms(
        committed=committed,
        paid=paid,
        payable_limit=limit,
        payable_now=max(Decimal(0), limit - paid),
        retention_planned=retention,
        retention_unpaid=unpaid,
        retention_held=Decimal(0) if released else unpaid,
        retention_due_on=due_on,
        retention_release_date=release,
        financial_completion=share(paid, committed),
    )
