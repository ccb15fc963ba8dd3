"""A report in the language asked for (`?lang=`): the words come from app.labels; codes,
figures and keys stay as they are. A finished report is shared by every language (the report
cache keeps one), so this makes a copy."""

from typing import Any

from app.exports.dependencies import Lang
from app.labels import GROUP_VALUES, NO_GROUP, NONE, NOTES, TOTAL, word
from app.reports.schemas import AlertsReport, PortfolioGroup, PortfolioReport


def in_language(report: Any, lang: Lang) -> Any:
    """The report with its labels, notes and alert messages in `lang`."""
    if lang is Lang.en:
        return report
    if isinstance(report, PortfolioReport):
        return report.model_copy(
            update={
                "groups": [_group_label(group, report.group_by, lang) for group in report.groups],
                "totals": report.totals.model_copy(update={"label": TOTAL[lang]}),
                "notes": [NOTES[report.group_by][lang]] if report.notes else [],
            }
        )
    if isinstance(report, AlertsReport):
        alerts = [
            alert.model_copy(update={"message": alert._messages.get(lang.value, alert.message)})
            for alert in report.alerts
        ]
        return report.model_copy(update={"alerts": alerts})
    return report


def _group_label(group: PortfolioGroup, group_by: str, lang: Lang) -> PortfolioGroup:
    if group.key is None:
        label = NO_GROUP.get(group_by, NONE)[lang]
    elif group_by in GROUP_VALUES:
        label = word(GROUP_VALUES[group_by], group.key, lang) or group.label
    else:
        return group
    return group.model_copy(update={"label": label})
