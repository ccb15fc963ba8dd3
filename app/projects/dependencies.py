from typing import Annotated

from fastapi import Depends

from app.auth.dependencies import ActorDep
from app.db import SessionDep
from app.params import RefPath
from app.projects import service
from app.projects.models import Project


def valid_project(ref: RefPath, session: SessionDep, actor: ActorDep) -> Project:
    """The project named in the path, if the caller may see it (404 otherwise)."""
    return service.get_project(session=session, actor=actor, ref=ref)


ProjectDep = Annotated[Project, Depends(valid_project)]


def project_for_update(ref: RefPath, session: SessionDep, actor: ActorDep) -> Project:
    """The project named in the path, row-locked for the rest of the transaction."""
    return service.get_project(session=session, actor=actor, ref=ref, for_update=True)


ProjectForUpdateDep = Annotated[Project, Depends(project_for_update)]
