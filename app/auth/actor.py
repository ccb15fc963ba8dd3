from dataclasses import dataclass

from app.auth.models import Role


@dataclass(frozen=True)
class Actor:
    """Who is calling: the key's id and name, its role, and its contractor if bound to one."""

    key_id: int | None
    name: str
    role: Role
    contractor_id: int | None = None


# Writes made from the command line (seed, keys) are recorded under this actor.
CLI_ACTOR = Actor(key_id=None, name="command line", role=Role.admin)
