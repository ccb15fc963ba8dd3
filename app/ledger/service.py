"""The ledger: payments and reversals, the budget policy that guards them, and running balances.

Every entry of a project is posted while holding that project's balance row (SELECT … FOR UPDATE
on PostgreSQL; on SQLite the write transaction is already exclusive), so the budget check and
the insert can't interleave with another payment. The balances (app/ledger/balances.py) are
moved in the same transaction as each entry: the check reads one locked row, whatever the
size of the ledger.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.auth.actor import Actor
from app.auth.scope import own_contracts, visible_projects
from app.contracts.service import contract_of
from app.contracts.terms import ContractTerms, contract_terms
from app.engines import rules
from app.errors import Conflict, DomainError, InvalidInput, NotFound
from app.funding.models import FundingSource
from app.funding.service import Sources, resolve_source, source_keys
from app.inputs import identifier_key, party_key
from app.ledger import balances
from app.ledger import statements as sql
from app.ledger.budget_policy import apply_budget_policy, apply_contract_limit
from app.ledger.models import BudgetLineBalance, Disbursement, EntryKind
from app.ledger.schemas import (
    BudgetWarning,
    DisbursementBody,
    DisbursementCreate,
    DisbursementPosted,
    DisbursementRead,
    LineFigures,
    ProjectFigures,
    ReversalCreate,
)
from app.money import money_sum, share
from app.params import Pagination, chunks, contains_clause
from app.projects.locks import lock_project_balance
from app.projects.models import BudgetLine, Project, ProjectStatus
from app.projects.service import budget_line_of, project_id_of
from app.timeutil import add_months, check_event_date, utcnow

# A Core result row (typed loosely: its columns are the statement's).
Record = Row[*tuple[Any, ...]]

SORTS = ("paid_on", "amount", "id", "voucher_no", "created_at")


class DuplicateVoucher(Conflict):
    slug, title = "duplicate-voucher", "Voucher number already posted"


def _named(source: str) -> dict[str, str]:
    """The parameters of a statement that finds a funding source by reference (source_keys)."""
    code, name = source_keys(source)
    return {"source_code": code, "source_name": name}


def _locked_context(session: Session, project_id: int, source: str = "") -> tuple[Record, Record]:
    """Take the project's balance lock, then read what an entry is checked against: the
    balance row and the project's context (after the lock: the estimate and policy in force
    now, not before a revision that held it)."""
    balance = lock_project_balance(session, project_id)
    context = (
        session.connection()
        .execute(sql.PROJECT_CONTEXT, {"project_id": project_id, **_named(source)})
        .one()
    )
    return balance, context


@dataclass(frozen=True)
class Posted:
    entry: DisbursementRead
    budget: ProjectFigures
    budget_line: LineFigures | None
    warnings: list[BudgetWarning]

    def response(self) -> DisbursementPosted:
        return DisbursementPosted(
            **self.entry.model_dump(),
            budget=self.budget,
            budget_line=self.budget_line,
            warnings=self.warnings,
        )


def _figures(project: Record, disbursed: Decimal) -> ProjectFigures:
    return ProjectFigures(
        project_id=project.id,
        code=project.code,
        original_estimate=project.original_estimate,
        revised_estimate=project.revised_estimate,
        disbursed=disbursed,
        remaining=project.revised_estimate - disbursed,
        financial_completion=share(disbursed, project.revised_estimate),
        budget_policy=project.budget_policy,
        warn_threshold=project.warn_threshold,
    )


def _line_figures(line: Record | BudgetLine, disbursed: Decimal) -> LineFigures:
    assert line.id is not None
    return LineFigures(
        budget_line_id=line.id,
        code=line.code,
        estimate=line.estimate,
        disbursed=disbursed,
        remaining=line.estimate - disbursed,
        financial_completion=share(disbursed, line.estimate),
    )


def _line_disbursed(session: Session, line_id: int) -> Decimal:
    value = session.execute(
        select(col(BudgetLineBalance.disbursed)).where(
            col(BudgetLineBalance.budget_line_id) == line_id
        )
    ).scalar()
    return value if value is not None else Decimal(0)


class PaymentContext:
    """What a project's payments are checked against, held under its balance lock: the
    project (estimate, policy, status, programme period), what has been paid on it, and its
    budget lines and contracts with what has been paid on each. `accept` moves the figures
    in memory as a payment is accepted, so the next one is checked as if that one were
    posted. A single payment reads its line and contract when it needs them; a batch has
    every line and contract of its projects read at once (`lock_payment_contexts`)."""

    def __init__(
        self,
        session: Session,
        project: Record,
        disbursed: Decimal,
        *,
        lines: dict[int, Record] | None = None,
        contracts: dict[int, Record] | None = None,
    ) -> None:
        self.session = session
        self.project = project
        self.disbursed = disbursed
        # None: not read yet, read one at a time on demand.
        self._lines = lines
        self._contracts = contracts
        self._line_cache: dict[int, Record | None] = {}
        self._contract_cache: dict[int, Record | None] = {}
        self._line_paid: dict[int, Decimal] = {}
        self._contract_paid: dict[int, Decimal] = {}

    def line(self, line_id: int) -> Record | None:
        """The project's budget line with this id (with what had been paid on it), or None."""
        if self._lines is not None:
            return self._lines.get(line_id)
        if line_id not in self._line_cache:
            self._line_cache[line_id] = (
                self.session.connection()
                .execute(sql.LINE_CONTEXT, {"line_id": line_id, "project_id": self.project.id})
                .first()
            )
        return self._line_cache[line_id]

    def contract(self, contract_id: int) -> Record | None:
        """The contract with this id if it is one of the project's, or None."""
        if self._contracts is not None:
            return self._contracts.get(contract_id)
        if contract_id not in self._contract_cache:
            found = (
                self.session.connection()
                .execute(sql.CONTRACT_CONTEXT, {"contract_id": contract_id})
                .first()
            )
            self._contract_cache[contract_id] = (
                found if found is not None and found.project_id == self.project.id else None
            )
        return self._contract_cache[contract_id]

    def line_disbursed(self, line: Record) -> Decimal:
        paid: Decimal = self._line_paid.get(line.id, line.disbursed)
        return paid

    def contract_paid(self, contract: Record) -> Decimal:
        paid: Decimal = self._contract_paid.get(contract.id, contract.paid)
        return paid

    def accept(
        self, data: DisbursementCreate, line: Record | None, contract: Record | None
    ) -> None:
        """A payment checked by `check_payment` is to be posted: count it."""
        self.disbursed += data.amount
        if line is not None:
            self._line_paid[line.id] = self.line_disbursed(line) + data.amount
        if contract is not None:
            self._contract_paid[contract.id] = self.contract_paid(contract) + data.amount


def _line_context(context: PaymentContext, line_id: int | None) -> Record | None:
    """The budget line a payment is for (with what has been paid on it), or None."""
    project = context.project
    if line_id is None:
        if project.has_lines:
            raise InvalidInput(
                "this project has budget lines: name the one this payment is for",
                field="budget_line_id",
            )
        return None
    line = context.line(line_id)
    if line is None:
        raise InvalidInput(
            f"budget line {line_id} is not a line of project {project.id}", field="budget_line_id"
        )
    return line


def _contract(
    context: PaymentContext, contract_id: int, today: date
) -> tuple[Record, ContractTerms]:
    """A contract of the project a payment names (422 otherwise): its number, signing date and
    contractor, and its terms today."""
    project = context.project
    contract = context.contract(contract_id)
    if contract is None:
        raise InvalidInput(
            f"contract {contract_id} is not a contract of project {project.id}", field="contract_id"
        )
    return contract, contract_terms(
        amount=contract.amount,
        changes=contract.changes,
        paid=context.contract_paid(contract),
        retention_rate=contract.retention_rate,
        accepted_on=contract.accepted_on,
        defects_months=contract.defects_months,
        released_on=contract.retention_released_on,
        on=today,
    )


class ProjectCancelled(Conflict):
    slug, title = "project-cancelled", "The project is cancelled"


def _refuse_cancelled(project: Record) -> None:
    if project.status == ProjectStatus.cancelled.value:
        raise ProjectCancelled(
            f"project {project.code} is {project.status}: nothing is paid or reversed on it",
            project_status=project.status,
        )


def _spending_from(project: Record) -> date:
    """The earliest date a payment of the project's programme may bear: 1 January of its first
    year, less the preparatory months the programme allows."""
    return add_months(date(project.programme_start_year, 1, 1), -project.preparatory_months)


def _check_payee(data: DisbursementCreate, contract: Record | None) -> None:
    """A payment on a contract goes to its contractor, or says why not."""
    differs = contract is not None and party_key(data.payee) != party_key(contract.contractor_name)
    if differs and data.payee_differs_reason is None:
        assert contract is not None
        raise InvalidInput(
            f"payee {data.payee} is not the contractor of contract {contract.contract_no} "
            f"({contract.contractor_name}); give payee_differs_reason to pay them",
            field="payee",
        )
    if not differs and data.payee_differs_reason is not None:
        raise InvalidInput(
            "payee_differs_reason is only for a payment on a contract to someone other than "
            "its contractor",
            field="payee_differs_reason",
        )


def _append_entry(session: Session, values: dict[str, Any]) -> int:
    """Insert one entry and move the balances it changes (project, budget line, contract,
    funding source). A voucher number already used in the programme is refused (409). Called
    under the project's balance lock."""
    connection = session.connection()
    values["voucher_key"] = identifier_key(values["voucher_no"])
    voucher = {
        "programme_id": values["programme_id"],
        "voucher_no": values["voucher_no"],
        "voucher_key": values["voucher_key"],
    }
    try:
        entry_id = connection.execute(sql.APPEND_ENTRY, values).scalar()
    except IntegrityError as exc:
        # A payment on another project took the voucher number at the same moment.
        raise _used_voucher(voucher, owner=None) from exc
    if entry_id is None:
        raise _used_voucher(voucher, owner=connection.execute(sql.VOUCHER_OWNER, voucher).first())
    balances.move(connection, [values])
    return int(entry_id)


def _used_voucher(voucher: dict[str, Any], *, owner: Record | None) -> "DuplicateVoucher":
    """The 409 for a voucher number the programme already has (however it was typed there)."""
    taken = ""
    if owner is not None:
        written = f" as {owner.voucher_no}" if owner.voucher_no != voucher["voucher_no"] else ""
        taken = f"{written} (entry {owner.id})"
    return DuplicateVoucher(
        f"voucher {voucher['voucher_no']} is already posted in this programme{taken}",
        existing_id=owner.id if owner is not None else None,
        voucher_no=voucher["voucher_no"],
    )


def payment_from_body(
    *, session: Session, actor: Actor, body: DisbursementBody
) -> DisbursementCreate:
    """The payment a body describes, its project, budget line and contract named by id or by
    the code or number a read shows; a 422 naming the field for one that isn't there."""
    project_id = project_id_of(
        session=session, actor=actor, ref=body.project_id, field="project_id"
    )
    line_id = body.budget_line_id
    if isinstance(line_id, str):
        line = budget_line_of(session=session, project_id=project_id, ref=line_id)
        if isinstance(line, str):
            raise InvalidInput(line, field="budget_line_id")
        line_id = line
    contract_id = body.contract_id
    if isinstance(contract_id, str):
        found = contract_of(session=session, project_id=project_id, ref=contract_id)
        if found is None:
            raise InvalidInput(f"no contract {contract_id} on this project", field="contract_id")
        contract_id = found
    # The body has been validated field by field; only the references change.
    references = {"project_id": project_id, "budget_line_id": line_id, "contract_id": contract_id}
    return DisbursementCreate.model_construct(**{**dict(body), **references})


@dataclass(frozen=True)
class Checked:
    """A payment that passed every rule: the warnings it posts with, and the budget line and
    contract it was checked against (None if it names none)."""

    warnings: list[BudgetWarning]
    line: Record | None
    contract: Record | None


def check_payment(
    context: PaymentContext, data: DisbursementCreate, *, source_id: int | None, today: date
) -> Checked:
    """Every rule a payment is held to, against its project's context (under the project's
    lock): the project not cancelled, the date within the programme's period (and after the
    contract's signing), an active funding source (`source_id`, None if the name matched
    none), the budget line if the project has lines, the budget policy on the project and the
    line, the contract's payable limit, and the payee. Raises the refusal (a DomainError);
    moves nothing: `context.accept` does, once the payment is to be posted. The only place
    these rules are applied, for a single payment and for each row of an import alike."""
    project = context.project
    _refuse_cancelled(project)
    check_event_date(
        data.paid_on,
        field="paid_on",
        today=today,
        since=_spending_from(project),
        since_what="the start of the programme's period, less its preparatory_months",
    )
    if source_id is None:
        resolve_source(session=context.session, ref=data.funding_source, field="funding_source")
    line = _line_context(context, data.budget_line_id)
    warnings = apply_budget_policy(
        scope="project",
        label=project.code,
        estimate=project.revised_estimate,
        disbursed=context.disbursed,
        amount=data.amount,
        policy=project.budget_policy,
        threshold=project.warn_threshold,
    )
    if line is not None:
        warnings += apply_budget_policy(
            scope="budget_line",
            label=f"{project.code} {line.code} {line.name}",
            estimate=line.estimate,
            disbursed=context.line_disbursed(line),
            amount=data.amount,
            policy=line.budget_policy or project.budget_policy,
            threshold=line.warn_threshold or project.warn_threshold,
        )
    contract = None
    if data.contract_id is not None:
        contract, terms = _contract(context, data.contract_id, today)
        check_event_date(
            data.paid_on,
            field="paid_on",
            today=today,
            since=contract.signed_on,
            since_what=f"contract {contract.contract_no} was signed",
        )
        warnings += apply_contract_limit(
            contract_no=contract.contract_no,
            terms=terms,
            amount=data.amount,
            policy=project.budget_policy,
        )
    _check_payee(data, contract)
    return Checked(warnings=warnings, line=line, contract=contract)


def _payment_values(
    project: Record,
    data: DisbursementCreate,
    *,
    source_id: int | None,
    actor: Actor,
    request_id: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The ledger row of a checked payment."""
    return {
        "programme_id": project.programme_id,
        "project_id": project.id,
        "budget_line_id": data.budget_line_id,
        "contract_id": data.contract_id,
        "funding_source_id": source_id,
        "kind": EntryKind.payment.value,
        "amount": data.amount,
        "paid_on": data.paid_on,
        "payee": data.payee,
        "voucher_no": data.voucher_no,
        "reverses_id": None,
        "reason": None,
        "memo": data.memo,
        "payee_differs_reason": data.payee_differs_reason,
        "created_at": now,
        "created_by_key_id": actor.key_id,
        "request_id": request_id,
    }


def _audit_post(session: Session, actor: Actor, entry: DisbursementRead) -> None:
    audit.record(
        session,
        actor=actor,
        action="post",
        entity="disbursement",
        entity_id=entry.id,
        after=entry.model_dump(),
    )


def post_disbursement(
    *,
    session: Session,
    actor: Actor,
    data: DisbursementCreate,
    today: date,
    request_id: str | None = None,
) -> Posted:
    """Post a payment: check it against the project's (and line's) budget policy, append it,
    and move the balances, all under the project's balance lock."""
    balance, project = _locked_context(session, data.project_id, data.funding_source)
    context = PaymentContext(session, project, balance.disbursed)
    checked = check_payment(context, data, source_id=project.source_id, today=today)
    values = _payment_values(
        project,
        data,
        source_id=project.source_id,
        actor=actor,
        request_id=request_id,
        now=utcnow(),
    )
    entry_id = _append_entry(session, values)
    entry = _read(values, entry_id, project.code, project.source_code, reversed_=Decimal(0))
    _audit_post(session, actor, entry)
    line = checked.line
    return Posted(
        entry=entry,
        budget=_figures(project, balance.disbursed + data.amount),
        budget_line=_line_figures(line, line.disbursed + data.amount) if line is not None else None,
        warnings=checked.warnings,
    )


def lock_payment_contexts(
    session: Session, project_ids: Iterable[int]
) -> dict[int, PaymentContext]:
    """Lock each project's balance row once, in id order (so that two batches, or a batch and
    single payments, can't deadlock), then read every project's context, budget lines and
    contracts in a few statements: a batch's payments are checked in memory against these."""
    ordered = sorted(set(project_ids))
    disbursed = {pid: lock_project_balance(session, pid).disbursed for pid in ordered}
    connection = session.connection()
    projects: dict[int, Record] = {}
    lines: dict[int, dict[int, Record]] = {pid: {} for pid in ordered}
    contracts: dict[int, dict[int, Record]] = {pid: {} for pid in ordered}
    for chunk in chunks(ordered):
        ids = {"project_ids": list(chunk)}
        for project in connection.execute(sql.PROJECT_CONTEXTS, {**ids, **_named("")}):
            projects[project.id] = project
        for line in connection.execute(sql.LINES_OF_PROJECTS, ids):
            lines[line.project_id][line.id] = line
        for contract in connection.execute(sql.CONTRACTS_OF_PROJECTS, ids):
            contracts[contract.project_id][contract.id] = contract
    return {
        pid: PaymentContext(
            session, projects[pid], disbursed[pid], lines=lines[pid], contracts=contracts[pid]
        )
        for pid in ordered
    }


@dataclass(frozen=True)
class Accepted:
    """A payment of a batch that passed every rule: its ledger row and warnings."""

    index: int
    values: dict[str, Any]
    project_code: str
    source_code: str
    warnings: list[BudgetWarning]


@dataclass(frozen=True)
class Refused:
    """A payment of a batch that a rule refused, and the refusal."""

    index: int
    error: DomainError


def check_payments(
    *,
    session: Session,
    actor: Actor,
    contexts: dict[int, PaymentContext],
    payments: Sequence[DisbursementCreate],
    today: date,
    request_id: str | None = None,
) -> tuple[list[Accepted], list[Refused]]:
    """Check a batch of payments in order, each by `check_payment` as if the accepted ones
    before it had been posted (a payment that only the earlier ones take past a `block`
    ceiling is refused), against `contexts` (lock_payment_contexts: every payment's project
    must be there). Nothing is written: `write_payments` posts the accepted ones. The same
    results as posting them one by one, voucher numbers aside (the caller checks those)."""
    sources = Sources(session.connection().execute(sql.ACTIVE_SOURCES))
    now = utcnow()
    accepted: list[Accepted] = []
    refused: list[Refused] = []
    for index, data in enumerate(payments):
        context = contexts[data.project_id]
        source = sources.find(data.funding_source)
        source_id = source[0] if source is not None else None
        try:
            checked = check_payment(context, data, source_id=source_id, today=today)
        except DomainError as exc:
            refused.append(Refused(index, exc))
            continue
        assert source is not None  # check_payment refuses a payment without one
        context.accept(data, checked.line, checked.contract)
        values = _payment_values(
            context.project, data, source_id=source_id, actor=actor, request_id=request_id, now=now
        )
        values["voucher_key"] = identifier_key(data.voucher_no)
        accepted.append(Accepted(index, values, context.project.code, source[1], checked.warnings))
    return accepted, refused


def write_payments(*, session: Session, actor: Actor, accepted: Sequence[Accepted]) -> list[int]:
    """Post a checked batch (check_payments), still under its projects' locks: insert the
    entries together (their ids taken first), move each balance once by their sums, and
    queue an audit entry for each, as `post_disbursement` does for one. Returns the entries'
    ids in the batch's order. A voucher number taken by another payment since the batch was
    checked is a 409."""
    connection = session.connection()
    engine = rules(connection.dialect.name)
    rows = [a.values for a in accepted]
    if not rows:
        return []
    entry_ids = engine.new_ids(connection, balances.ENTRY, len(rows))
    try:
        engine.insert_rows(
            connection,
            balances.ENTRY,
            [{**row, "id": entry_id} for row, entry_id in zip(rows, entry_ids, strict=True)],
        )
    except IntegrityError as exc:
        raise DuplicateVoucher(
            "another payment took one of these voucher numbers while they were being posted; "
            "nothing was posted: send them again to see which"
        ) from exc
    balances.move(connection, rows)
    for item, entry_id in zip(accepted, entry_ids, strict=True):
        entry = _read(item.values, entry_id, item.project_code, item.source_code, Decimal(0))
        _audit_post(session, actor, entry)
    return entry_ids


# The fields of a read that come from an entry's values as they are written.
_READ_FROM_VALUES = frozenset(DisbursementRead.model_fields) - {
    "id",
    "project_code",
    "funding_source",
    "reversed",
}


def _read(
    values: dict[str, Any],
    entry_id: int,
    project_code: str,
    source_code: str,
    reversed_: Decimal | None,
) -> DisbursementRead:
    return DisbursementRead(
        id=entry_id,
        project_code=project_code,
        funding_source=source_code,
        reversed=reversed_ if values["kind"] == EntryKind.payment.value else None,
        **{k: v for k, v in values.items() if k in _READ_FROM_VALUES},
    )


def _reversed_total(session: Session, entry_id: int) -> Decimal:
    value = session.execute(
        select(-money_sum(Disbursement.amount)).where(col(Disbursement.reverses_id) == entry_id)
    ).scalar()
    return Decimal(value or 0)


def reverse_disbursement(
    *,
    session: Session,
    actor: Actor,
    entry_id: int,
    data: ReversalCreate,
    today: date,
    request_id: str | None = None,
) -> Posted:
    """Reverse all or part of a payment with a negative entry that points to it."""
    original = get_entry(session=session, actor=actor, entry_id=entry_id)
    if original.kind == EntryKind.reversal.value:
        raise Conflict(
            f"entry {entry_id} is itself a reversal; reverse the payment it corrects instead"
        )
    check_event_date(
        data.reversed_on,
        field="reversed_on",
        today=today,
        since=original.paid_on,
        since_what=f"the payment it reverses ({entry_id})",
    )
    balance, project = _locked_context(session, original.project_id)
    _refuse_cancelled(project)
    assert original.id is not None
    left = original.amount - _reversed_total(session, original.id)
    amount = data.amount if data.amount is not None else left
    if left == 0:
        raise Conflict(f"payment {entry_id} has already been reversed in full")
    if amount > left:
        raise Conflict(
            f"payment {entry_id} has {left:.2f} left to reverse; {amount:.2f} is more than that",
            left=f"{left:.2f}",
        )
    source_code = session.execute(
        select(col(FundingSource.code)).where(col(FundingSource.id) == original.funding_source_id)
    ).scalar_one()
    values = {
        "programme_id": original.programme_id,
        "project_id": original.project_id,
        "budget_line_id": original.budget_line_id,
        "contract_id": original.contract_id,
        "funding_source_id": original.funding_source_id,
        "kind": EntryKind.reversal.value,
        "amount": -amount,
        "paid_on": data.reversed_on,
        "payee": original.payee,
        "voucher_no": data.voucher_no,
        "reverses_id": original.id,
        "reason": data.reason,
        "memo": None,
        "payee_differs_reason": None,
        "created_at": utcnow(),
        "created_by_key_id": actor.key_id,
        "request_id": request_id,
    }
    reversal_id = _append_entry(session, values)
    entry = _read(values, reversal_id, project.code, source_code, reversed_=None)
    audit.record(
        session,
        actor=actor,
        action="reverse",
        entity="disbursement",
        entity_id=reversal_id,
        after=entry.model_dump(),
    )
    line_figures = None
    if original.budget_line_id is not None:
        line = session.get(BudgetLine, original.budget_line_id)
        assert line is not None
        line_figures = _line_figures(line, _line_disbursed(session, original.budget_line_id))
    return Posted(
        entry=entry,
        budget=_figures(project, balance.disbursed - amount),
        budget_line=line_figures,
        warnings=[],
    )


def get_entry(*, session: Session, actor: Actor, entry_id: int) -> Disbursement:
    entry = session.exec(
        select(Disbursement)
        .join(Project, col(Project.id) == Disbursement.project_id)
        .where(
            col(Disbursement.id) == entry_id,
            visible_projects(actor),
            *own_contracts(actor, col(Disbursement.contract_id)),
        )
    ).first()
    if entry is None:
        raise NotFound(f"ledger entry {entry_id} not found")
    return entry


@dataclass(frozen=True)
class LedgerFilters:
    project_id: int | None = None
    budget_line_id: int | None = None
    contract_id: int | None = None
    funding_source: str | None = None
    voucher_no: str | None = None
    kind: str | None = None
    since: date | None = None
    until: date | None = None
    payee: str | None = None
    q: str | None = None


def ledger_clauses(actor: Actor, filters: LedgerFilters) -> list[Any]:
    """WHERE clauses of a ledger query: the caller's scope, then the filters. The list and
    its exports use the same ones, so an export holds exactly what the list pages through."""
    clauses: list[Any] = [
        visible_projects(actor),
        *own_contracts(actor, col(Disbursement.contract_id)),
    ]
    for name in ("project_id", "budget_line_id", "contract_id", "kind"):
        value = getattr(filters, name)
        if value is not None:
            clauses.append(getattr(Disbursement, name) == value)
    if filters.voucher_no is not None:
        clauses.append(col(Disbursement.voucher_key) == identifier_key(filters.voucher_no))
    if filters.funding_source is not None:
        clauses.append(
            col(Disbursement.funding_source_id).in_(
                select(col(FundingSource.id)).where(
                    or_(
                        col(FundingSource.code) == source_keys(filters.funding_source)[0],
                        col(FundingSource.name) == source_keys(filters.funding_source)[1],
                    )
                )
            )
        )
    if filters.since is not None:
        clauses.append(col(Disbursement.paid_on) >= filters.since)
    if filters.until is not None:
        clauses.append(col(Disbursement.paid_on) <= filters.until)
    if filters.payee is not None:
        clauses.append(col(Disbursement.payee) == filters.payee)
    if filters.q:
        searched = (Disbursement.payee, Disbursement.memo, Disbursement.voucher_no)
        clauses.append(contains_clause(filters.q, *searched))
    return clauses


def ledger_order(sort: Sequence[tuple[str, bool]]) -> list[Any]:
    """ORDER BY for parsed `sort` keys, ending with the id so that equal keys keep one order."""
    order = [getattr(Disbursement, n).desc() if d else getattr(Disbursement, n) for n, d in sort]
    return [*order, col(Disbursement.id)]


def list_entries(
    *,
    session: Session,
    actor: Actor,
    filters: LedgerFilters,
    sort: Sequence[tuple[str, bool]],
    page: Pagination,
) -> tuple[list[DisbursementRead], int, Decimal]:
    """A page of entries, how many match, and their exact sum (computed in SQL)."""
    clauses = ledger_clauses(actor, filters)
    base = select(Disbursement).join(Project, col(Project.id) == Disbursement.project_id)
    total, amount = session.execute(
        select(func.count(), money_sum(Disbursement.amount))
        .select_from(Disbursement)
        .join(Project, col(Project.id) == Disbursement.project_id)
        .where(*clauses)
    ).one()
    rows = list(
        session.exec(
            base.where(*clauses).order_by(*ledger_order(sort)).limit(page.limit).offset(page.offset)
        )
    )
    return entry_reads(session=session, entries=rows), total, Decimal(amount)


def entry_reads(*, session: Session, entries: Sequence[Disbursement]) -> list[DisbursementRead]:
    """Reads for a batch of entries in three queries."""
    if not entries:
        return []
    ids = [e.id for e in entries]
    codes = dict(
        session.execute(
            select(col(Project.id), col(Project.code)).where(
                col(Project.id).in_({e.project_id for e in entries})
            )
        ).all()
    )
    sources = dict(session.execute(select(col(FundingSource.id), col(FundingSource.code))).all())
    reversed_by = dict(
        session.execute(
            select(col(Disbursement.reverses_id), -money_sum(Disbursement.amount))
            .where(col(Disbursement.reverses_id).in_(ids))
            .group_by(col(Disbursement.reverses_id))
        ).all()
    )
    return [
        _read(
            e.model_dump(),
            e.id,  # type: ignore[arg-type]
            codes[e.project_id],
            sources[e.funding_source_id],
            reversed_=Decimal(reversed_by.get(e.id, 0)),
        )
        for e in entries
    ]


def reconcile(*, session: Session) -> list[str]:
    """Compare every balance row with a recomputation from the entries; list any difference."""
    return balances.reconcile(session.connection())
