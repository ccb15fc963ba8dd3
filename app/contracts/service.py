"""Contracts and change orders: what is committed, what has been paid, what is retained."""

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.auth.actor import Actor
from app.auth.scope import own_contracts
from app.contractors.service import contractor_id_of
from app.contracts.models import ChangeKind, ChangeOrder, Contract, ContractBalance
from app.contracts.schemas import (
    AcceptanceCreate,
    ChangeOrderCreate,
    ContractCreate,
    ContractRead,
    ContractUpdate,
    RetentionRelease,
)
from app.contracts.terms import contract_terms
from app.errors import Conflict, InvalidInput, NotFound
from app.inputs import identifier_key
from app.milestones.models import Milestone
from app.money import money_sum
from app.params import Pagination, check_if_match, chunks, etag_for, page_of, plain_id
from app.projects.locks import lock_project_balance
from app.projects.models import Project
from app.projects.service import project_id_of
from app.timeutil import check_event_date


class CommitmentTooLow(Conflict):
    slug = "commitment-below-paid-or-certified"
    title = "Committed amount would fall below what is paid or certified"


def contract_reads(
    *, session: Session, contracts: list[Contract], today: date
) -> list[ContractRead]:
    """Each contract with its terms (app/contracts/terms.py) today."""
    ids = [c.id for c in contracts]
    changes = dict(
        session.exec(
            select(col(ChangeOrder.contract_id), money_sum(ChangeOrder.delta))
            .where(col(ChangeOrder.contract_id).in_(ids))
            .group_by(col(ChangeOrder.contract_id))
        ).all()
    )
    paid = dict(
        session.exec(
            select(col(ContractBalance.contract_id), col(ContractBalance.paid)).where(
                col(ContractBalance.contract_id).in_(ids)
            )
        ).all()
    )
    return [
        ContractRead(
            **c.model_dump(),
            **asdict(
                contract_terms(
                    amount=c.amount,
                    changes=Decimal(changes.get(c.id or 0, 0)),
                    paid=Decimal(paid.get(c.id or 0, 0)),
                    retention_rate=c.retention_rate,
                    accepted_on=c.accepted_on,
                    defects_months=c.defects_months,
                    released_on=c.retention_released_on,
                    on=today,
                )
            ),
        )
        for c in contracts
    ]


def list_contracts(
    *,
    session: Session,
    actor: Actor,
    project_id: int | None,
    contractor_id: int | None,
    page: Pagination,
    today: date,
) -> tuple[list[ContractRead], int]:
    clauses = own_contracts(actor, col(Contract.id))
    if project_id is not None:
        clauses.append(col(Contract.project_id) == project_id)
    if contractor_id is not None:
        clauses.append(col(Contract.contractor_id) == contractor_id)
    rows, total = page_of(session, Contract, clauses, page, col(Contract.id))
    return contract_reads(session=session, contracts=rows, today=today), total


def get_contract(
    *, session: Session, actor: Actor, contract_id: int, for_update: bool = False
) -> Contract:
    contract = session.exec(
        select(Contract).where(Contract.id == contract_id, *own_contracts(actor, col(Contract.id)))
    ).first()
    if contract is None:
        raise NotFound(f"contract {contract_id} not found")
    if for_update:
        lock_project_balance(session, contract.project_id)
        contract = session.exec(
            select(Contract)
            .where(Contract.id == contract_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
    return contract


def create_contract(
    *, session: Session, actor: Actor, data: ContractCreate, today: date
) -> Contract:
    project_id = project_id_of(
        session=session, actor=actor, ref=data.project_id, field="project_id"
    )
    contractor_id = contractor_id_of(session=session, ref=data.contractor_id, field="contractor_id")
    data = data.model_copy(update={"project_id": project_id, "contractor_id": contractor_id})
    if session.get(Project, data.project_id) is None:
        raise InvalidInput(f"project {data.project_id} does not exist", field="project_id")
    clash = session.exec(
        select(Contract.id).where(
            Contract.project_id == data.project_id,
            Contract.contract_key == identifier_key(data.contract_no),
        )
    ).first()
    if clash is not None:
        raise Conflict(
            f"contract {data.contract_no} is already recorded for this project (contract {clash})"
        )
    check_event_date(data.signed_on, field="signed_on", today=today)
    if data.planned_finish and data.planned_finish < data.signed_on:
        raise InvalidInput("planned_finish must not be before signed_on", field="planned_finish")
    contract = Contract(**data.model_dump())
    session.add(contract)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity="contract",
        entity_id=contract.id,
        after=contract.model_dump(),
    )
    return contract


def update_contract(
    *,
    session: Session,
    actor: Actor,
    contract: Contract,
    data: ContractUpdate,
    if_match: str | None,
) -> Contract:
    check_if_match(if_match, contract_etag(contract))
    before = contract.model_dump()
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "status" in changes:
        changes["status"] = data.status.value if data.status else contract.status
    for name, value in changes.items():
        setattr(contract, name, value)
    if contract.planned_finish and contract.planned_finish < contract.signed_on:
        raise InvalidInput("planned_finish must not be before signed_on", field="planned_finish")
    contract.version += 1
    session.add(contract)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="update",
        entity="contract",
        entity_id=contract.id,
        before=before,
        after=contract.model_dump(),
    )
    return contract


def contract_etag(contract: Contract) -> str:
    assert contract.id is not None
    return etag_for("contract", contract.id, contract.version)


def record_acceptance(
    *, session: Session, actor: Actor, contract: Contract, data: AcceptanceCreate, today: date
) -> Contract:
    """Record 竣工验收: payments may then reach the committed amount; retention falls due
    when the defects period ends."""
    check_event_date(
        data.accepted_on,
        field="accepted_on",
        today=today,
        since=contract.signed_on,
        since_what="the contract was signed",
    )
    if contract.accepted_on is not None:
        raise Conflict(f"contract {contract.contract_no} was accepted on {contract.accepted_on}")
    _record_change(session, actor, contract, "accept", {"accepted_on": data.accepted_on})
    return contract


def _record_change(
    session: Session, actor: Actor, contract: Contract, action: str, changes: dict[str, Any]
) -> None:
    """Apply an action's changes to the contract, move its version on, and audit it."""
    before = contract.model_dump()
    for name, value in changes.items():
        setattr(contract, name, value)
    contract.version += 1
    session.add(contract)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        entity="contract",
        entity_id=contract.id,
        before=before,
        after=contract.model_dump(),
    )


def committed_amount(session: Session, contract_id: int) -> Decimal:
    """The contract's price plus its approved price change orders."""
    contract = session.get(Contract, contract_id)
    assert contract is not None
    changes = session.exec(
        select(money_sum(ChangeOrder.delta)).where(ChangeOrder.contract_id == contract_id)
    ).one()
    return contract.amount + Decimal(changes or 0)


def _paid_and_certified(session: Session, contract_id: int) -> tuple[Decimal, Decimal]:
    paid = session.exec(
        select(col(ContractBalance.paid)).where(col(ContractBalance.contract_id) == contract_id)
    ).first()
    certified = session.exec(
        select(money_sum(Milestone.certified_amount)).where(Milestone.contract_id == contract_id)
    ).one()
    return Decimal(paid or 0), Decimal(certified or 0)


def release_retention(
    *, session: Session, actor: Actor, contract: Contract, data: RetentionRelease, today: date
) -> ContractRead:
    """Release the retention before the defects period ends (建质〔2017〕138号 第7条: e.g.
    against a bank guarantee, 银行保函): payments may then reach the committed amount."""
    check_event_date(
        data.released_on,
        field="released_on",
        today=today,
        since=contract.signed_on,
        since_what="the contract was signed",
    )
    if contract.retention_rate == 0:
        raise Conflict(f"contract {contract.contract_no} holds no retention")
    released = contract_reads(session=session, contracts=[contract], today=today)[0]
    if released.retention_release_date is not None and released.retention_release_date <= today:
        raise Conflict(
            f"the retention of contract {contract.contract_no} was released on "
            f"{released.retention_release_date}"
        )
    _record_change(
        session,
        actor,
        contract,
        "release_retention",
        {"retention_released_on": data.released_on, "retention_release_reason": data.reason},
    )
    return contract_reads(session=session, contracts=[contract], today=today)[0]


def add_change_order(
    *, session: Session, actor: Actor, contract: Contract, data: ChangeOrderCreate, today: date
) -> ChangeOrder:
    """Record an approved change order (签证/变更), dated within the contract's life; a price
    decrease never takes the committed amount below what has been paid or certified on the
    contract (409)."""
    if data.kind is ChangeKind.price and data.delta == 0:
        raise InvalidInput("a price change order needs a non-zero delta", field="delta")
    if data.kind is not ChangeKind.price and data.delta != 0:
        raise InvalidInput("only a price change order changes the price", field="delta")
    if data.kind is ChangeKind.duration and data.new_finish is None:
        raise InvalidInput("a duration change order needs new_finish", field="new_finish")
    check_event_date(
        data.approved_on,
        field="approved_on",
        today=today,
        since=contract.signed_on,
        since_what="the contract was signed",
    )
    if data.new_finish is not None and data.new_finish < contract.signed_on:
        raise InvalidInput(
            f"new_finish {data.new_finish} is before the contract was signed "
            f"({contract.signed_on})",
            field="new_finish",
        )
    clash = session.exec(
        select(ChangeOrder.id).where(
            ChangeOrder.contract_id == contract.id, ChangeOrder.document_no == data.document_no
        )
    ).first()
    if clash is not None:
        raise Conflict(
            f"change order {data.document_no} is already recorded (change order {clash})"
        )
    assert contract.id is not None
    if data.delta < 0:
        committed = committed_amount(session, contract.id) + data.delta
        paid, certified = _paid_and_certified(session, contract.id)
        if committed < max(paid, certified):
            raise CommitmentTooLow(
                f"this change would take contract {contract.contract_no} to {committed:.2f}, "
                f"below the {paid:.2f} already paid or the {certified:.2f} certified on it",
                committed=f"{committed:.2f}",
                paid=f"{paid:.2f}",
                certified=f"{certified:.2f}",
            )
    order = ChangeOrder(
        contract_id=contract.id, **data.model_dump(exclude={"kind"}), kind=data.kind.value
    )
    session.add(order)
    if order.new_finish is not None:
        contract.planned_finish = order.new_finish
    contract.version += 1
    session.add(contract)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity="change_order",
        entity_id=order.id,
        after=order.model_dump(),
    )
    return order


def list_change_orders(*, session: Session, contract: Contract) -> list[ChangeOrder]:
    return list(
        session.exec(
            select(ChangeOrder)
            .where(ChangeOrder.contract_id == contract.id)
            .order_by(col(ChangeOrder.approved_on), col(ChangeOrder.id))
        )
    )


def contracts_of(*, session: Session, project_ids: Sequence[int]) -> dict[int, list[Any]]:
    """The contracts of each project (id and contract_key), a few statements for many."""
    found: dict[int, list[Any]] = {pid: [] for pid in project_ids}
    for chunk in chunks(sorted(found)):
        for row in session.connection().execute(
            sa.select(col(Contract.id), col(Contract.project_id), col(Contract.contract_key))
            .where(col(Contract.project_id).in_(chunk))
            .order_by(col(Contract.id))
        ):
            found[row.project_id].append(row)
    return found


def match_contract(contracts: Sequence[Any], ref: str) -> int | None:
    """Which of a project's contracts (contracts_of) a reference names: by its id written
    plainly, else by its number, compared as identifiers are."""
    key = identifier_key(ref)
    number = plain_id(key) if key.isascii() and key.isdigit() else None
    by_id = [contract.id for contract in contracts if contract.id == number]
    by_number = [contract.id for contract in contracts if contract.contract_key == key]
    found: int | None = (by_id or by_number or [None])[0]
    return found


def contract_of(*, session: Session, project_id: int, ref: str) -> int | None:
    """A contract of a project by its number (compared as identifiers are) or its id."""
    return match_contract(contracts_of(session=session, project_ids=[project_id])[project_id], ref)
