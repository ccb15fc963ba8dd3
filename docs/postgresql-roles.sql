-- The service's own PostgreSQL role, with the least it needs (docs/DEPLOYMENT.md).
--
-- captrack_owner owns the database and its schema and runs the migrations
-- (python -m app migrate); captrack_app is what the service connects as. captrack_app reads
-- every table and appends to it, updates every table but the five the service only ever
-- appends to, deletes only where the service deletes, and can't change the schema.
--
-- Run as a superuser (or a role with CREATEROLE that may grant on the owner's tables),
-- connected to the service's database, after captrack_owner has migrated it; run it again
-- after a migration that adds a table. Both names may be changed by editing this file.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'captrack_app') THEN
        CREATE ROLE captrack_app LOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO captrack_app', current_database());
END
$$;

-- No DDL: nobody but the owner creates anything in the schema.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO captrack_app;

GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO captrack_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO captrack_app;

-- Append-only: ledger entries, 概算调整, progress reports, change orders, the audit trail.
-- Their triggers refuse any edit anyway (migrations/versions/20261206_append_only.py); this
-- keeps the service's own role from even asking.
REVOKE UPDATE ON disbursement, project_revision, milestone_progress, change_order, audit_entry
    FROM captrack_app;
-- The schema's version is the migrations' business.
REVOKE INSERT, UPDATE ON alembic_version FROM captrack_app;

-- Where the service deletes: a project without financial records and its plan data, a budget
-- line, a project's stages, sites and unused funding rows, a site's aliases, idempotency
-- records past their retention.
GRANT DELETE ON project, budget_line, project_stage, project_site, project_funding, site_alias,
    idempotency_record TO captrack_app;

-- Tables a later migration adds: read, append and update; an append-only one is revoked above.
ALTER DEFAULT PRIVILEGES FOR ROLE captrack_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE ON TABLES TO captrack_app;
ALTER DEFAULT PRIVILEGES FOR ROLE captrack_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO captrack_app;
