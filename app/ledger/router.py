from collections.abc import Callable
from typing import Annotated

from fastapi import Query, Request, Response, status
from pydantic import BaseModel
from sqlmodel import Session

from app.auth.actor import Actor
from app.auth.dependencies import AnyRoleDep, FinanceDep
from app.db import SessionDep
from app.errors import problem_responses
from app.exports.dependencies import EXPORT_RESPONSES, ExportFormat, FormatDep, LangDep
from app.idempotency import service as idempotency
from app.idempotency.dependencies import IdempotencyContext, IdempotencyDep
from app.inputs import IsoDate, SafeText
from app.ledger import exports, imports, service
from app.ledger.dependencies import CsvUploadDep
from app.ledger.models import EntryKind
from app.ledger.schemas import (
    DisbursementBody,
    DisbursementPage,
    DisbursementPosted,
    DisbursementRead,
    ImportSummary,
    PaymentConflictProblem,
    ReversalConflictProblem,
    ReversalCreate,
)
from app.params import MAX_ID, IdPath, PaginationDep, TodayDep, parse_sort
from app.routing import FeatureRouter

router = FeatureRouter(prefix="/api/v1/disbursements", tags=["ledger"])
IMPORT_EXAMPLE = (
    "项目编号,预算科目,金额,支付日期,收款单位,凭证号,资金来源,摘要\n"
    "ZL7-2B,,1500000.00,2023-06-30,宁夏某建设工程有限公司（示例）,2023-06-记-0012,county,"
    "城关第九小学主体工程进度款（示例数据）\n"
    "ZL7-6,ZL7-6-6,55620.00,2023-09-01,某图书供应商（示例）,2023-09-记-0003,county,图书购置（示例数据）\n"
)
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def _created(posted: service.Posted) -> idempotency.Answer:
    """A new ledger entry as the 201 response (status, body, Location) that retries replay."""
    return 201, posted.response().model_dump_json(), f"/api/v1/disbursements/{posted.entry.id}"


def _once(
    session: Session,
    actor: Actor,
    idem: IdempotencyContext | None,
    body: BaseModel,
    act: Callable[[], service.Posted],
) -> Response:
    return idempotency.run(
        session=session, actor=actor, context=idem, body=body, act=act, render=_created
    ).to_response()


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DisbursementPosted,
    summary="Post a payment (拨付/支付)",
    description="Checked against the project's (and budget line's) policy: `block` refuses a "
    "payment that would exceed the approved estimate with a 409 `.../budget-exceeded`; `warn` "
    "posts it with `warnings`. Send an `Idempotency-Key` so a retry never pays twice; the "
    "voucher number (凭证号) is unique within the programme in any case. Refused: a date "
    "after today, before the programme's period (less its `preparatory_months`) or before the "
    "named contract was signed (422 `paid_on`); a payee other than the contract's contractor "
    "without `payee_differs_reason` (422 `payee`); a cancelled project (409 "
    "`.../project-cancelled`).",
    responses=problem_responses(401, 403, 409, 422, schemas={409: PaymentConflictProblem}),
)
def post_disbursement(
    idem: IdempotencyDep,
    actor: FinanceDep,
    data: DisbursementBody,
    session: SessionDep,
    request: Request,
    today: TodayDep,
) -> Response:
    def act() -> service.Posted:
        return service.post_disbursement(
            session=session,
            actor=actor,
            data=service.payment_from_body(session=session, actor=actor, body=data),
            today=today,
            request_id=request.scope.get("request_id"),
        )

    return _once(session, actor, idem, data, act)


@router.get(
    "",
    response_model=DisbursementPage,
    summary="List ledger entries, with the exact sum of all that match; or export them all",
    description="JSON: a page of entries, the total and the exact sum of every match. "
    "`payee` is the payee exactly as posted; `q` finds text in the payee, memo or voucher "
    "number (any case; `%` and `_` are plain characters). "
    "`?format=csv` or `?format=xlsx` (or `Accept: text/csv` or the XLSX media type) exports "
    "EVERY entry that matches the filters, in the same order, streamed; `limit` and `offset` "
    "don't apply to exports. CSV is UTF-8 with BOM, amounts as plain two-decimal strings; "
    "XLSX has number cells. `?lang=zh` gives Chinese headings (those the CSV import reads).",
    responses={**problem_responses(401, 403, 422), **EXPORT_RESPONSES},
)
def list_disbursements(
    actor: AnyRoleDep,
    session: SessionDep,
    page: PaginationDep,
    fmt: FormatDep,
    lang: LangDep,
    request: Request,
    today: TodayDep,
    project_id: OptionalId = None,
    budget_line_id: OptionalId = None,
    contract_id: OptionalId = None,
    funding_source: Annotated[
        SafeText | None, Query(max_length=100, description="Code or name")
    ] = None,
    voucher_no: Annotated[SafeText | None, Query(max_length=64)] = None,
    kind: EntryKind | None = None,
    since: Annotated[IsoDate | None, Query(alias="from", description="Paid on or after")] = None,
    until: Annotated[IsoDate | None, Query(alias="to", description="Paid on or before")] = None,
    payee: Annotated[
        SafeText | None, Query(min_length=1, max_length=200, description="收款单位, exactly")
    ] = None,
    q: Annotated[
        SafeText | None,
        Query(max_length=200, description="Payee, memo or voucher number contains (any case)"),
    ] = None,
    sort: Annotated[
        SafeText | None,
        Query(
            max_length=100,
            description=f"One or more of {', '.join(service.SORTS)}; - for descending",
        ),
    ] = None,
) -> DisbursementPage | Response:
    filters = service.LedgerFilters(
        project_id=project_id,
        budget_line_id=budget_line_id,
        contract_id=contract_id,
        funding_source=funding_source,
        voucher_no=voucher_no,
        kind=kind.value if kind else None,
        since=since,
        until=until,
        payee=payee,
        q=q,
    )
    order = parse_sort(sort, service.SORTS, default="paid_on")
    if fmt is not ExportFormat.json:
        return exports.export_ledger(
            factory=request.app.state.session_factory,
            actor=actor,
            filters=filters,
            sort=order,
            fmt=fmt,
            lang=lang,
            today=today,
        )
    items, total, amount = service.list_entries(
        session=session, actor=actor, filters=filters, sort=order, page=page
    )
    return DisbursementPage(
        items=items, total=total, limit=page.limit, offset=page.offset, sum=amount
    )


@router.get(
    "/{entry_id:id}",
    response_model=DisbursementRead,
    summary="One ledger entry",
    responses=problem_responses(401, 403, 404, 422),
)
def get_disbursement(entry_id: IdPath, actor: AnyRoleDep, session: SessionDep) -> DisbursementRead:
    """A payment or a reversal, by id. A contractor sees only entries of its own contracts (404
    otherwise)."""
    entry = service.get_entry(session=session, actor=actor, entry_id=entry_id)
    return service.entry_reads(session=session, entries=[entry])[0]


@router.post(
    "/{entry_id:id}/reversals",
    status_code=status.HTTP_201_CREATED,
    response_model=DisbursementPosted,
    summary="Reverse all or part of a payment",
    description="Payments are never edited or deleted: a mistake is corrected by a negative "
    "entry that points to the original, with its own 红字 voucher number. Reversing more "
    "than is left, a reversal, or a payment of a cancelled project is a 409; a date before the "
    "payment's or after today is a 422.",
    responses=problem_responses(401, 403, 404, 409, 422, schemas={409: ReversalConflictProblem}),
)
def reverse_disbursement(
    entry_id: IdPath,
    idem: IdempotencyDep,
    actor: FinanceDep,
    data: ReversalCreate,
    session: SessionDep,
    request: Request,
    today: TodayDep,
) -> Response:
    def act() -> service.Posted:
        return service.reverse_disbursement(
            session=session,
            actor=actor,
            entry_id=entry_id,
            data=data,
            today=today,
            request_id=request.scope.get("request_id"),
        )

    return _once(session, actor, idem, data, act)


@router.post(
    "/import",
    status_code=status.HTTP_201_CREATED,
    response_model=ImportSummary,
    summary="Import a month of payments from a CSV or XLSX file (all rows or none)",
    description="Send the file as the request body (`Content-Type: text/csv`) or as the "
    "`file` part of a multipart form; CSV in UTF-8 with or without BOM, or GB18030 as Excel in "
    "China saves it, or an XLSX workbook (its first worksheet). Headings in English (project, "
    "budget_line, amount, paid_on, payee, voucher_no, funding_source, memo) or Chinese "
    "(项目编号, 预算科目, 金额, 支付日期, 收款单位, 凭证号, 资金来源, 摘要). Every error names its "
    "row and column and nothing is posted. Vouchers already posted with the same details are "
    "skipped, so a re-import posts nothing new (200). `dry_run=true` checks everything, "
    "budget policy included, and writes nothing.",
    responses={
        200: {"model": ImportSummary, "description": "Dry run, or nothing new to post"},
        **problem_responses(401, 403, 413, 422),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": IMPORT_EXAMPLE},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}
                },
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    },
                    "example": {"file": IMPORT_EXAMPLE},
                },
            },
        }
    },
)
def import_disbursements(
    actor: FinanceDep,
    upload: CsvUploadDep,
    session: SessionDep,
    request: Request,
    today: TodayDep,
    response: Response,
    dry_run: bool = False,
) -> ImportSummary:
    result = imports.import_payments(
        session=session,
        actor=actor,
        upload=upload,
        dry_run=dry_run,
        today=today,
        request_id=request.scope.get("request_id"),
    )
    if dry_run or result.posted == 0:
        response.status_code = status.HTTP_200_OK
    return ImportSummary(**result.__dict__, message=result.message)
