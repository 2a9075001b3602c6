-- Organisations, API keys, audit log and row-level security.

CREATE TABLE organisations (
    id              uuid PRIMARY KEY,
    kind            text NOT NULL,
    name            text NOT NULL,
    contact_email   text NOT NULL DEFAULT '',
    contact_phone   text NOT NULL DEFAULT '',
    website         text NOT NULL DEFAULT '',
    area_codes      text[] NOT NULL DEFAULT '{}',
    area            geography(MultiPolygon, 4326),
    status          text NOT NULL DEFAULT 'active',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         bigint NOT NULL DEFAULT 1
);
CREATE INDEX organisations_name ON organisations (name, id);

-- Assets get a real owner: every plain owner id becomes an organisation of
-- kind "other" named after it, and the column becomes a reference.
INSERT INTO organisations (id, kind, name)
SELECT gen_random_uuid(), 'other', owner_organisation
FROM (SELECT DISTINCT owner_organisation FROM assets WHERE owner_organisation <> '') o;
ALTER TABLE assets ADD COLUMN owner_id uuid REFERENCES organisations (id);
UPDATE assets a SET owner_id = o.id FROM organisations o WHERE o.name = a.owner_organisation;
DROP INDEX assets_owner_updated;
ALTER TABLE assets DROP COLUMN owner_organisation;
ALTER TABLE assets RENAME COLUMN owner_id TO owner_organisation;
CREATE INDEX assets_owner_updated ON assets (owner_organisation, updated_at, id);

-- API keys: "sparc_<prefix>_<secret>"; only SHA-256 of the secret is kept.
-- The secret has 256 bits of entropy, so a fast hash is enough.
CREATE TABLE api_keys (
    id              uuid PRIMARY KEY,
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    role            text NOT NULL CHECK (role IN ('admin', 'link_worker', 'group_editor', 'area_analyst')),
    prefix          text NOT NULL UNIQUE,
    secret_sha256   bytea NOT NULL,
    display_name    text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz
);
CREATE INDEX api_keys_org ON api_keys (organisation_id, created_at, id);

-- Append-only audit trail of authenticated access and denials.
CREATE TABLE audit_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time            timestamptz NOT NULL DEFAULT clock_timestamp(),
    principal       text NOT NULL,      -- "key:<prefix>", "oidc:<sub>" or "anonymous"
    organisation_id uuid,
    role            text NOT NULL DEFAULT '',
    method          text NOT NULL,
    resource        text NOT NULL DEFAULT '',
    outcome         text NOT NULL,      -- ok, denied, error
    code            text NOT NULL,      -- gRPC code name
    request_id      text NOT NULL DEFAULT '',
    peer            text NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_time ON audit_events (time, id);
CREATE INDEX audit_events_principal ON audit_events (principal, time);
CREATE INDEX audit_events_resource ON audit_events (resource, time);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- The application runs as sparc_app, a role that owns nothing, so the
-- row-level security below binds it. Roles are cluster-wide: create once.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sparc_app') THEN
        CREATE ROLE sparc_app NOLOGIN NOINHERIT;
    END IF;
END $$;
-- The migrating (owner) login may switch to sparc_app (SET ROLE) when no
-- separate application login is configured.
GRANT sparc_app TO CURRENT_USER;

GRANT USAGE ON SCHEMA public TO sparc_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON assets, organisations TO sparc_app;
GRANT SELECT, INSERT, UPDATE ON api_keys TO sparc_app;
GRANT SELECT, INSERT ON audit_events TO sparc_app;
GRANT SELECT, INSERT ON server_secrets TO sparc_app;
GRANT SELECT ON schema_migrations TO sparc_app;
-- Tables added by later migrations are usable by the application unless a
-- migration revokes it; each still decides its own row-level security.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO sparc_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO sparc_app;

-- Each request's transaction sets sparc.org and sparc.role (SET LOCAL via
-- set_config). Unset means no organisation: nothing writable.
CREATE FUNCTION sparc_org() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT NULLIF(current_setting('sparc.org', true), '')::uuid
$$;
CREATE FUNCTION sparc_role() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT COALESCE(current_setting('sparc.role', true), '')
$$;

-- Assets are open data to read; only the owner organisation (or an admin)
-- may write them.
ALTER TABLE assets ENABLE ROW LEVEL SECURITY;
ALTER TABLE assets FORCE ROW LEVEL SECURITY;
CREATE POLICY assets_read ON assets FOR SELECT USING (true);
CREATE POLICY assets_insert ON assets FOR INSERT
    WITH CHECK (sparc_role() = 'admin' OR (sparc_role() = 'group_editor' AND owner_organisation = sparc_org()));
CREATE POLICY assets_update ON assets FOR UPDATE
    USING (sparc_role() = 'admin' OR (sparc_role() = 'group_editor' AND owner_organisation = sparc_org()))
    WITH CHECK (sparc_role() = 'admin' OR (sparc_role() = 'group_editor' AND owner_organisation = sparc_org()));
CREATE POLICY assets_delete ON assets FOR DELETE
    USING (sparc_role() = 'admin' OR (sparc_role() = 'group_editor' AND owner_organisation = sparc_org()));
