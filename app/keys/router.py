from fastapi import Request, Response, status

from app.auth.cache import KeyCache
from app.auth.dependencies import AdminDep, AnyRoleDep
from app.config import get_settings
from app.db import SessionDep, after_commit
from app.errors import problem_responses
from app.keys import service
from app.keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead, KeyHolder
from app.params import IdPath
from app.routing import FeatureRouter

router = FeatureRouter(prefix="/api/v1/keys", tags=["keys"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    summary="Issue an API key (shown once)",
    responses=problem_responses(401, 403, 422),
)
def create_key(
    data: ApiKeyCreate, session: SessionDep, actor: AdminDep, response: Response
) -> ApiKeyCreated:
    """Admin only. The key is in the response once and never again (only its hash is stored); a
    `contractor` key names its contractor organisation."""
    row, plaintext = service.create_key(
        session=session, actor=actor, data=data, key_prefix=get_settings().key_prefix
    )
    response.headers["Location"] = f"/api/v1/keys/{row.id}"
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated(**ApiKeyRead.model_validate(row).model_dump(), key=plaintext)


@router.get(
    "",
    response_model=list[ApiKeyRead],
    summary="List API keys (never the keys themselves)",
    responses=problem_responses(401, 403),
)
def list_keys(session: SessionDep, actor: AdminDep) -> list[ApiKeyRead]:
    """Admin only. Each key's name, role, contractor and whether it is revoked; never the key
    itself."""
    return [ApiKeyRead.model_validate(k) for k in service.list_keys(session=session)]


@router.get(
    "/me",
    response_model=KeyHolder,
    summary="Who the caller's key is",
    responses=problem_responses(401),
)
def who_am_i(actor: AnyRoleDep) -> KeyHolder:
    """Any role. The calling key's id, name, role and, for a contractor, its organisation: a
    client such as the dashboard chooses its views by it. Never the key itself."""
    return KeyHolder(
        key_id=actor.key_id, name=actor.name, role=actor.role, contractor_id=actor.contractor_id
    )


@router.delete(
    "/{key_id:int}",
    response_model=ApiKeyRead,
    summary="Revoke an API key",
    responses=problem_responses(401, 403, 404, 422),
)
def revoke_key(
    key_id: IdPath, actor: AdminDep, session: SessionDep, request: Request
) -> ApiKeyRead:
    """Admin only. The key stops working at once (401 from then on); its record stays."""
    revoked = service.revoke_key(session=session, actor=actor, key_id=key_id)
    # This process stops accepting the key the moment the revocation is committed.
    cache: KeyCache = request.app.state.key_cache
    after_commit(session, lambda _: cache.forget_all())
    return ApiKeyRead.model_validate(revoked)
