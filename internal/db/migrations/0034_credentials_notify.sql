-- Servers cache verified API keys (internal/auth). Any change that can
-- invalidate one (a revocation, a role or owner change, a deleted key, an
-- organisation's status) notifies them, whoever makes it: this trigger,
-- not the application, so psql and other replicas are covered too. The
-- notification is sent at commit.
CREATE FUNCTION sparc_credentials_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('sparc_credentials', '');
    RETURN NULL;
END $$;
CREATE TRIGGER api_keys_credentials_changed
    AFTER UPDATE OF revoked_at, role, organisation_id, secret_sha256, prefix OR DELETE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION sparc_credentials_changed();
CREATE TRIGGER organisations_credentials_changed
    AFTER UPDATE OF status OR DELETE ON organisations
    FOR EACH STATEMENT EXECUTE FUNCTION sparc_credentials_changed();
