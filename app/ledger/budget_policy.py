"""The budget policy: the approved estimate (概算) is the ceiling on what is paid.

Every payment is checked against its project's revised estimate, against its budget line's
estimate if it names one, and against its contract's payable limit if it names one, under the
project's lock (app/projects/locks.py). The
project's (or line's) policy says what happens past the ceiling: `warn` posts the payment with
a warning, `block` refuses it until an approved 概算调整 raises the estimate
(政府投资条例 第12、23条). docs/REPORTS.md, The budget policy, has the rules and warning codes.
"""

from decimal import Decimal

from app.contracts.terms import ContractTerms
from app.errors import Conflict
from app.ledger.schemas import BudgetWarning
from app.money import share
from app.projects.models import BudgetPolicy


class BudgetExceeded(Conflict):
    slug, title = "budget-exceeded", "Payment would exceed the approved budget"


def apply_budget_policy(
    *,
    scope: str,
    label: str,
    estimate: Decimal,
    disbursed: Decimal,
    amount: Decimal,
    policy: str,
    threshold: Decimal,
) -> list[BudgetWarning]:
    """Apply a budget policy to one more amount paid against an estimate: beyond it, `block`
    refuses (409 budget-exceeded, with the figures) and `warn` posts with an `over_budget`
    warning; from `threshold` × the estimate on, a `near_budget` warning. `scope` is "project"
    or "budget_line" (whose warning codes start with `line_`)."""
    after = disbursed + amount
    prefix = "" if scope == "project" else "line_"
    if after > estimate:
        figures = {
            "scope": scope,
            "estimate": f"{estimate:.2f}",
            "disbursed": f"{disbursed:.2f}",
            "amount": f"{amount:.2f}",
            "would_be": f"{after:.2f}",
            "over_by": f"{after - estimate:.2f}",
        }
        if policy == BudgetPolicy.block.value:
            raise BudgetExceeded(
                f"{label}: paying {amount:.2f} would bring the total to {after:.2f}, "
                f"above the approved {estimate:.2f}; an approved 概算调整 is needed first",
                **figures,
            )
        return [
            BudgetWarning(
                code=f"{prefix}over_budget",
                message=f"{label}: total paid {after:.2f} exceeds the approved {estimate:.2f} "
                f"by {after - estimate:.2f}",
                share=share(after, estimate),
            )
        ]
    if estimate > 0 and after >= estimate * threshold:
        return [
            BudgetWarning(
                code=f"{prefix}near_budget",
                message=f"{label}: total paid {after:.2f} is {share(after, estimate)} of the "
                f"approved {estimate:.2f} (warning from {threshold})",
                share=share(after, estimate),
            )
        ]
    return []


def apply_contract_limit(
    *, contract_no: str, terms: ContractTerms, amount: Decimal, policy: str
) -> list[BudgetWarning]:
    """A payment on a contract stops at its payable limit: committed × (1 − retention rate)
    until the retention is released (the defects period after 竣工验收 ended, or an early
    release), then committed. Past it, the project's policy refuses (`block`) or warns
    (`contract_over_limit`)."""
    after = terms.paid + amount
    if after <= terms.payable_limit:
        return []
    until = (
        f"its release on {terms.retention_release_date}"
        if terms.retention_release_date is not None
        else "the defects period after 竣工验收 ends"
    )
    held = (
        f", holding {terms.retention_held:.2f} as 质保金 until {until}"
        if terms.retention_held > 0
        else ""
    )
    detail = (
        f"contract {contract_no}: paying {amount:.2f} would bring payments to "
        f"{after:.2f}, above the {terms.payable_limit:.2f} payable on "
        f"{terms.committed:.2f} committed{held}"
    )
    if policy == BudgetPolicy.block.value:
        raise BudgetExceeded(
            detail,
            scope="contract",
            committed=f"{terms.committed:.2f}",
            payable_limit=f"{terms.payable_limit:.2f}",
            paid=f"{terms.paid:.2f}",
            amount=f"{amount:.2f}",
            would_be=f"{after:.2f}",
            over_by=f"{after - terms.payable_limit:.2f}",
            retention_held=f"{terms.retention_held:.2f}",
            retention_release_date=(
                None
                if terms.retention_release_date is None
                else terms.retention_release_date.isoformat()
            ),
        )
    return [
        BudgetWarning(
            code="contract_over_limit", message=detail, share=share(after, terms.committed)
        )
    ]
