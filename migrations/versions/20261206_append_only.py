"""the database refuses edits of the record itself

Triggers refuse UPDATE and DELETE (and, on PostgreSQL, TRUNCATE) of the rows the service
only ever appends: ledger entries, 概算调整, progress reports, change orders and the audit
trail. A milestone's certification (计量) lives on the milestone's row, which progress and
certification update; there the triggers refuse what the service never does: clearing a
certification, deleting a certified milestone, and changing a certification without moving
the milestone's version. Balance rows, the audit chain's head and every other table stay
updatable.

The statements are written out here (not imported) so this migration means the same thing
later. On SQLite, a later migration that rebuilds one of these tables (batch mode) drops its
triggers with the old table and must create them again.

Revision ID: 9e4a6c2d7f15
Revises: 3b8d2f61c0e7
Create Date: 2026-12-06 19:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "9e4a6c2d7f15"
down_revision: str | None = "3b8d2f61c0e7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables whose rows are never updated or deleted.
APPEND_ONLY = (
    "disbursement",
    "project_revision",
    "milestone_progress",
    "change_order",
    "audit_entry",
)

# A certification, once made, stays: replaced only with the milestone's version moved.
_CLEARED = (
    "OLD.certified_amount IS NOT NULL"
    " AND (NEW.certified_amount IS NULL OR NEW.certified_on IS NULL)"
)
_CHANGED_IN_PLACE = (
    "(NEW.certified_amount IS NOT OLD.certified_amount"
    " OR NEW.certified_on IS NOT OLD.certified_on"
    " OR NEW.certification_reason IS NOT OLD.certification_reason)"
    " AND NEW.version <= OLD.version"
)
_CLEARED_MESSAGE = "a milestone certification is never cleared"
_IN_PLACE_MESSAGE = "a milestone certification changes only with the milestone version"
_DELETED_MESSAGE = "a certified milestone is never deleted"


def _refused(table: str) -> str:
    return f"{table} rows are append-only: never updated or deleted"


def _sqlite_upgrade() -> None:
    for table in APPEND_ONLY:
        for action in ("update", "delete"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action} BEFORE {action.upper()} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{_refused(table)}'); END"
            )
    for name, event, when, message in (
        ("milestone_certification_kept", "UPDATE", _CLEARED, _CLEARED_MESSAGE),
        ("milestone_certification_versioned", "UPDATE", _CHANGED_IN_PLACE, _IN_PLACE_MESSAGE),
        (
            "milestone_certified_kept",
            "DELETE",
            "OLD.certified_amount IS NOT NULL",
            _DELETED_MESSAGE,
        ),
    ):
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {event} ON milestone WHEN {when} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )


def _sqlite_downgrade() -> None:
    for table in APPEND_ONLY:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    for name in (
        "milestone_certification_kept",
        "milestone_certification_versioned",
        "milestone_certified_kept",
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")


def _postgresql_upgrade() -> None:
    # 23001 restrict_violation: on both engines the driver reports an integrity error.
    op.execute(
        """
        CREATE FUNCTION refuse_edit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% rows are append-only: never updated or deleted', TG_TABLE_NAME
                USING ERRCODE = 'restrict_violation';
        END
        $$
        """
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_no_edit BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_edit()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse_edit()"
        )
    op.execute(
        f"""
        CREATE FUNCTION keep_certification() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                IF OLD.certified_amount IS NOT NULL THEN
                    RAISE EXCEPTION '{_DELETED_MESSAGE}' USING ERRCODE = 'restrict_violation';
                END IF;
                RETURN OLD;
            END IF;
            IF {_CLEARED} THEN
                RAISE EXCEPTION '{_CLEARED_MESSAGE}' USING ERRCODE = 'restrict_violation';
            END IF;
            IF {_CHANGED_IN_PLACE.replace(" IS NOT ", " IS DISTINCT FROM ")} THEN
                RAISE EXCEPTION '{_IN_PLACE_MESSAGE}' USING ERRCODE = 'restrict_violation';
            END IF;
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER milestone_certification_kept BEFORE UPDATE OR DELETE ON milestone "
        "FOR EACH ROW EXECUTE FUNCTION keep_certification()"
    )


def _postgresql_downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS milestone_certification_kept ON milestone")
    for table in APPEND_ONLY:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_edit ON {table}")
    op.execute("DROP FUNCTION IF EXISTS keep_certification()")
    op.execute("DROP FUNCTION IF EXISTS refuse_edit()")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_downgrade()
    else:
        _sqlite_downgrade()
