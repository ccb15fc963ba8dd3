"""A reference model of one programme's ledger, and a state machine that drives the real API
against it (docs/REPORTS.md is the model's specification).

The model is written from the definitions alone, in integer fen and exact fractions, and
shares no code with the service: a figure that differs means the service or the page is
wrong. `LedgerMachine` sends random sequences of payments (with and without an
Idempotency-Key, retried), reversals, 概算调整, contracts, change orders, 竣工验收, early
releases of retention, milestones, progress reports and certifications; before each request
it predicts the answer (posted, or which refusal), and after each step it compares every
figure of the project report, the portfolio (today, and as of the dates around the last
event) and the dues with the model's, and checks that the audit chain verifies and the
running balances reconcile. tests/ledger/test_model.py runs it briefly on the suite's engine;
bench/model_ledger.py runs it for longer.
"""

import calendar
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, ClassVar

from fastapi.testclient import TestClient
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

PERIOD_START = date(2021, 1, 1)  # the programme's period: 2021-2025, no preparatory months
PERIOD_END = date(2025, 12, 31)
CONTRACTOR = "宁夏某建设工程有限公司（测试）"  # the contractor of tests/factories.make_keys
NEEDS_REVISION = Fraction(11, 10)  # revised × (1 + 0.10): the default threshold
BEHIND_SPI = Fraction(9, 10)


# ---------------------------------------------------------------------------------------------
# The reference model: exact integers (money in fen, weights and percents in hundredths).


def half_away(value: Fraction) -> int:
    """四舍五入 to an integer: half away from zero."""
    n = (2 * abs(value.numerator) + value.denominator) // (2 * value.denominator)
    return n if value >= 0 else -n


def yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def ratio(numerator: int | Fraction, denominator: int | Fraction) -> str | None:
    """A share to four decimals, null when the denominator is zero."""
    if denominator == 0:
        return None
    ten_thousandths = half_away(Fraction(numerator) / Fraction(denominator) * 10_000)
    return f"{Decimal(ten_thousandths) / 10_000:.4f}"


def months_on(day: date, months: int) -> date:
    """The same day some months on, or that month's last day."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass
class ProjectM:
    id: int
    code: str
    original: int
    policy: str
    threshold: Fraction
    planned_start: date | None
    revisions: list[tuple[date, int, int]] = field(default_factory=list)  # (approved, seq, fen)


@dataclass
class ContractM:
    id: int
    project: ProjectM
    amount: int
    signed_on: date
    rate: Fraction
    defects_months: int
    changes: list[tuple[date, int]] = field(default_factory=list)
    accepted_on: date | None = None
    released_on: date | None = None


@dataclass
class MilestoneM:
    id: int
    project: ProjectM
    contract: ContractM | None
    weight: int  # hundredths
    planned: date
    reports: list[tuple[date, int, int]] = field(default_factory=list)  # (as_of, seq, percent)
    certified: tuple[int, date] | None = None


@dataclass
class EntryM:
    id: int
    project: ProjectM
    contract: ContractM | None
    amount: int  # negative for a reversal
    on: date
    voucher: str
    reverses: "EntryM | None" = None


@dataclass(frozen=True)
class Figures:
    """One project's or one group's figures (docs/REPORTS.md §2 and §5), exact."""

    original: int
    revised: int
    committed: int
    disbursed: int
    ev: int
    pv: int
    physical: Fraction | None
    planned: Fraction | None
    measured: int  # projects with milestones
    measured_revised: int
    measured_disbursed: int

    @property
    def eac(self) -> int | None:
        if self.measured_disbursed == 0 or self.ev <= 0:
            return None
        return half_away(Fraction(self.measured_revised * self.measured_disbursed, self.ev))

    def flags(self) -> dict[str, bool]:
        eac = self.eac
        return {
            "over_budget": self.disbursed > self.revised,
            "forecast_over": eac is not None and eac > self.revised,
            "needs_revision": max(self.disbursed, self.committed, eac or 0)
            > self.revised * NEEDS_REVISION,
            "behind_schedule": self.pv > 0 and self.ev < self.pv * BEHIND_SPI,
        }

    def shown(self) -> dict[str, str | None]:
        """The figures as a report writes them."""
        remaining = self.revised - self.disbursed
        shown: dict[str, str | None] = {
            "original_estimate": yuan(self.original),
            "revised_estimate": yuan(self.revised),
            "committed": yuan(self.committed),
            "uncommitted": yuan(self.revised - self.committed),
            "disbursed": yuan(self.disbursed),
            "remaining": yuan(remaining),
            "budget_variance": yuan(remaining),
            "budget_variance_pct": ratio(remaining, self.revised),
            "financial_completion": ratio(self.disbursed, self.revised),
            "physical_completion": None if self.physical is None else ratio(self.physical, 1),
            "planned_completion": None if self.planned is None else ratio(self.planned, 1),
            "bac": yuan(self.revised),
            "ac": yuan(self.disbursed),
        }
        earned = ("pv", "ev", "cv", "sv", "cpi", "spi", "eac", "vac")
        if not self.measured:
            return shown | dict.fromkeys(earned)
        eac = self.eac
        return shown | {
            "pv": yuan(self.pv),
            "ev": yuan(self.ev),
            "cv": yuan(self.ev - self.measured_disbursed),
            "sv": yuan(self.ev - self.pv),
            "cpi": ratio(self.ev, self.measured_disbursed),
            "spi": ratio(self.ev, self.pv),
            "eac": None if eac is None else yuan(eac),
            "vac": None if eac is None else yuan(self.measured_revised - eac),
        }


def group(members: list[Figures]) -> Figures:
    """A group: money summed, earned value over the members with a measure of progress."""
    ev, pv = sum(f.ev for f in members), sum(f.pv for f in members)
    measured_revised = sum(f.measured_revised for f in members)
    return Figures(
        original=sum(f.original for f in members),
        revised=sum(f.revised for f in members),
        committed=sum(f.committed for f in members),
        disbursed=sum(f.disbursed for f in members),
        ev=ev,
        pv=pv,
        physical=Fraction(ev, measured_revised) if measured_revised else None,
        planned=Fraction(pv, measured_revised) if measured_revised else None,
        measured=sum(f.measured for f in members),
        measured_revised=measured_revised,
        measured_disbursed=sum(f.measured_disbursed for f in members),
    )


@dataclass
class Ledger:
    """What the service should hold for one programme, and what it should answer."""

    today: date
    projects: list[ProjectM] = field(default_factory=list)
    contracts: list[ContractM] = field(default_factory=list)
    milestones: list[MilestoneM] = field(default_factory=list)
    entries: list[EntryM] = field(default_factory=list)
    seq: int = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    # -- as of a date

    def revised(self, p: ProjectM, on: date) -> int:
        """The latest 概算调整 approved by then (of one day's, the later recorded), else the
        original."""
        in_force = [(d, s, fen) for d, s, fen in p.revisions if d <= on]
        return max(in_force)[2] if in_force else p.original

    def disbursed(self, p: ProjectM, on: date) -> int:
        return sum(e.amount for e in self.entries if e.project is p and e.on <= on)

    def paid(self, c: ContractM, on: date) -> int:
        return sum(e.amount for e in self.entries if e.contract is c and e.on <= on)

    def committed(self, c: ContractM, on: date) -> int:
        if c.signed_on > on:
            return 0
        return c.amount + sum(delta for d, delta in c.changes if d <= on)

    def percent(self, m: MilestoneM, on: date) -> int:
        reported = [r for r in m.reports if r[0] <= on]
        return max(reported)[2] if reported else 0

    def planned_share(self, p: ProjectM, ms: list[MilestoneM], on: date) -> Fraction:
        """Each weight ramps from the previous distinct planned date (the first from the
        planned start; with none, from its own date) to its own planned date."""
        dates = sorted({m.planned for m in ms})
        due = Fraction(0)
        for m in ms:
            if m.planned <= on:
                due += m.weight
                continue
            before = [d for d in dates if d < m.planned]
            previous = before[-1] if before else p.planned_start
            if previous is not None and previous < on:
                due += Fraction(m.weight * (on - previous).days, (m.planned - previous).days)
        return due / sum(m.weight for m in ms)

    def figures(self, p: ProjectM, on: date) -> Figures:
        revised = self.revised(p, on)
        disbursed = self.disbursed(p, on)
        ms = [m for m in self.milestones if m.project is p]
        physical = planned = None
        ev = pv = 0
        if ms:
            weights = sum(m.weight for m in ms)
            physical = Fraction(sum(m.weight * self.percent(m, on) for m in ms), weights * 10_000)
            planned = self.planned_share(p, ms, on)
            ev, pv = half_away(revised * physical), half_away(revised * planned)
        return Figures(
            original=p.original,
            revised=revised,
            committed=sum(self.committed(c, on) for c in self.contracts if c.project is p),
            disbursed=disbursed,
            ev=ev,
            pv=pv,
            physical=physical,
            planned=planned,
            measured=1 if ms else 0,
            measured_revised=revised if ms else 0,
            measured_disbursed=disbursed if ms else 0,
        )

    def terms(self, c: ContractM, on: date, *, every_change: bool = False) -> dict[str, Any]:
        """A contract's terms on a date (§7): as of the date, or (every_change) as the ledger
        checks a payment today, with everything recorded."""
        if every_change:
            committed = c.amount + sum(delta for _, delta in c.changes)
            paid = self.paid(c, date.max)
            accepted, released_on = c.accepted_on, c.released_on
        else:
            committed, paid = self.committed(c, on), self.paid(c, on)
            accepted = c.accepted_on if c.accepted_on and c.accepted_on <= on else None
            released_on = c.released_on if c.released_on and c.released_on <= on else None
        retention = half_away(committed * c.rate)
        due_on = None if accepted is None else months_on(accepted, c.defects_months)
        known = [d for d in (due_on, released_on) if d is not None]
        release = min(known) if known else None
        released = release is not None and release <= on
        limit = committed if released else committed - retention
        return {
            "committed": committed,
            "paid": paid,
            "payable_limit": limit,
            "retention_planned": retention,
            "retention_held": 0 if released else max(0, min(retention, committed - paid)),
            "retention_release_date": release,
            "payable_now": max(0, limit - paid),
            "accepted_on": accepted,
        }

    def certified_total(self, c: ContractM) -> int:
        return sum(m.certified[0] for m in self.milestones if m.contract is c and m.certified)

    def unpaid_certifications(self, on: date) -> dict[int, int]:
        """Milestone id → what payments on its contract by then leave unpaid of its
        certification (oldest first), for those with something unpaid (§9)."""
        unpaid: dict[int, int] = {}
        for c in self.contracts:
            running, paid = 0, self.paid(c, on)
            certified = sorted(
                (m.certified[1], m.id, m.certified[0])
                for m in self.milestones
                if m.contract is c and m.certified and m.certified[1] <= on
            )
            for _, milestone_id, amount in certified:
                running += amount
                left = min(amount, max(0, running - paid))
                if left > 0:
                    unpaid[milestone_id] = left
        return unpaid


# ---------------------------------------------------------------------------------------------
# Strategies: dates within the programme's period (2021-2025, all before today), often equal.

days = st.builds(
    lambda step, extra: PERIOD_START + timedelta(days=25 * step + extra),
    st.integers(0, 72),
    st.integers(0, 1),
)
# A date counted from a contract's signing: mostly after it, sometimes the day before.
since_signing = st.integers(-1, 30)
estimates = st.integers(100_000, 5_000_000)  # 1000.00-50000.00
amounts = st.integers(1, 2_000_000)
# A payment as a share (percent) of what it is paid against, plus a few fen.
portions = st.tuples(st.integers(0, 60), st.integers(0, 99))
picks = st.integers(0, 999)
project_specs = st.tuples(
    estimates,
    st.sampled_from(["warn", "block"]),
    st.sampled_from(["0.90", "0.50", "1.00"]),
    st.one_of(st.none(), days),
)


@dataclass
class Answer:
    status: int
    body: bytes
    json: Any


@dataclass(frozen=True)
class Service:
    """The service under test: an app's client, Authorization headers of an admin and a finance
    key, the contractor contracts are signed with, and the ledger's reconcile (its problems)."""

    client: TestClient
    admin: dict[str, str]
    finance: dict[str, str]
    contractor_id: int
    reconcile: Callable[[], list[str]]
    # What the runs asked and got ("payment 409", "payment warned over_budget" …).
    outcomes: Counter[str] = field(default_factory=Counter)


class LedgerMachine(RuleBasedStateMachine):
    """Drives the API with random operations on a fresh programme and compares each answer and
    every report figure with the reference model; `machine_for` binds it to a service."""

    service: ClassVar[Service]

    def __init__(self) -> None:
        super().__init__()
        self.model: Ledger | None = None
        self.programme = ""
        self.last_event: date | None = None
        self.steps = 0

    # -- requests

    def send(self, path: str, body: dict[str, Any], *, key: str | None = None) -> Answer:
        service = self.service
        headers = {**(service.finance if "/disbursements" in path else service.admin)}
        if key is not None:
            headers["Idempotency-Key"] = key
        response = service.client.post(f"/api/v1{path}", json=body, headers=headers)
        json = response.json() if response.content else None
        return Answer(response.status_code, response.content, json)

    def get(self, path: str, **params: Any) -> Any:
        response = self.service.client.get(
            f"/api/v1{path}",
            params={k: v for k, v in params.items() if v},
            headers=self.service.admin,
        )
        assert response.status_code == 200, (path, params, response.text)
        return response.json()

    def expect(self, answer: Answer, status: int, what: str, problem: str | None = None) -> None:
        self.service.outcomes[f"{what.split(' ', 1)[0]} {status}"] += 1
        assert answer.status == status, f"{what}: expected {status}, got {answer.json}"
        if problem is not None:
            assert str(answer.json["type"]).endswith(f"/{problem}"), (what, answer.json)

    @property
    def ledger(self) -> Ledger:
        assert self.model is not None
        return self.model

    def happened(self, on: date) -> None:
        self.last_event = on

    @staticmethod
    def since(c: ContractM, steps: int) -> date:
        """A date some 25-day steps after the contract was signed (-1: the day before)."""
        if steps < 0:
            return c.signed_on - timedelta(days=1)
        return min(PERIOD_END, c.signed_on + timedelta(days=25 * steps))

    # -- the programme

    @initialize(specs=st.lists(project_specs, min_size=1, max_size=2))
    def programme_with_projects(self, specs: list[tuple[int, str, str, date | None]]) -> None:
        tag = uuid.uuid4().hex[:10]
        self.programme = f"MDL-{tag}"
        made = self.send(
            "/programmes",
            {"code": self.programme, "name": "模型测试规划", "region": "测试县",
             "start_year": 2021, "end_year": 2025},
        )  # fmt: skip
        self.expect(made, 201, "programme")
        item = self.send(
            f"/programmes/{self.programme}/plan-items", {"code": "专栏7", "name": "模型"}
        )
        self.expect(item, 201, "plan-item")
        asked = self.get("/reports/portfolio", programme=self.programme)
        today = date.fromisoformat(asked["as_of"])  # the service's today
        self.model = Ledger(today=today)
        for n, (estimate, policy, threshold, start) in enumerate(specs, 1):
            body: dict[str, Any] = {
                "code": f"MDL-{tag}-P{n}",
                "name": f"模型项目{n}",
                "plan_item_id": item.json["id"],
                "category": "new_build",
                "original_estimate": yuan(estimate),
                "budget_policy": policy,
                "warn_threshold": threshold,
            }
            if start is not None:
                body["planned_start"] = start.isoformat()
            made = self.send("/projects", body)
            self.expect(made, 201, "project")
            threshold_ = Fraction(threshold)
            project = ProjectM(made.json["id"], body["code"], estimate, policy, threshold_, start)
            self.ledger.projects.append(project)

    # -- payments

    def predict_payment(
        self, p: ProjectM, amount: int, on: date, c: ContractM | None
    ) -> tuple[int, str | None, list[str]]:
        """(status, problem type, warning codes) the ledger must answer (§8)."""
        estimate = self.ledger.revised(p, date.max)
        after = self.ledger.disbursed(p, date.max) + amount
        warnings = []
        if after > estimate:
            if p.policy == "block":
                return 409, "budget-exceeded", []
            warnings.append("over_budget")
        elif estimate > 0 and after >= estimate * p.threshold:
            warnings.append("near_budget")
        if c is not None:
            if on < c.signed_on:
                return 422, None, []
            terms = self.ledger.terms(c, self.ledger.today, every_change=True)
            if terms["paid"] + amount > terms["payable_limit"]:
                if p.policy == "block":
                    return 409, "budget-exceeded", []
                warnings.append("contract_over_limit")
        return 201, None, warnings

    @rule(
        pick=picks,
        portion=portions,
        on=days,
        on_contract=st.booleans(),
        signed_then=since_signing,
        keyed=st.booleans(),
        retries=st.integers(0, 2),
    )
    def pay(
        self,
        pick: int,
        portion: tuple[int, int],
        on: date,
        on_contract: bool,
        signed_then: int,
        keyed: bool,
        retries: int,
    ) -> None:
        p = self.ledger.projects[pick % len(self.ledger.projects)]
        own = [c for c in self.ledger.contracts if c.project is p]
        c = own[pick % len(own)] if on_contract and own else None
        if c is not None:
            on = self.since(c, signed_then)
            base = self.ledger.terms(c, self.ledger.today, every_change=True)["committed"]
        else:
            base = self.ledger.revised(p, date.max)
        amount = max(1, base * portion[0] // 100 + portion[1])
        voucher = f"V-{self.ledger.next_seq()}"
        body: dict[str, Any] = {
            "project_id": p.id,
            "amount": yuan(amount),
            "paid_on": on.isoformat(),
            "payee": CONTRACTOR if c is not None else "某供应商（测试）",
            "voucher_no": voucher,
            "funding_source": "county",
        }
        if c is not None:
            body["contract_id"] = c.id
        status, problem, warnings = self.predict_payment(p, amount, on, c)
        key = str(uuid.uuid4()) if keyed else None
        first = self.send("/disbursements", body, key=key)
        self.expect(first, status, f"payment {body}", problem)
        for warning in warnings:
            self.service.outcomes[f"payment warned {warning}"] += 1
        if status == 201:
            assert [w["code"] for w in first.json["warnings"]] == warnings, first.json
            assert first.json["amount"] == yuan(amount)
            self.ledger.entries.append(EntryM(first.json["id"], p, c, amount, on, voucher))
            self.happened(on)
        for _ in range(retries if keyed else 0):
            again = self.send("/disbursements", body, key=key)
            assert again.status == first.status, (again.json, first.json)
            if status == 201:
                assert again.body == first.body, "a retry must replay the first answer"
        if keyed and status == 201 and retries:
            # The same key for another payment is refused, and posts nothing.
            other = self.send("/disbursements", {**body, "amount": yuan(amount + 1)}, key=key)
            self.expect(other, 422, "key-reused-for-another-body", "idempotency-key-reused")
        if status == 201 and not keyed and retries:
            # Sent again without a key, the voucher number stops the second payment (unless
            # a check that comes first refuses it: the budget it would now exceed).
            again_status, again_problem, _ = self.predict_payment(p, amount, on, c)
            if again_status == 201:
                again_status, again_problem = 409, "duplicate-voucher"
            again = self.send("/disbursements", body)
            self.expect(again, again_status, "voucher-sent-again-without-key", again_problem)

    @precondition(lambda self: self.model is not None and bool(self.payments()))
    @rule(pick=picks, amount=st.one_of(st.none(), amounts), on=days, keyed=st.booleans())
    def reverse(self, pick: int, amount: int | None, on: date, keyed: bool) -> None:
        payments = self.payments()
        original = payments[pick % len(payments)]
        left = original.amount + sum(
            e.amount for e in self.ledger.entries if e.reverses is original
        )
        voucher = f"H-{self.ledger.next_seq()}"
        body: dict[str, Any] = {"reason": "原路退回（测试）", "reversed_on": on.isoformat(),
                                "voucher_no": voucher}  # fmt: skip
        if amount is not None:
            body["amount"] = yuan(amount)
        if on < original.on:
            status = 422
        elif left == 0 or (amount is not None and amount > left):
            status = 409
        else:
            status = 201
        key = str(uuid.uuid4()) if keyed else None
        first = self.send(f"/disbursements/{original.id}/reversals", body, key=key)
        self.expect(first, status, f"reversal of {original} {body}")
        if status != 201:
            return
        taken = left if amount is None else amount
        assert first.json["amount"] == yuan(-taken)
        self.ledger.entries.append(
            EntryM(first.json["id"], original.project, original.contract, -taken, on, voucher,
                   original)
        )  # fmt: skip
        self.happened(on)
        if keyed:
            again = self.send(f"/disbursements/{original.id}/reversals", body, key=key)
            assert (again.status, again.body) == (first.status, first.body)

    def payments(self) -> list[EntryM]:
        return [e for e in self.ledger.entries if e.reverses is None]

    # -- 概算调整

    @rule(pick=picks, estimate=st.one_of(st.just(0), estimates), on=days, keyed=st.booleans())
    def revise(self, pick: int, estimate: int, on: date, keyed: bool) -> None:
        p = self.ledger.projects[pick % len(self.ledger.projects)]
        body = {"new_estimate": yuan(estimate), "approved_on": on.isoformat(),
                "document_no": f"调整-{self.ledger.next_seq()}", "reason": "模型测试"}  # fmt: skip
        key = str(uuid.uuid4()) if keyed else None
        made = self.send(f"/projects/{p.id}/revisions", body, key=key)
        self.expect(made, 201, f"revision {body}")
        p.revisions.append((on, self.ledger.seq, estimate))
        self.happened(on)
        assert made.json["revised_estimate"] == yuan(self.ledger.revised(p, date.max))
        if keyed:
            again = self.send(f"/projects/{p.id}/revisions", body, key=key)
            assert (again.status, again.body) == (made.status, made.body)

    # -- contracts

    @rule(
        pick=picks,
        amount=estimates,
        signed=days,
        rate=st.sampled_from(["0", "0.03", "0.025"]),
        defects=st.sampled_from([0, 12, 24]),
    )
    def sign_contract(self, pick: int, amount: int, signed: date, rate: str, defects: int) -> None:
        p = self.ledger.projects[pick % len(self.ledger.projects)]
        body = {"project_id": p.id, "contractor_id": self.service.contractor_id,
                "contract_no": f"HT-{self.ledger.next_seq()}", "title": "施工合同（测试）",
                "amount": yuan(amount), "signed_on": signed.isoformat(),
                "retention_rate": rate, "defects_months": defects}  # fmt: skip
        made = self.send("/contracts", body)
        self.expect(made, 201, f"contract {body}")
        self.ledger.contracts.append(
            ContractM(made.json["id"], p, amount, signed, Fraction(rate), defects)
        )
        self.happened(signed)

    def contract(self, pick: int) -> ContractM:
        return self.ledger.contracts[pick % len(self.ledger.contracts)]

    @precondition(lambda self: self.model is not None and bool(self.ledger.contracts))
    @rule(pick=picks, delta=st.integers(-3_000_000, 3_000_000).filter(bool), then=since_signing)
    def change_order(self, pick: int, delta: int, then: int) -> None:
        c = self.contract(pick)
        on = self.since(c, then)
        body = {"kind": "price", "delta": yuan(delta), "approved_on": on.isoformat(),
                "document_no": f"变更-{self.ledger.next_seq()}", "reason": "模型测试"}  # fmt: skip
        terms = self.ledger.terms(c, self.ledger.today, every_change=True)
        low = max(terms["paid"], self.ledger.certified_total(c))
        if on < c.signed_on:
            status = 422
        elif delta < 0 and terms["committed"] + delta < low:
            status = 409
        else:
            status = 201
        made = self.send(f"/contracts/{c.id}/change-orders", body)
        self.expect(made, status, f"change-order {body} on {c}")
        if status == 201:
            c.changes.append((on, delta))
            self.happened(on)

    @precondition(lambda self: self.model is not None and bool(self.ledger.contracts))
    @rule(pick=picks, then=since_signing)
    def accept(self, pick: int, then: int) -> None:
        c = self.contract(pick)
        on = self.since(c, then)
        status = 422 if on < c.signed_on else 409 if c.accepted_on else 200
        made = self.send(f"/contracts/{c.id}/acceptance", {"accepted_on": on.isoformat()})
        self.expect(made, status, f"acceptance on {on} of {c}")
        if status == 200:
            c.accepted_on = on
            self.happened(on)

    @precondition(lambda self: self.model is not None and bool(self.ledger.contracts))
    @rule(pick=picks, then=since_signing)
    def release_retention(self, pick: int, then: int) -> None:
        c = self.contract(pick)
        on = self.since(c, then)
        release = self.ledger.terms(c, self.ledger.today, every_change=True)
        released = release["retention_release_date"] is not None
        if on < c.signed_on:
            status = 422
        elif c.rate == 0 or (released and release["retention_release_date"] <= self.ledger.today):
            status = 409
        else:
            status = 200
        body = {"released_on": on.isoformat(), "reason": "以银行保函替代（测试）"}
        made = self.send(f"/contracts/{c.id}/retention-release", body)
        self.expect(made, status, f"retention-release on {on} of {c}")
        if status == 200:
            c.released_on = on
            self.happened(on)

    # -- milestones

    @rule(pick=picks, weight=st.integers(1, 5_000), planned=days, of_contract=st.integers(0, 3))
    def add_milestone(self, pick: int, weight: int, planned: date, of_contract: int) -> None:
        p = self.ledger.projects[pick % len(self.ledger.projects)]
        own = [c for c in self.ledger.contracts if c.project is p]
        c = own[pick % len(own)] if of_contract and own else None
        body: dict[str, Any] = {"project_id": p.id, "code": f"M-{self.ledger.next_seq()}",
                                "name": "节点（测试）", "weight": yuan(weight),
                                "planned_date": planned.isoformat()}  # fmt: skip
        if c is not None:
            body["contract_id"] = c.id
        made = self.send("/milestones", body)
        self.expect(made, 201, f"milestone {body}")
        self.ledger.milestones.append(MilestoneM(made.json["id"], p, c, weight, planned))

    def milestone(self, pick: int) -> MilestoneM:
        return self.ledger.milestones[pick % len(self.ledger.milestones)]

    @precondition(lambda self: self.model is not None and bool(self.ledger.milestones))
    @rule(
        pick=picks,
        percent=st.one_of(st.just(10_000), st.integers(0, 10_000)),
        on=days,
        then=since_signing,
    )
    def report_progress(self, pick: int, percent: int, on: date, then: int) -> None:
        m = self.milestone(pick)
        if m.contract is not None:
            on = self.since(m.contract, then)
        status = 422 if m.contract is not None and on < m.contract.signed_on else 201
        body = {"percent_complete": yuan(percent), "as_of": on.isoformat()}
        made = self.send(f"/milestones/{m.id}/progress", body)
        self.expect(made, status, f"progress {body} of {m}")
        if status == 201:
            m.reports.append((on, self.ledger.next_seq(), percent))
            self.happened(on)

    @precondition(lambda self: self.model is not None and bool(self.ledger.milestones))
    @rule(pick=picks, portion=st.integers(0, 120), then=since_signing, reason=st.booleans())
    def certify(self, pick: int, portion: int, then: int, reason: bool) -> None:
        """A certification of some portion (percent) of the milestone's share of its
        contract at its progress by then: within it, or above it with or without a reason."""
        of_contracts = [m for m in self.ledger.milestones if m.contract is not None]
        if of_contracts and pick % 5:
            m = of_contracts[pick % len(of_contracts)]
        else:
            m = self.milestone(pick)
        c = m.contract
        on = PERIOD_END if c is None else self.since(c, then)
        if m.reports and portion % 2:
            on = max(m.reports)[0]  # on the day of its latest progress report
        share = Fraction(0)
        if c is not None:
            committed = self.ledger.terms(c, self.ledger.today, every_change=True)["committed"]
            weights = sum(n.weight for n in self.ledger.milestones if n.contract is c)
            share = Fraction(committed * m.weight * self.ledger.percent(m, on), weights * 10_000)
        amount = half_away(share * portion / 100) + (portion % 7 == 0)
        body: dict[str, Any] = {"certified_amount": yuan(amount), "certified_on": on.isoformat()}
        if reason:
            body["reason"] = "按合同约定预付（测试）"
        if c is None or on < c.signed_on:
            status = 422
        else:
            others = self.ledger.certified_total(c) - (m.certified[0] if m.certified else 0)
            over_share = amount > share and not reason
            status = 409 if others + amount > committed or over_share else 200
        made = self.send(f"/milestones/{m.id}/certification", body)
        self.expect(made, status, f"certification {body} of {m}")
        if status == 200:
            m.certified = (amount, on)
            self.happened(on)

    # -- what every report must say

    @rule(on=days)
    def reports_as_of(self, on: date) -> None:
        """Every figure as of a past date, the project reports' and the dues' too."""
        self.compare_portfolio(on)
        for p in self.ledger.projects:
            self.compare_project_report(p, on)
        self.compare_dues(on)

    @invariant()
    def reports_agree(self) -> None:
        if self.model is None:
            return
        self.steps += 1
        self.compare_portfolio(None)
        p = self.ledger.projects[self.steps % len(self.ledger.projects)]
        self.compare_project_report(p, None)
        if self.last_event is not None:
            # An event dated D counts as of D, and not the day before.
            self.compare_portfolio(self.last_event)
            self.compare_portfolio(self.last_event - timedelta(days=1))

    @invariant()
    def ledger_holds_together(self) -> None:
        if self.model is None:
            return
        verified = self.get("/audit/verify")
        assert verified["ok"] and verified["first_broken"] is None, verified
        assert self.service.reconcile() == []

    def compare_portfolio(self, on: date | None) -> None:
        when = on or self.ledger.today
        got = self.get(
            "/reports/portfolio",
            programme=self.programme,
            group_by="project",
            as_of=on.isoformat() if on else None,
        )
        each = {p.code: self.ledger.figures(p, when) for p in self.ledger.projects}
        rows = {row["key"]: row for row in got["groups"]}
        assert set(rows) == set(each), (rows.keys(), each.keys())
        for code, figures in each.items():
            # A row is a group of one: its completions are its ev and pv over its BAC (§5).
            self.same(rows[code], group([figures]), f"portfolio row {code} as of {when}")
            flags = {k: int(v) for k, v in figures.flags().items()}
            assert rows[code]["flags"] == flags, (code, when, rows[code]["flags"], flags)
        totals = group(list(each.values()))
        self.same(got["totals"], totals, f"portfolio totals as of {when}")
        raised = [f.flags() for f in each.values()]
        counted = {k: sum(r[k] for r in raised) for k in raised[0]}
        assert got["totals"]["flags"] == counted, (when, got["totals"]["flags"], counted)
        assert got["totals"]["projects"] == len(each)
        assert got["totals"]["evm_projects"] == totals.measured
        assert got["totals"]["evm_coverage"] == ratio(totals.measured_revised, totals.revised)

    def compare_project_report(self, p: ProjectM, on: date | None) -> None:
        when = on or self.ledger.today
        got = self.get(f"/projects/{p.id}/report", as_of=on.isoformat() if on else None)
        figures = self.ledger.figures(p, when)
        self.same(got, figures, f"project {p.code} as of {when}")
        assert got["flags"] == figures.flags(), (p.code, when, got["flags"], figures.flags())
        contracts = {}
        for c in self.ledger.contracts:
            if c.project is not p or c.signed_on > when:
                continue
            terms = self.ledger.terms(c, when)
            release, accepted = terms["retention_release_date"], terms["accepted_on"]
            contracts[c.id] = {
                **{k: yuan(terms[k]) for k in ("committed", "paid", "retention_planned",
                                               "retention_held", "payable_now")},
                "retention_release_date": release.isoformat() if release else None,
                "accepted_on": accepted.isoformat() if accepted else None,
            }  # fmt: skip
        shown = {
            row["contract_id"]: {k: row[k] for k in next(iter(contracts.values()), {})}
            for row in got["contracts"]
        }
        assert shown == contracts, (p.code, when, shown, contracts)
        paid_from = [e for e in self.ledger.entries if e.project is p]
        funding = [
            {"funding_source": "county", "planned": "0.00", "disbursed": yuan(figures.disbursed),
             "remaining": yuan(-figures.disbursed)}
        ] if paid_from else []  # fmt: skip
        assert [{k: row[k] for k in ("funding_source", "planned", "disbursed", "remaining")}
                for row in got["funding"]] == funding, (p.code, when, got["funding"])  # fmt: skip

    def compare_dues(self, on: date) -> None:
        got = self.get("/reports/dues", as_of=on.isoformat())
        ours = {p.id for p in self.ledger.projects}
        shown = {row["milestone_id"]: row["unpaid"] for row in got["certified"]
                 if row["project_id"] in ours}  # fmt: skip
        expected = {k: yuan(v) for k, v in self.ledger.unpaid_certifications(on).items()}
        assert shown == expected, (on, shown, expected)

    @staticmethod
    def same(row: dict[str, Any], figures: Figures, what: str) -> None:
        expected = figures.shown()
        shown = {k: row[k] for k in expected}
        differ = {k: (shown[k], expected[k]) for k in expected if shown[k] != expected[k]}
        assert not differ, f"{what}: (service, model) {differ}"


def machine_for(service: Service) -> type[LedgerMachine]:
    """The state machine bound to a service, for hypothesis to run."""
    return type("BoundLedgerMachine", (LedgerMachine,), {"service": service})
