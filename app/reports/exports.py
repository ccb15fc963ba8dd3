"""Reports as sheets for CSV and XLSX exports (app/exports)."""

from typing import Any

from app.exports.dependencies import ExportFormat, Lang
from app.exports.tables import Column, Kind, Sheet
from app.labels import (
    ALERT_KIND,
    FIGURE,
    FLAG,
    GROUP_HEADING,
    GROUP_VALUES,
    SEVERITY,
    TOTAL,
    word,
)
from app.reports.schemas import (
    AlertsReport,
    DuesReport,
    PortfolioReport,
    ProjectReport,
    TimeseriesReport,
)

CERTIFIED_COLUMNS = (
    Column("milestone_id", "milestone_id", "里程碑编号", Kind.INT),
    Column("milestone", "milestone", "里程碑", width=20),
    Column("project_id", "project_id", "项目ID", Kind.INT),
    Column("project_code", "project_code", "项目编号"),
    Column("contract_id", "contract_id", "合同ID", Kind.INT),
    Column("contract_no", "contract_no", "合同编号"),
    Column("contractor", "contractor", "施工单位/供货商", width=32),
    Column("certified_amount", "certified_amount", "确认金额（元）", Kind.MONEY),
    Column("unpaid", "unpaid", "未付金额（元）", Kind.MONEY),
    Column("certified_on", "certified_on", "确认日期", Kind.DATE),
    Column("certification_reason", "certification_reason", "超进度确认原因", width=30),
    Column("due_on", "due_on", "应付日期", Kind.DATE),
    Column("overdue_days", "overdue_days", "逾期天数", Kind.INT),
)
RETENTION_COLUMNS = (
    Column("contract_id", "contract_id", "合同ID", Kind.INT),
    Column("contract_no", "contract_no", "合同编号"),
    Column("project_id", "project_id", "项目ID", Kind.INT),
    Column("project_code", "project_code", "项目编号"),
    Column("contractor", "contractor", "施工单位/供货商", width=32),
    Column("retention_unpaid", "retention_unpaid", "未付质保金（元）", Kind.MONEY),
    Column("retention_held", "retention_held", "质保金（元）", Kind.MONEY),
    Column("accepted_on", "accepted_on", "竣工验收日期", Kind.DATE),
    Column("due_on", "due_on", "到期日", Kind.DATE),
    Column("due", "due", "应退还", Kind.BOOL),
)


def dues_sheets(report: DuesReport) -> list[Sheet]:
    """Certified dues and retention, with the same rows and figures as the JSON report."""
    return [
        Sheet(
            name="Certified dues",
            name_zh="已确认应付款",
            columns=CERTIFIED_COLUMNS,
            rows=[due.model_dump() for due in report.certified],
        ),
        Sheet(
            name="Retention",
            name_zh="质保金",
            columns=RETENTION_COLUMNS,
            rows=[retention.model_dump() for retention in report.retention],
        ),
    ]


FIGURE_COLUMNS = (
    Column("original_estimate", "original_estimate", "原概算（元）", Kind.MONEY),
    Column("revised_estimate", "revised_estimate", "调整后概算（元）", Kind.MONEY),
    Column("committed", "committed", "已签合同额（元）", Kind.MONEY),
    Column("uncommitted", "uncommitted", "未签合同额（元）", Kind.MONEY),
    Column("disbursed", "disbursed", "已拨付（元）", Kind.MONEY),
    Column("remaining", "remaining", "剩余概算（元）", Kind.MONEY),
    Column("budget_variance", "budget_variance", "预算偏差（元）", Kind.MONEY),
    Column("budget_variance_pct", "budget_variance_pct", "预算偏差率", Kind.SHARE),
    Column("financial_completion", "financial_completion", "财务完成率", Kind.SHARE),
    Column("physical_completion", "physical_completion", "形象进度", Kind.SHARE),
    Column("planned_completion", "planned_completion", "计划进度", Kind.SHARE),
    Column("bac", "bac", "完工预算 BAC（元）", Kind.MONEY),
    Column("pv", "pv", "计划值 PV（元）", Kind.MONEY),
    Column("ev", "ev", "挣值 EV（元）", Kind.MONEY),
    Column("ac", "ac", "实际成本 AC（元）", Kind.MONEY),
    Column("cv", "cv", "成本偏差 CV（元）", Kind.MONEY),
    Column("sv", "sv", "进度偏差 SV（元）", Kind.MONEY),
    Column("cpi", "cpi", "成本绩效指数 CPI", Kind.RATIO),
    Column("spi", "spi", "进度绩效指数 SPI", Kind.RATIO),
    Column("eac", "eac", "完工估算 EAC（元）", Kind.MONEY),
    Column("vac", "vac", "完工偏差 VAC（元）", Kind.MONEY),
)


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    """A report row with its flags (booleans or counts) as columns of their own."""
    flags = row.pop("flags", {})
    return {**row, **{f"flag_{name}": value for name, value in flags.items()}}


def project_sheets(report: ProjectReport) -> list[Sheet]:
    """The project's figures (one row), then its budget lines, funding sources, contracts."""
    summary = (
        Column("code", "code", "项目编号"),
        Column("name", "name", "项目名称", width=32),
        Column("as_of", "as_of", "截至日期", Kind.DATE),
        *FIGURE_COLUMNS,
        *(Column(f"flag_{name}", name, zh, Kind.BOOL) for name, zh in FLAG.items()),
    )
    return [
        Sheet("Report", "项目报表", summary, [_flat(report.model_dump())]),
        Sheet(
            "Budget lines",
            "概算明细",
            (
                Column("code", "code", "明细编号"),
                Column("name", "name", "名称", width=24),
                Column("estimate", "estimate", "概算（元）", Kind.MONEY),
                Column("disbursed", "disbursed", "已拨付（元）", Kind.MONEY),
                Column("remaining", "remaining", "剩余（元）", Kind.MONEY),
                Column("financial_completion", "financial_completion", "财务完成率", Kind.SHARE),
            ),
            [line.model_dump() for line in report.budget_lines],
        ),
        Sheet(
            "Funding",
            "资金来源",
            (
                Column("funding_source", "funding_source", "资金来源代码"),
                Column("name", "name", "资金来源", width=20),
                Column("planned", "planned", "计划（元）", Kind.MONEY),
                Column("disbursed", "disbursed", "已拨付（元）", Kind.MONEY),
                Column("remaining", "remaining", "未拨付（元）", Kind.MONEY),
            ),
            [source.model_dump() for source in report.funding],
        ),
        Sheet(
            "Contracts",
            "合同",
            (
                Column("contract_no", "contract_no", "合同编号"),
                Column("contractor", "contractor", "承包单位", width=32),
                Column("signed_on", "signed_on", "签订日期", Kind.DATE),
                Column("accepted_on", "accepted_on", "竣工验收日期", Kind.DATE),
                Column("committed", "committed", "合同额（含变更，元）", Kind.MONEY),
                Column("paid", "paid", "已付（元）", Kind.MONEY),
                Column("retention_planned", "retention_planned", "应留质保金（元）", Kind.MONEY),
                Column("retention_held", "retention_held", "质保金（元）", Kind.MONEY),
                Column(
                    "retention_release_date", "retention_release_date", "质保金退还日期", Kind.DATE
                ),
                Column("payable_now", "payable_now", "当前可付（元）", Kind.MONEY),
            ),
            [contract.model_dump() for contract in report.contracts],
        ),
    ]


def portfolio_sheets(
    report: PortfolioReport, *, lang: Lang = Lang.en, notes: bool = True
) -> list[Sheet]:
    """One row per group and a last row of totals; the notes, if any and asked for, on a
    sheet of their own (XLSX; a CSV stays one plain table). In Chinese, a group key that is an
    enumeration's code (category, status) and the totals' key are words."""
    columns = (
        Column("key", report.group_by, GROUP_HEADING.get(report.group_by, "分组")),
        Column("label", "label", "名称", width=28),
        Column("projects", "projects", "项目数", Kind.INT),
        *(Column(f"flag_{name}", name, f"{zh}项目数", Kind.INT) for name, zh in FLAG.items()),
        *FIGURE_COLUMNS,
        Column("evm_projects", "evm_projects", "有进度计量项目数", Kind.INT),
        Column("evm_coverage", "evm_coverage", "挣值覆盖率（占BAC）", Kind.SHARE),
        Column("funding_planned", "funding_planned", "资金计划（元）", Kind.MONEY),
    )
    rows = [_flat(group.model_dump()) for group in report.groups]
    values = GROUP_VALUES.get(report.group_by, {})
    for row in rows:
        row["key"] = word(values, row["key"], lang)
    rows.append({**_flat(report.totals.model_dump()), "key": word(KEY_TOTAL, "total", lang)})
    sheets = [Sheet("Portfolio", "项目汇总", columns, rows)]
    if notes and report.notes:
        sheets.append(
            Sheet(
                "Notes",
                "说明",
                (Column("note", "note", "说明", width=100),),
                [{"note": note} for note in report.notes],
            )
        )
    return sheets


KEY_TOTAL = {"total": TOTAL[Lang.zh]}


def timeseries_sheets(report: TimeseriesReport) -> list[Sheet]:
    columns = (
        Column("period", "period", "期间"),
        Column("start", "start", "起始日期", Kind.DATE),
        Column("end", "end", "截止日期", Kind.DATE),
        Column("disbursed", "disbursed", "本期拨付（元）", Kind.MONEY),
        Column("ac", "ac", "累计实际成本 AC（元）", Kind.MONEY),
        Column("pv", "pv", "累计计划值 PV（元）", Kind.MONEY),
        Column("ev", "ev", "累计挣值 EV（元）", Kind.MONEY),
        Column("bac", "bac", "完工预算 BAC（元）", Kind.MONEY),
    )
    return [Sheet("S-curve", "S曲线", columns, [p.model_dump() for p in report.points])]


def alerts_sheets(report: AlertsReport, *, lang: Lang = Lang.en) -> list[Sheet]:
    """The alerts; in Chinese, their severities, kinds and figures' names are words."""
    columns = (
        Column("severity", "severity", "严重程度"),
        Column("kind", "kind", "类型"),
        Column("project_code", "project_code", "项目编号"),
        Column("contract_no", "contract_no", "合同编号"),
        Column("due_on", "due_on", "到期日", Kind.DATE),
        Column("message", "message", "说明", width=60),
        Column("figures", "figures", "相关数据", width=60),
    )
    rows = [
        {
            **alert.model_dump(),
            "severity": word(SEVERITY, alert.severity, lang),
            "kind": word(ALERT_KIND, alert.kind, lang),
            "figures": "; ".join(
                f"{word(FIGURE, name, lang)}={value}" for name, value in alert.figures.items()
            ),
        }
        for alert in report.alerts
    ]
    return [Sheet("Alerts", "预警", columns, rows)]


def sheets_for(report: Any, fmt: ExportFormat, lang: Lang = Lang.en) -> list[Sheet]:
    """The sheets of any report; a portfolio's notes go to XLSX only (a CSV stays one table)."""
    if isinstance(report, ProjectReport):
        return project_sheets(report)
    if isinstance(report, PortfolioReport):
        return portfolio_sheets(report, lang=lang, notes=fmt is ExportFormat.xlsx)
    if isinstance(report, TimeseriesReport):
        return timeseries_sheets(report)
    if isinstance(report, AlertsReport):
        return alerts_sheets(report, lang=lang)
    if isinstance(report, DuesReport):
        return dues_sheets(report)
    raise TypeError(f"no sheets for {type(report).__name__}")
