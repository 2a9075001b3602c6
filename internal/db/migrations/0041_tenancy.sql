-- Tenancy: an organisation's admin acts only inside its organisation; the
-- network admin (a separate role, issued by sparcd --bootstrap-admin) runs
-- the network. The services check this first (internal/auth
-- Principal.CanAdminister, CanWriteOwnedBy); the policies below are the
-- second wall, so SQL that forgets the check still cannot reach another
-- organisation's keys, audit events, details or assets.
--
-- As everywhere (0032), only sparc_app is bound by organisation: the schema
-- owner and its SECURITY DEFINER functions pass.

ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
    CHECK (role IN ('admin', 'link_worker', 'group_editor', 'area_analyst', 'network_admin'));

-- API keys: an organisation's admin sees and changes its own
-- organisation's keys and may not mint a network admin; the network admin
-- sees and changes all. No DELETE is granted to sparc_app at all.
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_read ON api_keys FOR SELECT
    USING (current_user <> 'sparc_app' OR sparc_role() = 'network_admin'
           OR (sparc_role() = 'admin' AND organisation_id = sparc_org()));
CREATE POLICY api_keys_insert ON api_keys FOR INSERT
    WITH CHECK (current_user <> 'sparc_app' OR sparc_role() = 'network_admin'
                OR (sparc_role() = 'admin' AND organisation_id = sparc_org() AND role <> 'network_admin'));
CREATE POLICY api_keys_update ON api_keys FOR UPDATE
    USING (current_user <> 'sparc_app' OR sparc_role() = 'network_admin'
           OR (sparc_role() = 'admin' AND organisation_id = sparc_org()))
    WITH CHECK (current_user <> 'sparc_app' OR sparc_role() = 'network_admin'
                OR (sparc_role() = 'admin' AND organisation_id = sparc_org() AND role <> 'network_admin'));

-- Authentication looks a key up before anyone's identity is known, so it
-- cannot go through the policies above: these two functions run as the
-- owner and do exactly what authentication needs, by the key's public
-- prefix (the secret is compared in Go against the stored hash).
CREATE FUNCTION sparc_key_lookup(p_prefix text)
RETURNS TABLE (id uuid, organisation_id uuid, role text, secret_sha256 bytea,
               revoked_at timestamptz, last_used_at timestamptz, org_status text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT k.id, k.organisation_id, k.role, k.secret_sha256, k.revoked_at, k.last_used_at, o.status
    FROM api_keys k JOIN organisations o ON o.id = k.organisation_id
    WHERE k.prefix = p_prefix
$$;
CREATE FUNCTION sparc_key_used(p_id uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE api_keys SET last_used_at = now() WHERE id = p_id
$$;
REVOKE ALL ON FUNCTION sparc_key_lookup(text), sparc_key_used(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sparc_key_lookup(text), sparc_key_used(uuid) TO sparc_app;

-- Audit events: every caller writes them, including anonymous and refused
-- calls with no organisation, so INSERT stays open (what is written is
-- decided by the authorisation layer, not the caller). Reading: an
-- organisation's admin reads the events of its own organisation's
-- principals; the network admin reads all, including the anonymous ones.
-- UPDATE and DELETE stay impossible (append-only trigger, 0002).
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_events_insert ON audit_events FOR INSERT WITH CHECK (true);
CREATE POLICY audit_events_read ON audit_events FOR SELECT
    USING (current_user <> 'sparc_app' OR sparc_role() = 'network_admin'
           OR (sparc_role() = 'admin' AND organisation_id = sparc_org()));

-- Organisations: public to read. The network admin creates, changes and
-- removes them; an organisation's admin changes its own row, but not its
-- status (suspending or re-activating an organisation is the network's
-- decision; the trigger below, as a policy cannot compare old and new).
ALTER TABLE organisations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organisations FORCE ROW LEVEL SECURITY;
CREATE POLICY organisations_read ON organisations FOR SELECT USING (true);
CREATE POLICY organisations_insert ON organisations FOR INSERT
    WITH CHECK (current_user <> 'sparc_app' OR sparc_role() = 'network_admin');
CREATE POLICY organisations_update ON organisations FOR UPDATE
    USING (current_user <> 'sparc_app' OR sparc_role() = 'network_admin'
           OR (sparc_role() = 'admin' AND id = sparc_org()))
    WITH CHECK (current_user <> 'sparc_app' OR sparc_role() = 'network_admin'
                OR (sparc_role() = 'admin' AND id = sparc_org()));
CREATE POLICY organisations_delete ON organisations FOR DELETE
    USING (current_user <> 'sparc_app' OR sparc_role() = 'network_admin');

CREATE FUNCTION organisations_status_by_network() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_user = 'sparc_app' AND sparc_role() <> 'network_admin' AND NEW.status IS DISTINCT FROM OLD.status THEN
        RAISE EXCEPTION 'only the network admin changes an organisation''s status' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER organisations_status_by_network BEFORE UPDATE OF status ON organisations
    FOR EACH ROW EXECUTE FUNCTION organisations_status_by_network();

-- Assets: an admin writes its own organisation's assets only, like its
-- group editors (0002 let any organisation's admin write every asset).
ALTER POLICY assets_insert ON assets
    WITH CHECK (current_user <> 'sparc_app' OR (sparc_role() IN ('admin', 'group_editor') AND owner_organisation = sparc_org()));
ALTER POLICY assets_update ON assets
    USING (current_user <> 'sparc_app' OR (sparc_role() IN ('admin', 'group_editor') AND owner_organisation = sparc_org()))
    WITH CHECK (current_user <> 'sparc_app' OR (sparc_role() IN ('admin', 'group_editor') AND owner_organisation = sparc_org()));
ALTER POLICY assets_delete ON assets
    USING (current_user <> 'sparc_app' OR (sparc_role() IN ('admin', 'group_editor') AND owner_organisation = sparc_org()));
