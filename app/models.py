"""Every table, imported in one place so Alembic and the tests see the whole metadata."""

from sqlmodel import SQLModel

import app.db  # noqa: F401  (sets the naming convention before any table is defined)
from app.audit.models import AuditEntry, AuditHead
from app.auth.models import ApiKey
from app.contractors.models import Contractor
from app.contracts.models import ChangeOrder, Contract, ContractBalance
from app.funding.models import FundingSource, ProjectFunding
from app.idempotency.models import IdempotencyRecord
from app.ledger.models import BudgetLineBalance, Disbursement, ProjectBalance
from app.milestones.models import Milestone, MilestoneProgress
from app.programmes.models import PlanItem, Programme
from app.projects.models import BudgetLine, Project, ProjectSite, ProjectStage
from app.revisions.models import ProjectRevision
from app.sites.models import Site, SiteAlias

metadata = SQLModel.metadata

__all__ = [
    "ApiKey",
    "AuditEntry",
    "AuditHead",
    "BudgetLineBalance",
    "ChangeOrder",
    "Contract",
    "ContractBalance",
    "Disbursement",
    "FundingSource",
    "IdempotencyRecord",
    "Milestone",
    "MilestoneProgress",
    "ProjectBalance",
    "ProjectFunding",
    "ProjectRevision",
    "BudgetLine",
    "Contractor",
    "PlanItem",
    "Programme",
    "Project",
    "ProjectSite",
    "ProjectStage",
    "Site",
    "SiteAlias",
    "metadata",
]
