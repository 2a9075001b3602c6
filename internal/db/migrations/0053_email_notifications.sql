-- Email notifications (internal/notify): per organisation, the settings
-- (on/off, language) and the delivery state of the emails sent to its
-- contact address from the referral outbox, mirroring webhooks (0035): a
-- cursor in outbox order (txid, seq) that moves only after the SMTP server
-- accepted the email, so delivery is at least once, in order, and survives
-- restarts; failures and backoff are recorded here, visible to the
-- organisation.

CREATE TABLE email_notifications (
    organisation_id      uuid PRIMARY KEY REFERENCES organisations (id) ON DELETE CASCADE,
    enabled              boolean NOT NULL DEFAULT true,
    language             text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'nl')),
    -- The last change handled (emailed, or not one this organisation is
    -- emailed about). Starts at the horizon when the row is made, as a
    -- webhook's does: every change committed from then on is considered.
    cursor_txid          xid8 NOT NULL,
    cursor_seq           bigint NOT NULL DEFAULT 0,
    emails_sent          bigint NOT NULL DEFAULT 0,
    last_success_at      timestamptz,
    last_failure_at      timestamptz,
    last_error           text NOT NULL DEFAULT '',
    consecutive_failures integer NOT NULL DEFAULT 0,
    next_attempt_at      timestamptz,
    version              bigint NOT NULL DEFAULT 1,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

INSERT INTO email_notifications (organisation_id, cursor_txid)
SELECT id, pg_snapshot_xmin(pg_current_snapshot()) FROM organisations;

-- Every organisation gets its row when it is made (as the owner: the
-- application role may not insert rows itself).
CREATE FUNCTION email_notifications_for_new_org() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO email_notifications (organisation_id, cursor_txid)
    VALUES (NEW.id, pg_snapshot_xmin(pg_current_snapshot())) ON CONFLICT DO NOTHING;
    RETURN NEW;
END $$;
CREATE TRIGGER email_notifications_for_new_org AFTER INSERT ON organisations
    FOR EACH ROW EXECUTE FUNCTION email_notifications_for_new_org();

-- An organisation's admin sees and changes only its own organisation's
-- row (through the service; the worker acts as the organisation's admin).
-- Rows are made and removed with their organisation only.
ALTER TABLE email_notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE email_notifications FORCE ROW LEVEL SECURITY;
CREATE POLICY email_notifications_own ON email_notifications
    USING (current_user <> 'sparc_app' OR (organisation_id = sparc_org() AND sparc_role() = 'admin'))
    WITH CHECK (current_user <> 'sparc_app' OR (organisation_id = sparc_org() AND sparc_role() = 'admin'));
REVOKE INSERT, DELETE ON email_notifications FROM sparc_app;

-- The worker serves every organisation: it learns which ones have email
-- on (ids only) and how long each still backs off, on the database's
-- clock, then reads and advances each acting as that organisation.
CREATE FUNCTION sparc_email_notifications_active()
RETURNS TABLE (organisation_id uuid, wait_seconds double precision)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT n.organisation_id,
           GREATEST(COALESCE(extract(epoch FROM n.next_attempt_at - clock_timestamp()), 0), 0)::double precision
    FROM email_notifications n JOIN organisations o ON o.id = n.organisation_id
    WHERE n.enabled AND o.status = 'active'
    ORDER BY n.organisation_id
$$;
REVOKE ALL ON FUNCTION sparc_email_notifications_active() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sparc_email_notifications_active() TO sparc_app;
