"""Demo activity: a clearly synthetic, reproducible set of contractors, contracts, change
orders, milestones, progress, certifications (计量), payments, a reversal and a 概算调整 over
2021–2025, laid on the 专栏7 seed so that a newcomer's first screen has figures, S-curves and
alerts. Every name carries （示例）; every audit entry is the demo actor's, marked synthetic.

It writes through the same services as the API, so every business rule applies; it is seeded
(random.Random(2021)), so it writes the same records every time; and it writes nothing when
its contractors exist already."""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal

from sqlmodel import Session, col, select

from app.auth.actor import Actor
from app.auth.models import Role
from app.contractors import service as contractors
from app.contractors.models import Contractor
from app.contractors.schemas import ContractorCreate
from app.contractors.uscc import check_character
from app.contracts import service as contracts
from app.contracts.models import ChangeKind
from app.contracts.schemas import AcceptanceCreate, ChangeOrderCreate, ContractCreate
from app.errors import NotFound
from app.ledger import service as ledger
from app.ledger.schemas import DisbursementCreate, ReversalCreate
from app.milestones import service as milestones
from app.milestones.models import Milestone
from app.milestones.schemas import CertificationCreate, MilestoneCreate, ProgressCreate
from app.projects import service as projects
from app.projects.schemas import ProjectUpdate
from app.revisions import service as revisions
from app.revisions.schemas import RevisionCreate

# Every audit entry the demo writes names this actor: the trail says the records are synthetic.
DEMO_ACTOR = Actor(key_id=None, name="command line: demo (synthetic)", role=Role.admin)
MARK = "（示例）"
RANDOM_SEED = 2021
FIRST_DAY, LAST_DAY = date(2021, 1, 1), date(2025, 12, 31)
FEN = Decimal("0.01")
RETENTION = Decimal("0.03")
FUNDING_SOURCE = "county"


class DemoError(Exception):
    """The demo can't be laid: the programme it needs is missing."""


def credit_code(serial: int) -> str:
    """A synthetic 统一社会信用代码 (宁夏 平罗县 region code) with a valid check character."""
    first17 = f"91640221MA7D{serial:05d}"
    return first17 + check_character(first17)


@dataclass(frozen=True)
class Step:
    """A milestone and its progress reports (date, percent), oldest first."""

    code: str
    name: str
    weight: int
    planned: date
    progress: tuple[tuple[date, int], ...] = ()


@dataclass(frozen=True)
class Story:
    """One project's synthetic life: its contractor, contract and milestones."""

    project: str
    contractor: str
    contract_no: str
    title: str
    amount: Decimal
    signed_on: date
    planned_start: date
    planned_finish: date
    steps: tuple[Step, ...]
    defects_months: int = 24
    change: tuple[date, Decimal, str, str] | None = None  # approved_on, delta, document, reason
    revision: tuple[date, Decimal, str, str] | None = None  # approved_on, estimate, document, why
    accepted_on: date | None = None
    short_paid: bool = False  # the last certification is paid only in part: it falls overdue
    reversed_first: bool = False  # the first payment goes back (wrong account) and is paid again


def _d(text: str) -> date:
    return date.fromisoformat(text)


STORIES: tuple[Story, ...] = (
    Story(
        project="ZL7-2B",
        contractor="宁夏某建设工程有限公司（示例）",
        contract_no="PL-JY-2021-SG-01（示例）",
        title="城关第九小学新建工程施工总承包（示例）",
        amount=Decimal("58000000.00"),
        signed_on=_d("2021-09-15"),
        planned_start=_d("2021-10-01"),
        planned_finish=_d("2025-06-30"),
        steps=(
            Step(
                "开工", "城关第九小学开工（示例）", 10, _d("2021-10-15"), ((_d("2021-10-20"), 100),)
            ),
            Step(
                "主体完工",
                "教学楼主体结构完工（示例）",
                40,
                _d("2023-06-30"),
                ((_d("2022-06-30"), 30), (_d("2023-01-31"), 55), (_d("2023-07-15"), 100)),
            ),
            Step(
                "竣工验收",
                "城关第九小学竣工验收（示例）",
                40,
                _d("2024-12-31"),
                ((_d("2023-12-31"), 30), (_d("2024-08-31"), 70), (_d("2025-06-30"), 100)),
            ),
            Step(
                "交付使用",
                "城关第九小学交付使用（示例）",
                10,
                _d("2025-08-31"),
                ((_d("2025-08-25"), 100),),
            ),
        ),
        change=(
            _d("2023-07-20"),
            Decimal("1200000.00"),
            "变更-2023-07（示例）",
            "增加抗震构造柱（示例）",
        ),
        revision=(
            _d("2023-09-15"),
            Decimal("70000000.00"),
            "平发改审发〔2023〕45号（示例）",
            "材料价格上涨，增加抗震设防措施（示例）",
        ),
        accepted_on=_d("2025-06-30"),
    ),
    Story(
        project="ZL7-3",
        contractor="石嘴山某建筑安装有限公司（示例）",
        contract_no="PL-JY-2022-SG-02（示例）",
        title="平罗中学、平罗二中、职业教育中心扩建工程施工（示例）",
        amount=Decimal("105000000.00"),
        signed_on=_d("2022-05-10"),
        planned_start=_d("2022-06-01"),
        planned_finish=_d("2025-06-30"),
        steps=(
            Step("开工", "扩建工程开工（示例）", 10, _d("2022-06-30"), ((_d("2022-07-20"), 100),)),
            Step(
                "主体完工",
                "三校新建楼宇主体完工（示例）",
                40,
                _d("2023-10-31"),
                (
                    (_d("2022-12-31"), 10),
                    (_d("2023-06-30"), 25),
                    (_d("2023-12-31"), 40),
                    (_d("2024-06-30"), 55),
                    (_d("2024-12-31"), 65),
                    (_d("2025-06-30"), 75),
                    (_d("2025-11-10"), 82),
                ),
            ),
            Step("竣工验收", "扩建工程竣工验收（示例）", 40, _d("2024-12-31")),
            Step("交付使用", "新建楼宇及运动场交付使用（示例）", 10, _d("2025-06-30")),
        ),
    ),
    Story(
        project="ZL7-4",
        contractor="平罗县某市政工程有限公司（示例）",
        contract_no="PL-JY-2023-SG-03（示例）",
        title="农村义务教育学校厕所改造工程（示例）",
        amount=Decimal("5600000.00"),
        signed_on=_d("2023-03-15"),
        planned_start=_d("2023-03-20"),
        planned_finish=_d("2023-10-31"),
        defects_months=12,
        steps=(
            Step("开工", "厕所改造开工（示例）", 20, _d("2023-04-01"), ((_d("2023-04-03"), 100),)),
            Step(
                "主体完工",
                "13所学校水冲式厕所完工（示例）",
                60,
                _d("2023-08-31"),
                ((_d("2023-06-30"), 50), (_d("2023-08-31"), 100)),
            ),
            Step(
                "竣工验收",
                "厕所改造竣工验收（示例）",
                20,
                _d("2023-10-31"),
                ((_d("2023-11-10"), 100),),
            ),
        ),
        change=(
            _d("2023-08-10"),
            Decimal("380000.00"),
            "变更-2023-08（示例）",
            "增加化粪池及管网（示例）",
        ),
        accepted_on=_d("2023-11-10"),
    ),
    Story(
        project="ZL7-5",
        contractor="银川某体育设施工程有限公司（示例）",
        contract_no="PL-JY-2024-SG-04（示例）",
        title="中小学运动场改造工程（示例）",
        amount=Decimal("38000000.00"),
        signed_on=_d("2024-03-01"),
        planned_start=_d("2024-03-15"),
        planned_finish=_d("2025-12-31"),
        steps=(
            Step(
                "开工", "运动场改造开工（示例）", 20, _d("2024-04-01"), ((_d("2024-04-10"), 100),)
            ),
            Step(
                "面层完工",
                "11所学校运动场面层完工（示例）",
                70,
                _d("2025-09-30"),
                ((_d("2024-09-30"), 30), (_d("2025-05-31"), 60), (_d("2025-09-25"), 100)),
            ),
            Step("竣工验收", "运动场改造竣工验收（示例）", 10, _d("2025-12-31")),
        ),
        short_paid=True,
    ),
    Story(
        project="ZL7-1",
        contractor="宁夏某建工集团有限公司（示例）",
        contract_no="PL-JY-2024-SG-05（示例）",
        title="平罗县第一幼儿园迁建、高庄幼儿园新建工程（示例）",
        amount=Decimal("50000000.00"),
        signed_on=_d("2024-06-01"),
        planned_start=_d("2024-06-15"),
        planned_finish=_d("2025-12-31"),
        steps=(
            Step(
                "开工", "两所幼儿园开工（示例）", 10, _d("2024-07-15"), ((_d("2024-07-10"), 100),)
            ),
            Step(
                "主体完工",
                "两所幼儿园主体结构完工（示例）",
                50,
                _d("2025-06-30"),
                ((_d("2024-10-31"), 35), (_d("2025-04-30"), 80), (_d("2025-06-20"), 100)),
            ),
            Step(
                "装饰装修",
                "装饰装修及室外工程（示例）",
                40,
                _d("2025-12-31"),
                ((_d("2025-09-30"), 45), (_d("2025-11-30"), 75)),
            ),
        ),
        reversed_first=True,
    ),
)


@dataclass
class DemoResult:
    created: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def count(self, kind: str) -> None:
        self.created[kind] = self.created.get(kind, 0) + 1

    def summary(self) -> str:
        if not self.created:
            return "demo already loaded: nothing changed"
        return "demo added: " + ", ".join(f"{kind} {n}" for kind, n in self.created.items())


def _fen(amount: Decimal) -> Decimal:
    return amount.quantize(FEN, ROUND_FLOOR)


@dataclass
class _Run:
    """The state of one load: the session, today, the vouchers issued per year."""

    session: Session
    today: date
    result: DemoResult
    rng: random.Random
    vouchers: dict[str, int] = field(default_factory=dict)

    def voucher(self, on: date, kind: str = "") -> str:
        key = f"{on.year}{kind}"
        self.vouchers[key] = self.vouchers.get(key, 0) + 1
        return f"DEMO-{on.year}-{kind}{self.vouchers[key]:04d}"


Event = tuple[date, int, Callable[[], None]]


def is_loaded(*, session: Session) -> bool:
    """Whether the demo's contractors are in the register already."""
    codes = [credit_code(n) for n in range(1, len(STORIES) + 1)]
    found = session.exec(select(Contractor.id).where(col(Contractor.credit_code).in_(codes)))
    return found.first() is not None


def load_demo(*, session: Session, today: date) -> DemoResult:
    """Lay the demo on the programme, or do nothing if it is there; DemoError without the
    programme's projects."""
    result = DemoResult()
    if is_loaded(session=session):
        return result
    for story in STORIES:
        try:
            projects.get_project(session=session, actor=DEMO_ACTOR, ref=story.project)
        except NotFound as exc:
            raise DemoError(
                f"project {story.project} is missing: load the programme first (python -m app seed)"
            ) from exc
    run = _Run(
        session=session, today=min(today, LAST_DAY), result=result, rng=random.Random(RANDOM_SEED)
    )
    events: list[Event] = []
    for serial, story in enumerate(STORIES, start=1):
        events += _story_events(run, story, serial)
    # One timeline for all projects: vouchers are numbered in the order payments were made.
    for on, _, act in sorted(events, key=lambda e: (e[0], e[1])):
        if FIRST_DAY <= on <= run.today:
            act()
    return result


def _story_events(run: _Run, story: Story, serial: int) -> list[Event]:
    """The story's writes, each with its date; `order` keeps same-day writes in sequence."""
    session, actor = run.session, DEMO_ACTOR
    state: dict[str, int] = {}
    stones: dict[str, Milestone] = {}
    events: list[Event] = []
    order = serial * 10_000

    def at(on: date, act: Callable[[], None]) -> None:
        nonlocal order
        order += 1
        events.append((on, order, act))

    def sign() -> None:
        project = projects.get_project(session=session, actor=actor, ref=story.project)
        projects.update_project(
            session=session,
            actor=actor,
            project=project,
            data=ProjectUpdate(
                planned_start=story.planned_start, planned_finish=story.planned_finish
            ),
            if_match=projects.project_etag(project),  # the version just read
            today=run.today,
        )
        contractor = contractors.create_contractor(
            session=session,
            actor=actor,
            data=ContractorCreate(
                name=story.contractor,
                credit_code=credit_code(serial),
                contact=f"王工{serial}（示例）",
            ),
        )
        run.result.count("contractors")
        assert contractor.id is not None and project.id is not None
        contract = contracts.create_contract(
            session=session,
            actor=actor,
            data=ContractCreate(
                project_id=project.id,
                contractor_id=contractor.id,
                contract_no=story.contract_no,
                title=story.title,
                amount=story.amount,
                signed_on=story.signed_on,
                planned_finish=story.planned_finish,
                defects_months=story.defects_months,
            ),
            today=run.today,
        )
        run.result.count("contracts")
        assert contract.id is not None
        state["project"], state["contract"] = project.id, contract.id
        for step in story.steps:
            stones[step.code] = milestones.create_milestone(
                session=session,
                actor=actor,
                data=MilestoneCreate(
                    project_id=project.id,
                    contract_id=contract.id,
                    code=step.code,
                    name=step.name,
                    weight=Decimal(step.weight),
                    planned_date=step.planned,
                ),
                today=run.today,
            )
            run.result.count("milestones")

    at(story.signed_on, sign)

    if story.change is not None:
        approved_on, delta, document_no, reason = story.change

        def change() -> None:
            contract = contracts.get_contract(
                session=session, actor=actor, contract_id=state["contract"], for_update=True
            )
            contracts.add_change_order(
                session=session,
                actor=actor,
                contract=contract,
                data=ChangeOrderCreate(
                    kind=ChangeKind.price,
                    delta=delta,
                    document_no=document_no,
                    approved_on=approved_on,
                    reason=reason,
                ),
                today=run.today,
            )
            run.result.count("change orders")

        at(approved_on, change)

    if story.revision is not None:
        rev_on, new_estimate, rev_document, rev_reason = story.revision

        def revise() -> None:
            project = projects.get_project(session=session, actor=actor, ref=story.project)
            revisions.create_revision(
                session=session,
                actor=actor,
                project=project,
                data=RevisionCreate(
                    new_estimate=new_estimate,
                    approved_on=rev_on,
                    document_no=rev_document,
                    reason=rev_reason,
                    funding_source=FUNDING_SOURCE,
                ),
                today=run.today,
            )
            run.result.count("概算调整")

        at(rev_on, revise)

    weights = sum(step.weight for step in story.steps)
    certifications: list[tuple[date, str, Decimal]] = []
    for step in story.steps:
        certified = Decimal(0)
        for as_of, percent in step.progress:
            at(as_of, _progress(run, stones, step.code, as_of, percent))
            price = story.amount
            if story.change is not None and story.change[0] <= as_of:
                price += story.change[1]
            # 计量 within its ceiling, less the retention, so every certification can be paid.
            share = _fen(price * step.weight * percent * (1 - RETENTION) / (weights * 100))
            if share > certified:
                certified_on = as_of + timedelta(days=run.rng.randint(3, 10))
                certifications.append((certified_on, step.code, share - certified))
                at(certified_on, _certify(run, stones, step.code, certified_on, share))
                certified = share

    certifications.sort(key=lambda c: c[0])
    last = len(certifications) - 1
    for index, (certified_on, code, increment) in enumerate(certifications):
        paid_on = min(certified_on + timedelta(days=run.rng.randint(8, 25)), LAST_DAY)
        amount = _fen(increment / 2) if story.short_paid and index == last else increment
        memo = f"{code}进度款（示例）"
        at(
            paid_on,
            _pay(
                run,
                story,
                state,
                paid_on,
                amount,
                memo,
                reverse=story.reversed_first and index == 0,
            ),
        )

    if story.accepted_on is not None:
        accepted_on = story.accepted_on

        def accept() -> None:
            contract = contracts.get_contract(
                session=session, actor=actor, contract_id=state["contract"], for_update=True
            )
            contracts.record_acceptance(
                session=session,
                actor=actor,
                contract=contract,
                data=AcceptanceCreate(accepted_on=accepted_on),
                today=run.today,
            )
            run.result.count("acceptances")

        at(accepted_on, accept)
    return events


def _progress(
    run: _Run, stones: dict[str, Milestone], code: str, as_of: date, percent: int
) -> Callable[[], None]:
    def act() -> None:
        milestones.report_progress(
            session=run.session,
            actor=DEMO_ACTOR,
            milestone=stones[code],
            data=ProgressCreate(
                percent_complete=Decimal(percent), as_of=as_of, note=f"进度{percent}%（示例）"
            ),
            today=run.today,
        )
        run.result.count("progress reports")

    return act


def _certify(
    run: _Run, stones: dict[str, Milestone], code: str, certified_on: date, amount: Decimal
) -> Callable[[], None]:
    def act() -> None:
        milestones.certify(
            session=run.session,
            actor=DEMO_ACTOR,
            milestone=stones[code],
            data=CertificationCreate(certified_amount=amount, certified_on=certified_on),
            today=run.today,
        )
        run.result.count("certifications")

    return act


def _pay(
    run: _Run,
    story: Story,
    state: dict[str, int],
    paid_on: date,
    amount: Decimal,
    memo: str,
    *,
    reverse: bool,
) -> Callable[[], None]:
    def post(on: date) -> int:
        posted = ledger.post_disbursement(
            session=run.session,
            actor=DEMO_ACTOR,
            data=DisbursementCreate(
                project_id=state["project"],
                contract_id=state["contract"],
                amount=amount,
                paid_on=on,
                payee=story.contractor,
                voucher_no=run.voucher(on),
                funding_source=FUNDING_SOURCE,
                memo=memo,
            ),
            today=run.today,
        )
        run.result.count("payments")
        run.result.warnings += [w.message for w in posted.warnings]
        return posted.entry.id

    def act() -> None:
        entry_id = post(paid_on)
        if not reverse:
            return
        reversed_on = paid_on + timedelta(days=2)
        ledger.reverse_disbursement(
            session=run.session,
            actor=DEMO_ACTOR,
            entry_id=entry_id,
            data=ReversalCreate(
                reason="收款单位账号错误，原路退回（示例）",
                reversed_on=reversed_on,
                voucher_no=run.voucher(reversed_on, "H"),
            ),
            today=run.today,
        )
        run.result.count("reversals")
        post(reversed_on + timedelta(days=3))

    return act
