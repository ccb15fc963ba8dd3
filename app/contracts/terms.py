"""A contract's terms: what is committed, what may be paid, what is retained (质保金).

财建〔2022〕183号 and 建质〔2017〕138号 (docs/REPORTS.md, Contracts and retention): before
竣工验收 payments on a contract stop at committed × (1 − retention rate); after it, at
committed, the rest being retention that falls due when the defects-liability period ends.
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
    """One contract's terms, in 元, given what was paid and whether it was accepted."""

    committed: Decimal  # the price plus approved price change orders
    paid: Decimal
    payable_limit: Decimal  # what may be paid in all, now
    payable_now: Decimal  # payable_limit − paid, never below zero
    retention_held: Decimal  # committed but held back, never below zero
    retention_due_on: date | None  # end of the defects period after 竣工验收
    financial_completion: Decimal | None  # paid / committed


def contract_terms(
    *,
    amount: Decimal,
    changes: Decimal,
    paid: Decimal,
    retention_rate: Decimal,
    accepted_on: date | None,
    defects_months: int,
) -> ContractTerms:
    """The terms of a contract of price `amount`, with price changes `changes`, on which
    `paid` has been paid, accepted on `accepted_on` (None: not yet)."""
    committed = amount + changes
    retention = round_fen(committed * retention_rate)
    limit = committed if accepted_on is not None else committed - retention
    return ContractTerms(
        committed=committed,
        paid=paid,
        payable_limit=limit,
        payable_now=max(Decimal(0), limit - paid),
        retention_held=max(Decimal(0), min(retention, committed - paid)),
        retention_due_on=None if accepted_on is None else later(accepted_on, months=defects_months),
        financial_completion=share(paid, committed),
    )
