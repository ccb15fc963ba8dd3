from typing import Annotated, Any

from fastapi import Query, Request, Response

from app.auth.dependencies import StaffReaderDep
from app.db import SessionDep
from app.errors import problem_responses
from app.inputs import SafeText
from app.oc4ids.encoding import exact_json
from app.oc4ids.service import Publication, project_package
from app.params import TodayDep
from app.reports.dependencies import AsOf
from app.routing import FeatureRouter

router = FeatureRouter(prefix="/api/v1/exports", tags=["open data"])

PACKAGE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An OC4IDS 0.9 project package, valid against the standard's "
        "project-package schema; amounts are JSON numbers with their exact digits",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["uri", "publishedDate", "publisher", "version", "projects"],
                    "externalDocs": {
                        "url": "https://standard.open-contracting.org/infrastructure/"
                    },
                }
            }
        },
    }
}


@router.get(
    "/oc4ids",
    summary="The programme as open data: an OC4IDS project package",
    description="Every project of the programme (default: every programme) as of `as_of` "
    "(default today), in the Open Contracting for Infrastructure Data Standard 0.9: budget "
    "(the estimate in force, the original and each 概算调整, planned funding per source), "
    "sites, parties, contracts with their change orders and payments, milestones, financial "
    "and physical progress, completion. Entries dated later are left out, as in the reports; "
    "the budgets add up to the portfolio's revised total. Amounts are JSON numbers written "
    "from the exact decimals. Publisher, licence and the project id prefix come from the "
    "OC4IDS_* settings. Staff only (admin, finance, viewer).",
    response_class=Response,
    responses={**PACKAGE, **problem_responses(401, 403, 404, 422)},
)
def oc4ids_package(
    actor: StaffReaderDep,
    session: SessionDep,
    today: TodayDep,
    request: Request,
    programme: Annotated[
        SafeText | None,
        Query(max_length=64, description="The programme's code or id (default: every one)"),
    ] = None,
    as_of: AsOf = None,
) -> Response:
    package = project_package(
        session=session,
        actor=actor,
        programme=programme,
        as_of=as_of or today,
        today=today,
        publication=Publication.of(request.app.state.settings),
    )
    return Response(exact_json(package), media_type="application/json")
