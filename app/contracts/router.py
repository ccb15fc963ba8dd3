from typing import Annotated

from fastapi import Query, Response, status

from app.auth.dependencies import AdminDep, AnyRoleDep, FinanceDep
from app.contracts import service
from app.contracts.schemas import (
    AcceptanceCreate,
    ChangeOrderConflictProblem,
    ChangeOrderCreate,
    ChangeOrderRead,
    ContractCreate,
    ContractRead,
    ContractUpdate,
    RetentionRelease,
)
from app.db import SessionDep
from app.errors import problem_responses
from app.idempotency import service as idempotency
from app.idempotency.dependencies import IdempotencyDep
from app.params import MAX_ID, IdPath, IfMatchHeader, Page, PaginationDep, TodayDep
from app.routing import FeatureRouter

router = FeatureRouter(prefix="/api/v1/contracts", tags=["contracts"])
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


@router.get(
    "",
    response_model=Page[ContractRead],
    summary="Contracts, with committed, paid, retention and what is payable now",
    responses=problem_responses(401, 403, 422),
)
def list_contracts(
    actor: AnyRoleDep,
    session: SessionDep,
    page: PaginationDep,
    today: TodayDep,
    project_id: OptionalId = None,
    contractor_id: OptionalId = None,
) -> Page[ContractRead]:
    """Paginated, with each contract's committed amount (with approved change orders), paid,
    retention held (质保金) and what is payable now. A contractor sees its own contracts."""
    items, total = service.list_contracts(
        session=session,
        actor=actor,
        project_id=project_id,
        contractor_id=contractor_id,
        page=page,
        today=today,
    )
    return Page.of(items, total, page)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ContractRead,
    summary="Record a contract (合同)",
    responses=problem_responses(401, 403, 409, 422),
)
def create_contract(
    actor: AdminDep,
    data: ContractCreate,
    session: SessionDep,
    response: Response,
    today: TodayDep,
) -> ContractRead:
    """Admin only. Project and contractor by id or code; `retention_rate` at most 0.03
    (建质〔2017〕138号). A contract number already used in the project (compared without case) is a
    409."""
    contract = service.create_contract(session=session, actor=actor, data=data, today=today)
    response.headers["Location"] = f"/api/v1/contracts/{contract.id}"
    return service.contract_reads(session=session, contracts=[contract], today=today)[0]


@router.get(
    "/{contract_id}",
    response_model=ContractRead,
    summary="One contract",
    responses=problem_responses(401, 403, 404, 422),
)
def get_contract(
    contract_id: IdPath, actor: AnyRoleDep, session: SessionDep, response: Response, today: TodayDep
) -> ContractRead:
    """With its terms today and its `ETag`, which a PATCH sends back in `If-Match`. A contractor
    sees its own contracts only (404 otherwise)."""
    contract = service.get_contract(session=session, actor=actor, contract_id=contract_id)
    response.headers["ETag"] = service.contract_etag(contract)
    return service.contract_reads(session=session, contracts=[contract], today=today)[0]


@router.patch(
    "/{contract_id}",
    response_model=ContractRead,
    summary="Change a contract's title, status or planned finish (If-Match required)",
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
def update_contract(
    contract_id: IdPath,
    actor: AdminDep,
    data: ContractUpdate,
    session: SessionDep,
    response: Response,
    today: TodayDep,
    if_match: IfMatchHeader = None,
) -> ContractRead:
    """Admin only. Send only the fields that change, with `If-Match` (428 without, 412 with a stale
    one, naming `current_etag`). The price changes only by change orders."""
    contract = service.get_contract(
        session=session, actor=actor, contract_id=contract_id, for_update=True
    )
    contract = service.update_contract(
        session=session, actor=actor, contract=contract, data=data, if_match=if_match
    )
    response.headers["ETag"] = service.contract_etag(contract)
    return service.contract_reads(session=session, contracts=[contract], today=today)[0]


@router.post(
    "/{contract_id}/acceptance",
    response_model=ContractRead,
    summary="Record 竣工验收 (completion acceptance)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def accept_contract(
    contract_id: IdPath,
    actor: AdminDep,
    data: AcceptanceCreate,
    session: SessionDep,
    today: TodayDep,
) -> ContractRead:
    """Admin only. The acceptance date starts the defects-liability period after which the
    retention (质保金) is released, and the payment terms of certified work. Recorded once: a
    second acceptance is a 409."""
    contract = service.get_contract(
        session=session, actor=actor, contract_id=contract_id, for_update=True
    )
    contract = service.record_acceptance(
        session=session, actor=actor, contract=contract, data=data, today=today
    )
    return service.contract_reads(session=session, contracts=[contract], today=today)[0]


@router.post(
    "/{contract_id}/retention-release",
    response_model=ContractRead,
    summary="Release the retention (质保金) before the defects period ends, with a reason",
    description="E.g. against a bank guarantee (银行保函, 建质〔2017〕138号 第7条). Payments "
    "on the contract may then reach the committed amount. Once only; takes an Idempotency-Key.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def release_retention(
    contract_id: IdPath,
    idem: IdempotencyDep,
    actor: FinanceDep,
    data: RetentionRelease,
    session: SessionDep,
    today: TodayDep,
) -> Response:
    def act() -> ContractRead:
        contract = service.get_contract(
            session=session, actor=actor, contract_id=contract_id, for_update=True
        )
        return service.release_retention(
            session=session, actor=actor, contract=contract, data=data, today=today
        )

    def render(released: ContractRead) -> idempotency.Answer:
        return 200, released.model_dump_json(), None

    return idempotency.run(
        resource=f"contracts/{contract_id}/retention-release",
        session=session,
        actor=actor,
        context=idem,
        body=data,
        act=act,
        render=render,
    ).to_response()


@router.get(
    "/{contract_id}/change-orders",
    response_model=list[ChangeOrderRead],
    summary="A contract's change orders (变更/签证)",
    responses=problem_responses(401, 403, 404, 422),
)
def list_change_orders(
    contract_id: IdPath, actor: AnyRoleDep, session: SessionDep
) -> list[ChangeOrderRead]:
    """Each approved 变更/签证 with its kind, price change or new finish, document number and
    reason. A contractor sees those of its own contracts only."""
    contract = service.get_contract(session=session, actor=actor, contract_id=contract_id)
    return [
        ChangeOrderRead.model_validate(o)
        for o in service.list_change_orders(session=session, contract=contract)
    ]


@router.post(
    "/{contract_id}/change-orders",
    status_code=status.HTTP_201_CREATED,
    response_model=ChangeOrderRead,
    summary="Record an approved change order",
    responses=problem_responses(401, 403, 404, 409, 422, schemas={409: ChangeOrderConflictProblem}),
)
def add_change_order(
    contract_id: IdPath,
    actor: AdminDep,
    data: ChangeOrderCreate,
    session: SessionDep,
    today: TodayDep,
) -> ChangeOrderRead:
    """Admin only. `price` changes the committed amount by `delta` (signed); `duration` moves the
    planned finish to `new_finish`. A change that would bring the commitment below what is paid
    or certified is a 409 with the figures."""
    contract = service.get_contract(
        session=session, actor=actor, contract_id=contract_id, for_update=True
    )
    return ChangeOrderRead.model_validate(
        service.add_change_order(
            session=session, actor=actor, contract=contract, data=data, today=today
        )
    )
