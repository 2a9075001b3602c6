-- Readable referrals and audit (issue 14, point 4): principals carry a
-- display name (a key's, or a token's name claim) and people read it.

-- The audit trail shows who acted by name as well as by principal. The
-- name is as it was at the call: a key's display name cannot change, a
-- token's may, and the trail keeps what it was.
ALTER TABLE audit_events ADD COLUMN principal_display_name text NOT NULL DEFAULT '';

-- Authentication reads the key's display name with the rest of it.
DROP FUNCTION sparc_key_lookup(text);
CREATE FUNCTION sparc_key_lookup(p_prefix text)
RETURNS TABLE (id uuid, organisation_id uuid, role text, secret_sha256 bytea,
               revoked_at timestamptz, last_used_at timestamptz, org_status text, display_name text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT k.id, k.organisation_id, k.role, k.secret_sha256, k.revoked_at, k.last_used_at, o.status, k.display_name
    FROM api_keys k JOIN organisations o ON o.id = k.organisation_id
    WHERE k.prefix = p_prefix
$$;

-- A link worker may not list keys (only admins read api_keys), but reads
-- a colleague's name on a referral of its own organisation: this function
-- gives the display names, and nothing else, of the calling
-- organisation's keys (sparc_org(), set per transaction), never
-- another's.
CREATE FUNCTION sparc_key_names(p_prefixes text[])
RETURNS TABLE (prefix text, display_name text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT k.prefix, k.display_name FROM api_keys k
    WHERE k.prefix = ANY (p_prefixes) AND k.organisation_id = sparc_org()
$$;

REVOKE ALL ON FUNCTION sparc_key_lookup(text), sparc_key_names(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sparc_key_lookup(text), sparc_key_names(text[]) TO sparc_app;
