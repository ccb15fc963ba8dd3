"""What a caller may see. Staff (admin, finance, viewer) see everything. A contractor sees
the projects its organisation holds a contract on, and within them only what belongs to its
own contracts: anything else answers 404, as if it did not exist (OWASP API1)."""

from typing import Any

from sqlalchemy import ColumnElement, false, true
from sqlmodel import col, select

from app.auth.actor import Actor
from app.auth.models import Role
from app.contracts.models import Contract
from app.projects.models import Project


def visible_projects(actor: Actor) -> ColumnElement[bool]:
    """A condition on Project: the projects the caller may see."""
    if actor.role is not Role.contractor:
        return true()
    if actor.contractor_id is None:
        return false()
    return col(Project.id).in_(
        select(col(Contract.project_id)).where(Contract.contractor_id == actor.contractor_id)
    )


def own_organisation(actor: Actor, contractor_id: Any) -> list[ColumnElement[bool]]:
    """Conditions limiting contractor organisations to the caller's own; none for staff."""
    if actor.role is not Role.contractor:
        return []
    return [contractor_id == actor.contractor_id] if actor.contractor_id else [false()]


def own_contracts(actor: Actor, contract_id: Any) -> list[ColumnElement[bool]]:
    """Conditions limiting rows with a `contract_id` column (contracts themselves, payments,
    milestones) to the caller's own contracts; none for staff."""
    if actor.role is not Role.contractor:
        return []
    if actor.contractor_id is None:
        return [false()]
    return [
        contract_id.in_(select(Contract.id).where(Contract.contractor_id == actor.contractor_id))
    ]
