"""What a write body names a record by: its id (`project_id`) or what reads show of it
(`project`: the code `ZL7-2B`; `budget_line`: `ZL7-6-1`; `contract`: its number; `contractor`:
its 统一社会信用代码). A body gives one or the other; the service turns either into the id here,
the same way the CSV import and the URLs do (digits are an id, anything else a code)."""

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.contractors.models import Contractor
from app.contracts.models import Contract
from app.errors import InvalidInput
from app.inputs import SafeText
from app.params import MAX_ID, ref_clause
from app.projects.models import BudgetLine, Project

RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
# A reference in a body: an id written as text, or what reads show (code, number, credit code).
Ref = Annotated[SafeText, Field(min_length=1, max_length=64)]


def chosen(body: Any, name: str, *, required: bool) -> str | None:
    """The reference a body gives for `name`: `{name}_id` or `{name}`, not both (422 naming
    `{name}`); None when it gives neither and the reference is optional."""
    by_id, by_ref = getattr(body, f"{name}_id"), getattr(body, name)
    if by_id is not None and by_ref is not None:
        raise InvalidInput(f"give {name}_id or {name}, not both", field=name)
    if by_id is None and by_ref is None:
        if required:
            raise InvalidInput(f"{name}_id or {name} is required", field=f"{name}_id")
        return None
    return str(by_id) if by_id is not None else str(by_ref)


def _missing(name: str, ref: str, of: str = "") -> InvalidInput:
    return InvalidInput(f"{of}no {name.replace('_', ' ')} {ref}", field=name)


def project_id(session: Session, body: Any) -> int:
    """The project a body names by `project_id` (taken as given: the service checks it) or
    `project` (id or code; 422 if there is none)."""
    ref = chosen(body, "project", required=True)
    assert ref is not None
    if body.project_id is not None:
        return int(body.project_id)
    found = session.exec(
        select(Project.id).where(ref_clause(Project.id, Project.code, ref))
    ).first()
    if found is None:
        raise _missing("project", ref)
    return found


def budget_line_id(session: Session, body: Any, project_id: int) -> int | None:
    """The budget line of the project a body names by `budget_line_id` (as given) or
    `budget_line` (id or code; 422 if the project has no such line), or None."""
    ref = chosen(body, "budget_line", required=False)
    if ref is None or body.budget_line_id is not None:
        return body.budget_line_id  # type: ignore[no-any-return]
    found = session.exec(
        select(BudgetLine.id).where(
            BudgetLine.project_id == project_id, ref_clause(BudgetLine.id, BudgetLine.code, ref)
        )
    ).first()
    if found is None:
        raise _missing("budget_line", ref, of=f"project {project_id} has ")
    return found


def contract_id(session: Session, body: Any, project_id: int) -> int | None:
    """The contract of the project a body names by `contract_id` (as given) or `contract`
    (id or number; 422 if the project has no such contract), or None."""
    ref = chosen(body, "contract", required=False)
    if ref is None or body.contract_id is not None:
        return body.contract_id  # type: ignore[no-any-return]
    found = session.exec(
        select(Contract.id).where(
            Contract.project_id == project_id,
            or_(
                col(Contract.contract_no) == ref, ref_clause(Contract.id, Contract.contract_no, ref)
            ),
        )
    ).first()
    if found is None:
        raise _missing("contract", ref, of=f"project {project_id} has ")
    return found


def contractor_id(session: Session, body: Any) -> int:
    """The contractor a body names by `contractor_id` (as given) or `contractor` (id or
    统一社会信用代码; 422 if there is none)."""
    ref = chosen(body, "contractor", required=True)
    assert ref is not None
    if body.contractor_id is not None:
        return int(body.contractor_id)
    found = session.exec(
        select(Contractor.id).where(ref_clause(Contractor.id, Contractor.credit_code, ref))
    ).first()
    if found is None:
        raise _missing("contractor", ref)
    return found


Body = TypeVar("Body", bound=BaseModel)


def with_ids(session: Session, body: Body) -> Body:
    """The body with every reference it gives by code turned into its id: what the services
    check and store. A payment, a contract or a milestone can name each by either."""
    ids: dict[str, Any] = {"project_id": project_id(session, body), "project": None}
    if "budget_line" in type(body).model_fields:
        ids["budget_line_id"] = budget_line_id(session, body, ids["project_id"])
        ids["budget_line"] = None
    if "contract" in type(body).model_fields:
        ids["contract_id"] = contract_id(session, body, ids["project_id"])
        ids["contract"] = None
    if "contractor" in type(body).model_fields:
        ids["contractor_id"] = contractor_id(session, body)
        ids["contractor"] = None
    return body.model_copy(update=ids)
