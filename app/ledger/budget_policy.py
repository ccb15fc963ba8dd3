"""The budget policy: the approved estimate (概算) is the ceiling on what is paid.

Every payment is checked against its project's revised estimate, and against its budget
line's estimate if it names one, under the project's lock (app/projects/locks.py). The
project's (or line's) policy says what happens past the ceiling: `warn` posts the payment with
a warning, `block` refuses it until an approved 概算调整 raises the estimate
(政府投资条例 第12、23条). docs/REPORTS.md, section 8, has the rules and warning codes.
"""

from decimal import Decimal

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
