"""The Chinese words of the service, in one place: each enumeration's values, the reports'
group and totals labels, flags, alert kinds and severities, and the alert messages and report
notes in both languages, keyed by the language's code (`en`, `zh`, the values of
app.exports.dependencies.Lang; this module imports nothing of the app, so any layer may use
it). JSON keeps the codes; labels, messages and notes follow `?lang=`, and so do the cells of a
`?lang=zh` CSV or XLSX export."""

from collections.abc import Mapping

LANGUAGES = ("en", "zh")
CATEGORY = {
    "new_build": "新建",
    "expansion": "改扩建",
    "renovation": "改造",
    "equipment": "设备购置",
}
STAGE = {
    "preschool": "学前教育",
    "compulsory": "义务教育",
    "senior_high": "普通高中",
    "vocational": "职业教育",
    "special": "特殊教育",
}
# OC4IDS projectStatus codes.
STATUS = {
    "identification": "项目识别",
    "preparation": "前期准备",
    "implementation": "实施中",
    "completion": "已完工",
    "maintenance": "运营维护",
    "decommissioning": "停用中",
    "decommissioned": "已停用",
    "cancelled": "已取消",
}
ENTRY_KIND = {"payment": "支付", "reversal": "红字冲销"}
FLAG = {
    "over_budget": "超概算",
    "forecast_over": "预计超概算",
    "needs_revision": "需概算调整",
    "behind_schedule": "进度滞后",
}
ALERT_KIND = {
    **FLAG,
    "payments_overdue": "逾期未付",
    "final_accounts_due": "竣工财务决算到期",
    "retention_due": "质保金到期",
}
# A CSV's booleans (flags, `due`), by False/True.
BOOLEAN = {"en": ("FALSE", "TRUE"), "zh": ("否", "是")}
SEVERITY = {"critical": "严重", "high": "高", "medium": "中", "low": "低"}
# The figures an alert shows, by their keys.
FIGURE = {
    "revised_estimate": "调整后概算",
    "committed": "已签合同额",
    "disbursed": "已拨付",
    "ev": "挣值EV",
    "pv": "计划值PV",
    "cpi": "CPI",
    "spi": "SPI",
    "eac": "完工估算EAC",
    "overdue": "逾期未付金额",
    "overdue_days": "逾期天数",
    "certifications": "确认笔数",
    "retention_unpaid": "未付质保金",
}

# Portfolio groupings: the heading of the group column, the label of projects without a group.
GROUP_HEADING = {
    "plan_item": "专栏",
    "category": "建设类别",
    "status": "状态",
    "site": "学校/地点",
    "funding_source": "资金来源",
    "year": "年度",
    "project": "项目",
}
NO_GROUP = {
    "plan_item": {"en": "(no plan item)", "zh": "（无专栏）"},
    "site": {"en": "(no site)", "zh": "（无学校/地点）"},
    "funding_source": {"en": "(no funding source)", "zh": "（无资金来源）"},
    "year": {"en": "(no planned finish)", "zh": "（无计划完工年度）"},
}
NONE = {"en": "(none)", "zh": "（无）"}
TOTAL = {"en": "Total", "zh": "合计"}
# Group keys that are codes of an enumeration, by grouping.
GROUP_VALUES: Mapping[str, Mapping[str, str]] = {"category": CATEGORY, "status": STATUS}

NOTES = {
    "site": {
        "en": "A project on several sites counts in full under each of them and once in "
        "the totals, so the groups may add up to more than the totals.",
        "zh": "跨多个学校/地点的项目在每个地点下全额计入，在合计中只计一次，"
        "因此各组之和可能大于合计。",
    },
    "funding_source": {
        "en": "Per funding source: funding_planned is the sources' share of the projects' "
        "funding plans and disbursed what was paid from it; remaining = funding_planned − "
        "disbursed. Estimates, commitments and earned value belong to projects, not sources, "
        "and are null here (see the totals). A project drawing on several sources counts under "
        "each; a project with no funding plan and no payments counts in the totals only.",
        "zh": "按资金来源：资金计划为该来源在各项目资金计划中的份额，已拨付为从该来源支付的"
        "金额；剩余 = 资金计划 − 已拨付。概算、合同额和挣值属于项目而非资金来源，此处为空"
        "（见合计）。使用多个资金来源的项目在每个来源下计入；没有资金计划也没有支付的项目只计入"
        "合计。",
    },
    "year": {
        "en": "Money paid is grouped by the year it was paid; estimates, commitments, "
        "earned and planned value, project counts and flags by the year of the project's "
        "planned finish. Figures that would mix the two (remaining, variance, completion "
        "shares, ac, cv, cpi, eac, vac) are null in the year rows and given in the totals.",
        "zh": "已拨付按支付年度分组；概算、合同额、挣值和计划值、项目数及标记按项目计划完工"
        "年度分组。会混合两者的数据（剩余概算、偏差、完成率、AC、CV、CPI、EAC、VAC）在各年度行"
        "中为空，只在合计中给出。",
    },
}

# Alert messages; each template's fields are named in it.
ALERT_MESSAGE = {
    "over_budget": {
        "en": "disbursed {disbursed} exceeds the revised estimate {revised_estimate}",
        "zh": "已拨付 {disbursed} 元，超过调整后概算 {revised_estimate} 元",
    },
    "forecast_over": {
        "en": "estimate at completion {eac} exceeds the revised estimate {revised_estimate}",
        "zh": "完工估算 {eac} 元，超过调整后概算 {revised_estimate} 元",
    },
    "needs_revision": {
        "en": "disbursed, committed or estimate at completion exceeds the revised estimate "
        "by more than {threshold}: 概算调整 needed",
        "zh": "已拨付、已签合同额或完工估算超过调整后概算 {threshold} 以上，需办理概算调整",
    },
    "behind_schedule": {
        "en": "SPI {spi} below {threshold}",
        "zh": "进度绩效指数 SPI {spi}，低于 {threshold}",
    },
    "final_accounts_overdue": {
        "en": "竣工财务决算 overdue since {due_on} (竣工验收 {accepted_on})",
        "zh": "竣工财务决算自 {due_on} 起逾期（竣工验收 {accepted_on}）",
    },
    "final_accounts_due": {
        "en": "竣工财务决算 due by {due_on} (竣工验收 {accepted_on})",
        "zh": "竣工财务决算应于 {due_on} 前完成（竣工验收 {accepted_on}）",
    },
    "payments_overdue": {
        "en": "{contract_no} ({contractor}): {unpaid} certified and unpaid past the payment "
        "term, the oldest {overdue_days} days overdue",
        "zh": "{contract_no}（{contractor}）：已确认未付 {unpaid} 元，超过付款期限，"
        "最早一笔逾期 {overdue_days} 天",
    },
    "retention_due": {
        "en": "{contract_no} ({contractor}): retention {retention_unpaid} released on "
        "{due_on} and not yet paid",
        "zh": "{contract_no}（{contractor}）：质保金 {retention_unpaid} 元已于 {due_on} "
        "到期退还，尚未支付",
    },
}


PROJECT_PREFIX = {"en": "{code} {name}: ", "zh": "{code} {name}："}


def alert_messages(
    template: str, *, project: tuple[str, str] | None = None, **fields: object
) -> dict[str, str]:
    """An alert's message in each language, from its template and figures; a project's
    alert begins with the project's code and name."""
    messages = {}
    for lang in LANGUAGES:
        prefix = (
            "" if project is None else PROJECT_PREFIX[lang].format(code=project[0], name=project[1])
        )
        messages[lang] = prefix + ALERT_MESSAGE[template][lang].format(**fields)
    return messages


def word(names: Mapping[str, str], value: str | None, lang: str) -> str | None:
    """An enumeration's value as shown in a language: its Chinese word for `zh` (the value
    itself when it has none), the value as it is for `en`."""
    if value is None or lang == "en":
        return value
    return names.get(value, value)
