-- The optional daily digest of email notifications (internal/notify): an
-- organisation may get one email a day, at an hour of its own time zone,
-- counting what happened to its referrals instead of an email per event.
-- Counts only (and a link): no personal data.

ALTER TABLE email_notifications
    ADD COLUMN daily_digest boolean NOT NULL DEFAULT false,
    ADD COLUMN digest_hour integer NOT NULL DEFAULT 8 CHECK (digest_hour BETWEEN 0 AND 23),
    ADD COLUMN time_zone text NOT NULL DEFAULT 'Europe/London' CHECK (time_zone <> ''),
    -- The events counted since the last digest: the worker walks the
    -- outbox with the same cursor as the emails per event and, in digest
    -- mode, counts instead of sending.
    ADD COLUMN digest_arrived integer NOT NULL DEFAULT 0,
    ADD COLUMN digest_accepted integer NOT NULL DEFAULT 0,
    ADD COLUMN digest_declined integer NOT NULL DEFAULT 0,
    ADD COLUMN digest_attended integer NOT NULL DEFAULT 0;

-- One row per organisation and local day a digest was sent (or found
-- nothing to tell): the key makes the digest once a day however many
-- servers send emails.
CREATE TABLE email_digests (
    organisation_id uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    day             date NOT NULL,
    arrived         integer NOT NULL,
    accepted        integer NOT NULL,
    declined        integer NOT NULL,
    attended        integer NOT NULL,
    emailed         boolean NOT NULL,
    sent_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (organisation_id, day)
);

-- As email_notifications (0053): the organisation's admin only (the
-- worker acts as it); rows are written once and go with the organisation.
ALTER TABLE email_digests ENABLE ROW LEVEL SECURITY;
ALTER TABLE email_digests FORCE ROW LEVEL SECURITY;
CREATE POLICY email_digests_own ON email_digests
    USING (current_user <> 'sparc_app' OR (organisation_id = sparc_org() AND sparc_role() = 'admin'))
    WITH CHECK (current_user <> 'sparc_app' OR (organisation_id = sparc_org() AND sparc_role() = 'admin'));
REVOKE UPDATE, DELETE ON email_digests FROM sparc_app;
