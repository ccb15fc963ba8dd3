"""Reports as sheets for CSV and XLSX exports (app/exports)."""

from app.exports.tables import Column, Kind, Sheet
from app.reports.schemas import DuesReport

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
    Column("due_on", "due_on", "应付日期", Kind.DATE),
    Column("overdue_days", "overdue_days", "逾期天数", Kind.INT),
)
RETENTION_COLUMNS = (
    Column("contract_id", "contract_id", "合同ID", Kind.INT),
    Column("contract_no", "contract_no", "合同编号"),
    Column("project_code", "project_code", "项目编号"),
    Column("contractor", "contractor", "施工单位/供货商", width=32),
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
