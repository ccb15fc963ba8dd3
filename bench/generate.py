"""Synthetic programmes of any size, for the report and export benchmarks (bench/reports.py).

    python bench/generate.py --database-url URL [--programmes 1 --projects 10000
        --payments 1000000 --seed 1 --json steps.json]

Migrates the database with the app's own entry (app.migrate), then bulk-loads programmes
(合成数据, synthetic: no real project, school, contractor or payment): one, "SYN", by default;
with --programmes N a province of N counties, SYN, SYN-002 … SYN-N, the projects spread
unevenly over them. Each has plan items, projects across categories, stages and statuses
(some on several sites, sites shared between the county's projects), budget lines, funding
plans over the seeded funding sources, contracts with contractors (valid 统一社会信用代码,
shared across the province), change orders, milestones with weights, planned dates and
progress history, 概算调整 on some projects, and payments with a few reversals from 2021 to
2026, voucher numbers numbered per programme. Most projects stay under their estimate; a few
go over. The same seed gives the same data.

Every ledger balance (app/ledger/balances.py: the running totals and the month balances) is
filled afterwards from the entries by its own declaration, the app's own `reconcile` then
checks them, and the database is vacuumed and analysed. The audit chain is left empty: these
rows were never written through the API (`audit verify` accepts an empty chain).

Rows go in with SQLAlchemy Core executemany through the app's column types; the ledger, which
is most of the volume, goes in through the driver (executemany on SQLite, COPY on PostgreSQL)
with the values already in their stored form (integer fen, ISO dates on SQLite), drawn month
by month as they are written, so memory stays bounded whatever the number of payments. Each
step's time is printed (and written to --json). Use a database without entries or SYN
programmes: the generator refuses anything else.
"""

import argparse
import heapq
import json
import random
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import migrate  # noqa: E402
from app.config import Settings  # noqa: E402
from app.contractors.uscc import CHARSET, check_character, validate_uscc  # noqa: E402
from app.db import make_engine, normalise_url  # noqa: E402
from app.inputs import identifier_key  # noqa: E402
from app.ledger.balances import BALANCES  # noqa: E402
from app.milestones.models import STANDARD_CODES  # noqa: E402
from app.models import metadata  # noqa: E402
from app.money import MoneyType  # noqa: E402
from app.timeutil import utcnow  # noqa: E402

PROGRAMME_CODE = "SYN"
FIRST_DAY = date(2021, 1, 1)
# Fixed, so that the data don't depend on the day they are generated (and are never "future").
LAST_DAY = date(2026, 10, 31)
PLAN_ITEMS = 10
REVERSAL_SHARE = 0.008
OVER_BUDGET_SHARE = 0.03
MILESTONE_WEIGHTS = (10, 50, 30, 10)  # 开工, 主体完工, 竣工验收, 交付使用
MILESTONE_AT = (0.1, 0.6, 0.9, 1.0)  # where each falls due, as a share of the project's span
SOURCE_CODES = ("central_budget", "region", "special_bond", "county", "self_raised")
LEDGER_COLUMNS = (
    "id programme_id project_id budget_line_id contract_id funding_source_id kind amount "
    "paid_on payee voucher_no voucher_key reverses_id reason memo created_at created_by_key_id "
    "request_id"
).split()
BATCH = 50_000


def yuan(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


def synthetic_uscc(n: int) -> str:
    """A well-formed 统一社会信用代码 (GB 32100-2015) numbered n: 91 (enterprise), the
    placeholder area 999999, n in the nine-character body, then the check character."""
    body = ""
    for _ in range(9):
        n, digit = divmod(n, len(CHARSET))
        body = CHARSET[digit] + body
    first17 = "91999999" + body
    return validate_uscc(first17 + check_character(first17))


def programme_code(k: int) -> str:
    """The k-th synthetic programme's code: SYN, then SYN-002, SYN-003 …"""
    return PROGRAMME_CODE if k == 1 else f"{PROGRAMME_CODE}-{k:03d}"


TABLES = (
    "programme plan_item site site_alias contractor project project_stage project_site "
    "budget_line project_funding project_revision contract change_order milestone "
    "milestone_progress"
).split()
STATUS_SHARES = {  # (share of the estimate paid by LAST_DAY, relative number of payments)
    "completion": ((0.9, 0.99), 1.0),
    "implementation": ((0.15, 0.85), 0.5),
    "cancelled": ((0.0, 0.02), 0.02),
    "identification": ((0.005, 0.03), 0.02),
    "preparation": ((0.005, 0.03), 0.02),
}


@dataclass
class Draws:
    """A project's choices for each payment, with their cumulative weights."""

    line_ids: list[int]
    lines: list[int]
    source_ids: list[int]
    sources: list[int]
    contracts: list[int]


@dataclass
class ProjectPlan:
    """What the ledger needs to know of a project to pay it."""

    id: int
    n: int
    programme_id: int
    status: str
    start: date
    finish: date
    original: int  # fen
    revised: int  # fen, after the latest revision
    policy: str
    lines: list[tuple[int, int]] = field(default_factory=list)  # (id, estimate in fen)
    sources: list[tuple[int, int]] = field(default_factory=list)  # (source id, planned fen)
    contracts: list[tuple[int, str, int]] = field(default_factory=list)  # (id, payee, fen)
    paid_share: float = 0.0
    activity: float = 0.0  # relative number of payments

    @property
    def code(self) -> str:
        return f"SYN-{self.n:06d}"

    @cached_property
    def draws(self) -> Draws:
        return Draws(
            line_ids=[line_id for line_id, _ in self.lines],
            lines=list(accumulate(estimate for _, estimate in self.lines)),
            source_ids=[source_id for source_id, _ in self.sources],
            sources=list(accumulate(planned for _, planned in self.sources)),
            contracts=list(accumulate(amount for _, _, amount in self.contracts)),
        )


@dataclass
class Province:
    """Every row of the synthetic programmes, by table in insertion order, the code of each
    programme by id, and the plan of the ledger."""

    tables: dict[str, list[dict[str, Any]]]
    codes: dict[int, str]
    ledger: "Ledger"


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """`total` in `parts` positive pieces of random size that add up exactly."""
    weights = [rng.random() + 0.25 for _ in range(parts)]
    scale = sum(weights)
    pieces = [max(1, int(total * w / scale)) for w in weights]
    pieces[-1] += total - sum(pieces)
    assert pieces[-1] > 0 and sum(pieces) == total
    return pieces


def _day(rng: random.Random, first: date, last: date) -> date:
    return date.fromordinal(rng.randint(first.toordinal(), max(first, last).toordinal()))


class Builder:
    """Builds the programme's rows in memory, deterministic from the seed."""

    def __init__(self, *, seed: int, next_ids: dict[str, int], sources: dict[str, int]) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = utcnow()
        self.ids = dict(next_ids)
        self.sources = sorted(sources.values())
        self.tables: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
        self.suppliers = [f"合成供应商 {n:03d}" for n in range(1, 51)]

    def add(self, table: str, **row: Any) -> int:
        """Append a row, giving it the next id if its table has ids; return the id."""
        if table in self.ids:
            self.ids[table] += 1
            row = {"id": self.ids[table], **row}
        self.tables[table].append(row)
        return int(row.get("id", 0))

    def build(self, *, programmes: int, projects: int, payments: int) -> Province:
        """`programmes` programmes of one county each, `projects` over them (a county has up
        to five times as many as another), and the plan of `payments` payments."""
        if not 1 <= programmes <= min(projects, 999):
            raise SystemExit("--programmes: from 1 to 999, and no more than --projects")
        self.contractors = [self._contractor(n) for n in range(1, max(3, projects // 4) + 1)]
        sizes = [projects] if programmes == 1 else _split(self.rng, projects, programmes)
        codes: dict[int, str] = {}
        plans: list[ProjectPlan] = []
        for k, size in enumerate(sizes, start=1):
            programme_id = self._programme(k)
            codes[programme_id] = programme_code(k)
            region = "合成县（虚构）" if k == 1 else f"合成县 {k:03d}（虚构）"
            self.sites = [self._site(region) for _ in range(max(5, size * 7 // 10))]
            plans += [self._project(len(plans) + n, programme_id) for n in range(1, size + 1)]
        return Province(tables=self.tables, codes=codes, ledger=_ledger(self.rng, plans, payments))

    def _programme(self, k: int) -> int:
        """The k-th programme and its plan items (self.items)."""
        code = programme_code(k)
        programme_id = self.add(
            "programme",
            code=code,
            name="合成数据：基准测试用的虚构项目库（synthetic benchmark programme）"
            + ("" if k == 1 else f" {k:03d}"),
            owner="合成数据（虚构）",
            region="合成县（虚构）" if k == 1 else f"合成县 {k:03d}（虚构）",
            start_year=FIRST_DAY.year,
            end_year=LAST_DAY.year,
            source=f"bench/generate.py --seed {self.seed}: synthetic, not from any plan",
            created_at=self.now,
        )
        self.items = [
            self.add(
                "plan_item", programme_id=programme_id, code=f"{code}-{n}", name=f"合成专栏{n}"
            )
            for n in range(1, PLAN_ITEMS + 1)
        ]
        return programme_id

    def _site(self, region: str) -> int:
        kinds = ("kindergarten", "primary", "junior_secondary", "nine_year", "senior_secondary")
        n = len(self.tables["site"]) + 1
        site_id = self.add(
            "site", region=region, name=f"合成学校 {n:06d}", kind=self.rng.choice(kinds)
        )
        if self.rng.random() < 0.05:
            self.add("site_alias", site_id=site_id, alias=f"合成校{n}")
        return site_id

    def _contractor(self, n: int) -> tuple[int, str]:
        name = f"合成{'建设工程' if n % 3 else '设备供应'}有限公司 {n:05d}"
        contractor_id = self.add(
            "contractor",
            name=name,
            credit_code=synthetic_uscc(n),
            contact=f"合成联系人 {n:05d}",
            created_at=self.now,
        )
        return contractor_id, name

    def _project(self, n: int, programme_id: int) -> ProjectPlan:
        rng = self.rng
        category = rng.choices(("new_build", "expansion", "renovation", "equipment"), (5, 6, 6, 3))[
            0
        ]
        start = _day(rng, FIRST_DAY, date(2026, 6, 30))
        finish = start + timedelta(days=rng.randint(300, 1100))
        if rng.random() < 0.01:
            status = "cancelled"
        elif start > date(2026, 1, 31):
            status = rng.choice(("identification", "preparation"))
        elif finish <= date(2026, 6, 30) and rng.random() < 0.85:
            status = "completion"
        else:
            status = "implementation"
        original = int(10 ** rng.uniform(5.7, 7.7)) * 100  # 50万 to 5000万 元, log-uniform
        plan = ProjectPlan(
            id=self.ids["project"] + 1,
            n=n,
            programme_id=programme_id,
            status=status,
            start=start,
            finish=finish,
            original=original,
            revised=original,
            policy="block" if rng.random() < 0.1 else "warn",
        )
        active = status in ("implementation", "completion")
        if active and rng.random() < 0.12:
            plan.revised = self._revisions(plan, has_lines=category == "equipment")
        sites = (
            [rng.choice(self.sites)]
            if rng.random() < 0.8
            else rng.sample(self.sites, min(len(self.sites), rng.randint(2, 8)))
        )
        self.add(
            "project",
            code=plan.code,
            name=f"合成项目 {n:06d}",
            plan_item_id=rng.choices(self.items, [1 / k for k in range(1, PLAN_ITEMS + 1)])[0],
            plan_ref=f"合成专栏 第{n}项",
            category=category,
            status=status,
            description="合成数据，仅供基准测试（synthetic）",
            land_area_m2=Decimal(rng.randint(0, 50_000)) if category == "new_build" else None,
            building_area_m2=None if category == "equipment" else Decimal(rng.randint(500, 30_000)),
            sports_area_m2=None,
            site_count=len(sites),
            scope_note=None,
            original_estimate=yuan(original),
            revised_estimate=yuan(plan.revised),
            budget_policy=plan.policy,
            warn_threshold=Decimal("0.90"),
            planned_start=start,
            planned_finish=finish,
            version=1,
            created_at=self.now,
            updated_at=self.now,
        )
        for site_id in sites:
            self.add("project_site", project_id=plan.id, site_id=site_id)
        stages = ("preschool", "compulsory", "senior_high", "vocational", "special")
        for stage in rng.sample(stages, 1 if rng.random() < 0.85 else 2):
            self.add("project_stage", project_id=plan.id, stage=stage)
        if category == "equipment" or (rng.random() < 0.1 and plan.revised >= original):
            self._budget_lines(plan, category)
        self._funding(plan)
        if active:
            self._contracts(plan)
        self._milestones(plan)
        (low, high), activity = STATUS_SHARES[status]
        plan.paid_share = rng.uniform(low, high)
        if active and plan.policy == "warn" and rng.random() < OVER_BUDGET_SHARE:
            plan.paid_share = rng.uniform(1.01, 1.12)
        # Larger and further advanced projects have more payments.
        plan.activity = activity * max(plan.paid_share, 0.01) * (plan.revised / 1e9) ** 0.5
        return plan

    def _revisions(self, plan: ProjectPlan, *, has_lines: bool) -> int:
        """One or two 概算调整, each replacing the figure before it; returns the latest."""
        rng, figure = self.rng, plan.original
        approvals = sorted(
            _day(rng, plan.start + timedelta(days=90), LAST_DAY) for _ in range(rng.randint(1, 2))
        )
        for k, approved_on in enumerate(approvals, start=1):
            # Mostly up; now and then down, never below budget lines (they'd need adjusting).
            cut = rng.random() < 0.1 and not has_lines
            new_figure = int(figure * rng.uniform(*((0.92, 0.99) if cut else (1.03, 1.3))))
            new_figure = new_figure // 100 * 100
            self.add(
                "project_revision",
                project_id=plan.id,
                new_estimate=yuan(new_figure),
                previous_estimate=yuan(figure),
                approved_on=approved_on,
                document_no=f"合成概调〔{approved_on.year}〕{plan.n:06d}-{k}号",
                reason="合成数据：工程量和材料价格变化（虚构）",
                funding_source_id=None,
                created_at=self.now,
                created_by_key_id=None,
            )
            figure = new_figure
        return figure

    def _budget_lines(self, plan: ProjectPlan, category: str) -> None:
        rng = self.rng
        kinds = ("equipment",) if category == "equipment" else ("construction", "installation")
        for k, whole_yuan in enumerate(_split(rng, plan.original // 100, rng.randint(2, 6)), 1):
            line_id = self.add(
                "budget_line",
                project_id=plan.id,
                code=f"{plan.code}-L{k}",
                name=f"合成概算明细 {k}",
                cost_category=rng.choice((*kinds, "other")),
                quantity=Decimal(rng.randint(1, 5000)),
                unit=rng.choice(("台/件", "套", "m²", "项")),
                estimate=yuan(whole_yuan * 100),
                budget_policy=None,
                warn_threshold=None,
                version=1,
            )
            plan.lines.append((line_id, whole_yuan * 100))

    def _funding(self, plan: ProjectPlan) -> None:
        funded_by = self.rng.sample(self.sources, self.rng.randint(1, 3))
        shares = _split(self.rng, plan.original // 100, len(funded_by))
        for source_id, whole_yuan in zip(funded_by, shares, strict=True):
            plan.sources.append((source_id, whole_yuan * 100))
            self.add(
                "project_funding",
                project_id=plan.id,
                funding_source_id=source_id,
                planned=yuan(whole_yuan * 100),
                disbursed=Decimal(0),
            )

    def _contracts(self, plan: ProjectPlan) -> None:
        """One to three contracts for 80–95% of the estimate; a fifth get change orders."""
        rng = self.rng
        committed = int(plan.revised * rng.uniform(0.8, 0.95)) // 100
        for k, whole_yuan in enumerate(_split(rng, committed, rng.randint(1, 3)), start=1):
            contractor_id, contractor = rng.choice(self.contractors)
            signed_on = plan.start + timedelta(days=rng.randint(0, 60))
            accepted_on = (
                min(plan.finish + timedelta(days=rng.randint(0, 60)), LAST_DAY)
                if plan.status == "completion"
                else None
            )
            contract_id = self.add(
                "contract",
                project_id=plan.id,
                contractor_id=contractor_id,
                contract_no=f"SYN-HT-{plan.n:06d}-{k}",
                title=f"合成项目 {plan.n:06d} 合同 {k}（合成）",
                amount=yuan(whole_yuan * 100),
                signed_on=signed_on,
                planned_finish=plan.finish,
                retention_rate=Decimal("0.03"),
                defects_months=rng.choice((12, 24)),
                payment_term_days=30,
                status="completed" if accepted_on else "active",
                accepted_on=accepted_on,
                version=1,
                created_at=self.now,
            )
            plan.contracts.append((contract_id, contractor, whole_yuan * 100))
            for c in range(1, (rng.randint(1, 2) if rng.random() < 0.2 else 0) + 1):
                price = rng.random() < 0.7
                delta = int(whole_yuan * rng.uniform(-0.03, 0.1)) * 100 or 100 if price else 0
                self.add(
                    "change_order",
                    contract_id=contract_id,
                    kind="price" if price else "duration",
                    delta=yuan(delta),
                    new_finish=None if price else plan.finish + timedelta(rng.randint(30, 180)),
                    document_no=f"合成变更-{plan.n:06d}-{k}-{c}",
                    approved_on=_day(rng, signed_on, LAST_DAY),
                    reason="合成数据：设计变更（虚构）",
                    created_at=self.now,
                )

    def _milestones(self, plan: ProjectPlan) -> None:
        """The four standard steps across the project's span, with progress reported up to
        LAST_DAY (slower than planned on some projects)."""
        rng = self.rng
        span = (plan.finish - plan.start).days
        pace = rng.uniform(0.6, 1.1) if plan.status == "implementation" else 1.0
        previous_due = plan.start
        for k, (code, weight, at) in enumerate(
            zip(STANDARD_CODES, MILESTONE_WEIGHTS, MILESTONE_AT, strict=True)
        ):
            due = plan.start + timedelta(days=int(span * at))
            if plan.status in ("identification", "preparation") or (
                plan.status == "cancelled" and k
            ):
                percent = 0
            elif plan.status == "completion":
                percent = 100
            else:
                elapsed = (LAST_DAY - previous_due).days * pace
                percent = max(0, min(100, int(100 * elapsed / max(1, (due - previous_due).days))))
            history: list[tuple[date, int]] = []
            if percent:
                last = min(LAST_DAY, due + timedelta(days=rng.randint(-20, 90)))
                days = sorted(
                    _day(rng, previous_due + timedelta(days=1), last)
                    for _ in range(rng.randint(1, 3))
                )
                steps = sorted(rng.randint(1, percent) for _ in days[:-1]) + [percent]
                history = list(zip(days, steps, strict=True))
            milestone_id = self.add(
                "milestone",
                project_id=plan.id,
                contract_id=plan.contracts[0][0] if plan.contracts else None,
                code=code,
                name=f"{code}（合成）",
                weight=Decimal(weight),
                planned_date=due,
                # As the app sets it: the date of the first report of 100%.
                actual_date=next((day for day, step in history if step == 100), None),
                percent_complete=Decimal(percent),
                certified_amount=None,
                certified_on=None,
                version=1,
                created_at=self.now,
            )
            for as_of, step in history:
                self.add(
                    "milestone_progress",
                    milestone_id=milestone_id,
                    percent_complete=Decimal(step),
                    as_of=as_of,
                    note="合成进度报告",
                    reported_by_key_id=None,
                    created_at=self.now,
                )
            previous_due = due


def _apportion(total: int, weights: Sequence[float]) -> list[int]:
    """`total` in whole parts in proportion to `weights` (the largest remainders get the
    units that rounding down leaves over)."""
    scale = sum(weights) or 1.0
    wanted = [total * w / scale for w in weights]
    parts = [int(w) for w in wanted]
    for i in sorted(range(len(parts)), key=lambda i: parts[i] - wanted[i])[: total - sum(parts)]:
        parts[i] += 1
    assert sum(parts) == total
    return parts


def _month_spans(first: int, last: int) -> list[tuple[int, int, int]]:
    """The calendar months from day `first` to day `last` (ordinals): (month number, first
    and last day within the range)."""
    spans = []
    day = date.fromordinal(first)
    while day.toordinal() <= last:
        following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        spans.append((_month_number(day), day.toordinal(), min(last, following.toordinal() - 1)))
        day = following
    return spans


def _month_number(day: date) -> int:
    return day.year * 12 + day.month - 1


@dataclass
class Ledger:
    """The ledger's plan: how many payments, and how much in all, each project gets in each
    month. The entries themselves are drawn month by month while they are written
    (`_entries`): one month's payments are in memory at a time, never the whole ledger."""

    plans: list[ProjectPlan]
    months: dict[int, list[tuple[int, int, int]]]  # month → (index in plans, payments, fen)
    payments: int


def _ledger(rng: random.Random, plans: list[ProjectPlan], total: int) -> Ledger:
    """`total` payments over the projects (more on large, active ones), each project's adding
    up to its share of its estimate, spread over the months from its start to three months
    after its planned finish (unevenly: some months busier than others)."""
    counts = _apportion(total, [p.activity for p in plans])
    last = LAST_DAY.toordinal()
    months: dict[int, list[tuple[int, int, int]]] = {}
    for index, (plan, count) in enumerate(zip(plans, counts, strict=True)):
        if count == 0:
            continue
        paid = max(count * 100, int(plan.revised * plan.paid_share))
        first = plan.start.toordinal()
        spans = _month_spans(first, max(first, min(last, plan.finish.toordinal() + 90)))
        weights = [(end - start + 1) * (0.5 + rng.random()) for _, start, end in spans]
        busy = [
            (month, n)
            for (month, _, _), n in zip(spans, _apportion(count, weights), strict=True)
            if n
        ]
        left = paid
        for k, (month, n) in enumerate(busy):
            # At least 100 fen a payment (paid ≥ 100 × count), the rounding in the last month.
            fen = left if k == len(busy) - 1 else paid * n // count
            left -= fen
            months.setdefault(month, []).append((index, n, fen))
    return Ledger(plans=plans, months=months, payments=total)


# An entry before it has an id: (number in writing order, date ordinal, programme, project,
# budget line, contract, funding source, payee, fen, number of the payment it reverses).
Entry = tuple[int, int, int, int, int | None, int | None, int, str, int, int | None]
# Where an entry goes: (programme, project, budget line, contract, funding source, payee).
Target = tuple[int, int, int | None, int | None, int, str]
# A reversal not yet written: (date ordinal, number of its payment, where, negative fen).
Pending = tuple[int, int, Target, int]


def _entries(rng: random.Random, ledger: Ledger, suppliers: list[str]) -> Iterator[Entry]:
    """Every entry in date order: each month's payments, drawn when the month comes, and the
    reversals in between (about 0.8% of the payments, each 1 to 30 days after its payment,
    of all of it or part)."""
    late = LAST_DAY.toordinal() - 30
    pending: list[Pending] = []
    number = 0
    for month in sorted(ledger.months):
        month_first = date(month // 12, month % 12 + 1, 1).toordinal()
        month_last = _month_spans(month_first, month_first + 31)[0][2]
        drawn: list[tuple[int, Target, int]] = []  # date ordinal, where, fen
        for index, count, fen in ledger.months[month]:
            plan = ledger.plans[index]
            first = max(month_first, plan.start.toordinal())
            last = min(month_last, plan.finish.toordinal() + 90, LAST_DAY.toordinal())
            for amount in _split(rng, fen, count):
                contract_id: int | None = None
                payee = rng.choice(suppliers)
                if plan.contracts and rng.random() < 0.7:
                    contract_id, payee, _ = rng.choices(
                        plan.contracts, cum_weights=plan.draws.contracts
                    )[0]
                line_id = (
                    rng.choices(plan.draws.line_ids, cum_weights=plan.draws.lines)[0]
                    if plan.lines
                    else None
                )
                source_id = rng.choices(plan.draws.source_ids, cum_weights=plan.draws.sources)[0]
                target = (plan.programme_id, plan.id, line_id, contract_id, source_id, payee)
                drawn.append((rng.randint(first, max(first, last)), target, amount))
        drawn.sort(key=itemgetter(0))
        for day, target, amount in drawn:
            while pending and pending[0][0] < day:
                number += 1
                yield _reversal(number, heapq.heappop(pending))
            number += 1
            yield (number, day, *target, amount, None)
            if day <= late and rng.random() < REVERSAL_SHARE:
                part = amount if rng.random() < 0.75 or amount < 2 else rng.randint(1, amount - 1)
                heapq.heappush(pending, (day + rng.randint(1, 30), number, target, -part))
    while pending:
        number += 1
        yield _reversal(number, heapq.heappop(pending))


def _reversal(number: int, pending: Pending) -> Entry:
    due, reversed_number, target, fen = pending
    return (number, due, *target, fen, reversed_number)


@dataclass
class Step:
    rows: int


class Progress:
    """Prints rows per second for each step and counts the rows written."""

    def __init__(self) -> None:
        self.rows = 0
        self.steps: list[dict[str, Any]] = []

    @contextmanager
    def step(self, label: str, rows: int = 0, *, written: bool = True) -> Iterator[Step]:
        step = Step(rows)
        started = time.perf_counter()
        yield step
        seconds = time.perf_counter() - started
        self.rows += step.rows if written else 0
        rate = f"{step.rows / seconds:>10,.0f} rows/s" if seconds > 0 and step.rows else ""
        self.steps.append({"step": label, "rows": step.rows, "seconds": round(seconds, 2)})
        print(f"  {label:<40} {step.rows:>10,} rows {seconds:8.2f} s {rate}", flush=True)


def _insert(conn: Connection, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Core executemany through the app's column types, in batches."""
    statement = sa.insert(metadata.tables[table])
    for start in range(0, len(rows), BATCH):
        conn.execute(statement, list(rows[start : start + BATCH]))


def _copy_or_executemany(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterator[tuple[Any, ...]]
) -> None:
    """Rows already in stored form: COPY on PostgreSQL, executemany on SQLite."""
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.dbapi_connection
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            conn.exec_driver_sql(sql, batch)
            batch = []
    if batch:
        conn.exec_driver_sql(sql, batch)


@contextmanager
def _indexes_after(conn: Connection, table: str, progress: "Progress") -> Iterator[None]:
    """On PostgreSQL, the table's foreign keys and its indexes other than the primary key and
    unique constraints are dropped for the block and made again after it, as a restore does:
    one sort per index and one join per key instead of a lookup per row and key. The same
    transaction: nothing is seen without them."""
    if conn.dialect.name != "postgresql":
        yield
        return
    keys = conn.execute(
        sa.text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = CAST(:table AS regclass) AND contype = 'f' ORDER BY conname"
        ),
        {"table": table},
    ).all()
    indexes = conn.execute(
        sa.text(
            "SELECT CAST(indexrelid AS regclass), pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = CAST(:table AS regclass) AND NOT EXISTS ("
            "  SELECT 1 FROM pg_constraint WHERE conindid = indexrelid) ORDER BY 1"
        ),
        {"table": table},
    ).all()
    for name, _ in keys:
        conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        conn.exec_driver_sql(f"DROP INDEX {name}")
    yield
    conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")
    for name, definition in indexes:
        with progress.step(f"index {name}", written=False):
            conn.exec_driver_sql(definition)
    for name, definition in keys:
        with progress.step(f"foreign key {name.removeprefix(f'fk_{table}_')}", written=False):
            conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def _stored(conn: Connection, table: str, column: str) -> Any:
    """The function that turns a Python value into what the column stores on this engine."""
    processor = metadata.tables[table].c[column].type.bind_processor(conn.dialect)
    return processor or (lambda value: value)


def _ledger_rows(
    conn: Connection,
    entries: Iterator[Entry],
    *,
    first_id: int,
    codes: dict[int, str],
    written: dict[str, int],
) -> Iterator[tuple[Any, ...]]:
    """The entries as rows of LEDGER_COLUMNS in stored form, with their ids and voucher
    numbers (one sequence per programme for payments, 记账凭证, and one for reversals, 红字
    冲销凭证); `written` counts the payments and reversals."""
    stored_date = _stored(conn, "disbursement", "paid_on")
    created_at = _stored(conn, "disbursement", "created_at")(utcnow())
    dates: dict[int, Any] = {}
    # A voucher's key is its prefix's key and the digits (which the key leaves as they are).
    prefixes: dict[int, tuple[str, str, str, str]] = {}
    for programme_id, code in codes.items():
        payment, reversal = f"{code}-PZ-", f"{code}-CZ-"
        prefixes[programme_id] = (
            payment,
            identifier_key(payment),
            reversal,
            identifier_key(reversal),
        )
        assert identifier_key(f"{payment}00000001") == f"{identifier_key(payment)}00000001"
    numbers = {programme_id: [0, 0] for programme_id in codes}
    memos = ("进度款（合成）", "预付款（合成）", "设备款（合成）", "结算款（合成）")
    reason = "合成数据：凭证录入错误，冲销"
    for (
        number,
        ordinal,
        programme,
        project,
        line,
        contract,
        source,
        payee,
        fen,
        reverses,
    ) in entries:
        if ordinal not in dates:
            dates[ordinal] = stored_date(date.fromordinal(ordinal))
        counters = numbers[programme]
        payment_prefix, payment_key, reversal_prefix, reversal_key = prefixes[programme]
        if reverses is None:
            counters[0] += 1
            digits = f"{counters[0]:08d}"
            voucher, key = payment_prefix + digits, payment_key + digits
            kind, reverses_id, why, memo = "payment", None, None, memos[counters[0] % len(memos)]
        else:
            counters[1] += 1
            digits = f"{counters[1]:08d}"
            voucher, key = reversal_prefix + digits, reversal_key + digits
            kind, reverses_id, why, memo = "reversal", first_id + reverses - 1, reason, None
        written[kind] += 1
        yield (
            first_id + number - 1,
            programme,
            project,
            line,
            contract,
            source,
            kind,
            fen,
            dates[ordinal],
            payee,
            voucher,
            key,
            reverses_id,
            why,
            memo,
            created_at,
            None,
            None,
        )


# Tables whose ids the generator chooses (PostgreSQL's sequences are moved past them after).
ID_TABLES = [
    table for table in TABLES if table not in ("project_stage", "project_site", "project_funding")
] + ["disbursement"]


def generate(
    database_url: str,
    *,
    programmes: int = 1,
    projects: int,
    payments: int,
    seed: int,
    check: bool = True,
) -> dict[str, Any]:
    url = normalise_url(database_url)
    # The storage convention the driver-level ledger load relies on: money is integer fen.
    assert MoneyType().process_bind_param(
        Decimal("12.34"), sa.create_engine("sqlite://").dialect
    ) == (1234)
    progress = Progress()
    print(f"migrating {sa.make_url(url).render_as_string(hide_password=True)}", flush=True)
    with progress.step("migrate", written=False):
        migrate.upgrade(url)
    engine = make_engine(Settings(database_url=url))
    started = time.perf_counter()
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # Room for the ledger's indexes while a million rows go in; this connection only.
            conn.exec_driver_sql("PRAGMA cache_size=-524288")
            conn.commit()
        with conn.begin() as transaction:
            # The balances are filled from every entry in the database: ours must be all.
            if conn.execute(sa.text("SELECT 1 FROM disbursement LIMIT 1")).first():
                raise SystemExit("this database has ledger entries already: use a fresh one")
            if conn.execute(
                sa.text("SELECT 1 FROM programme WHERE code = :code OR code LIKE :codes"),
                {"code": PROGRAMME_CODE, "codes": f"{PROGRAMME_CODE}-%"},
            ).first():
                raise SystemExit(
                    f"programme {PROGRAMME_CODE} is already in this database: use a fresh one"
                )
            next_ids = {
                table: int(
                    conn.execute(sa.text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")).scalar_one()
                )
                for table in ID_TABLES
            }
            sources: dict[str, int] = dict(
                conn.execute(
                    sa.text("SELECT code, id FROM funding_source WHERE code IN :codes").bindparams(
                        sa.bindparam("codes", expanding=True)
                    ),
                    {"codes": list(SOURCE_CODES)},
                ).all()
            )
            if not sources:
                raise SystemExit("no funding sources: is the database migrated?")
            with progress.step("build in memory (not the ledger)", projects, written=False):
                builder = Builder(seed=seed, next_ids=next_ids, sources=sources)
                province = builder.build(
                    programmes=programmes, projects=projects, payments=payments
                )
            for table, rows in province.tables.items():
                with progress.step(table, len(rows)):
                    _insert(conn, table, rows)
            written = {"payment": 0, "reversal": 0}
            ledger_rows = _ledger_rows(
                conn,
                _entries(builder.rng, province.ledger, builder.suppliers),
                first_id=next_ids["disbursement"] + 1,
                codes=province.codes,
                written=written,
            )
            with _indexes_after(conn, "disbursement", progress):
                with progress.step("disbursement (drawn and loaded)") as step:
                    _copy_or_executemany(conn, "disbursement", LEDGER_COLUMNS, ledger_rows)
                    step.rows = written["payment"] + written["reversal"]
            for balance in BALANCES:
                # A table that has rows already (the funding plans) has their amounts set;
                # the others are filled.
                refill = balance.table.name in province.tables
                with progress.step(
                    f"{balance.table.name} (from the entries)", written=False
                ) as step:
                    statement = (
                        balance.refill_statement() if refill else balance.rebuild_statement()
                    )
                    step.rows = conn.execute(
                        statement.execution_options(preserve_rowcount=True)
                    ).rowcount
            if conn.dialect.name == "postgresql":
                for table in ID_TABLES:
                    conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                    )
            with progress.step("commit", written=False):
                transaction.commit()
        loaded = time.perf_counter() - started
        if conn.dialect.name == "sqlite":
            with progress.step("ANALYZE", written=False):
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
                raw: Any = conn.connection.dbapi_connection
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            # Vacuumed too: the visibility map set now lets index-only scans skip the table
            # from the first report on, rather than after autovacuum gets to it.
            with progress.step("VACUUM ANALYZE", written=False):
                autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
                autocommit.exec_driver_sql("VACUUM ANALYZE")
    summary: dict[str, Any] = {
        "programmes": programmes,
        "projects": projects,
        "payments": written["payment"],
        "reversals": written["reversal"],
        "seed": seed,
        "rows": progress.rows,
        "seconds": round(time.perf_counter() - started, 1),
        "load_seconds": round(loaded, 1),
        "steps": progress.steps,
    }
    print(
        f"generated {summary['rows']:,} rows ({summary['payments']:,} payments, "
        f"{summary['reversals']:,} reversals) in {summary['seconds']} s",
        flush=True,
    )
    if check:
        summary["check"] = verify(engine)
    engine.dispose()
    return summary


def verify(engine: Engine) -> dict[str, Any]:
    """The app's own checks on what was generated: ledger balances against entries, the audit
    chain, and each project's revised estimate against its latest revision. Returns the
    problems and how long each check took."""
    from app.audit.service import verify as verify_audit
    from app.db import SessionFactory
    from app.ledger.service import reconcile

    started = time.perf_counter()
    with SessionFactory(engine).begin(write=False) as session:
        problems = reconcile(session=session)
        reconciled = time.perf_counter()
        audit = verify_audit(session=session)
        if not audit.ok:
            problems.append(f"audit chain: {audit.detail}")
        stale = session.execute(
            sa.text(
                """SELECT p.code FROM project p WHERE p.revised_estimate != COALESCE((
                    SELECT r.new_estimate FROM project_revision r WHERE r.project_id = p.id
                    ORDER BY r.approved_on DESC, r.id DESC LIMIT 1), p.original_estimate)"""
            )
        ).scalars()
        problems += [
            f"project {code}: revised_estimate is not its latest revision" for code in stale
        ]
    finished = time.perf_counter()
    print(
        f"checked in {finished - started:.1f} s (reconcile {reconciled - started:.1f} s): "
        f"reconcile {'ok' if not problems else f'{len(problems)} problems'}, audit chain "
        f"{'ok' if audit.ok else 'broken'} ({audit.entries} entries)",
        flush=True,
    )
    for problem in problems[:20]:
        print(f"  {problem}")
    return {
        "problems": problems,
        "reconcile_seconds": round(reconciled - started, 1),
        "seconds": round(finished - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--programmes", type=int, default=1)
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-check", action="store_true", help="skip reconcile and the other checks"
    )
    parser.add_argument("--json", help="write the summary and each step's time to this file")
    args = parser.parse_args()
    summary = generate(
        args.database_url,
        programmes=args.programmes,
        projects=args.projects,
        payments=args.payments,
        seed=args.seed,
        check=not args.no_check,
    )
    if args.json:
        Path(args.json).write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    return 1 if summary.get("check", {}).get("problems") else 0


if __name__ == "__main__":
    raise SystemExit(main())
