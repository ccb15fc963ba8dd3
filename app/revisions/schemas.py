from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.inputs import InputModel, IsoDate
from app.money import Amount, NonNegativeMoney


class RevisionCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "new_estimate": "70000000.00",
                    "approved_on": "2023-09-15",
                    "document_no": "平发改审发〔2023〕45号（示例）",
                    "reason": "材料价格上涨，增加抗震设防措施",
                    "funding_source": "county",
                }
            ]
        }
    )

    new_estimate: NonNegativeMoney = Field(description="The new approved total (not an increment)")
    approved_on: IsoDate
    document_no: str = Field(min_length=1, max_length=128, description="Approval document number")
    reason: str = Field(min_length=1, max_length=2000)
    funding_source: str | None = Field(
        default=None,
        max_length=100,
        description="Source that funds the change (政府投资条例 第23条)",
    )


class RevisionRead(BaseModel):
    id: int
    project_id: int
    new_estimate: Amount
    previous_estimate: Amount = Field(description="The approved figure this one replaced")
    approved_on: IsoDate
    document_no: str
    reason: str
    funding_source: str | None
    created_at: datetime
    created_by_key_id: int | None


class RevisionPosted(RevisionRead):
    revised_estimate: Amount = Field(description="The project's revised estimate after this")
    warnings: list[str]
