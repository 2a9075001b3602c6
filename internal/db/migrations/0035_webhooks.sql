-- Signed webhooks: endpoints that receive an organisation's referral
-- changes from the outbox (referral_outbox), in order, at least once.

CREATE TABLE webhooks (
    id                   uuid PRIMARY KEY,
    organisation_id      uuid NOT NULL REFERENCES organisations (id),
    url                  text NOT NULL,
    description          text NOT NULL DEFAULT '',
    -- The HMAC-SHA256 signing secret, AES-256-GCM sealed with the data key
    -- (SPARC_DATA_KEY) and bound to the webhook's id: a copy of the
    -- database alone cannot sign deliveries. Erased on deletion.
    secret_sealed        bytea,
    -- The last change delivered (acknowledged with a 2xx), in outbox order
    -- (txid, seq). Starts at the horizon when the webhook is created, as
    -- WatchReferrals' cursor "now".
    cursor_txid          xid8 NOT NULL,
    cursor_seq           bigint NOT NULL DEFAULT 0,
    -- Delivery state.
    last_success_at      timestamptz,
    last_failure_at      timestamptz,
    last_error           text NOT NULL DEFAULT '',
    consecutive_failures integer NOT NULL DEFAULT 0,
    -- After a failure, no attempt before this time (backoff).
    next_attempt_at      timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    -- Deleted webhooks are kept (without their secret) as a record of
    -- where an organisation's changes went.
    deleted_at           timestamptz
);
CREATE INDEX webhooks_org ON webhooks (organisation_id, created_at, id) WHERE deleted_at IS NULL;

-- An organisation sees and changes only its own webhooks.
ALTER TABLE webhooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhooks FORCE ROW LEVEL SECURITY;
CREATE POLICY webhooks_own ON webhooks
    USING (current_user <> 'sparc_app' OR organisation_id = sparc_org())
    WITH CHECK (current_user <> 'sparc_app' OR organisation_id = sparc_org());
-- Deletion is a mark, kept for the record.
REVOKE DELETE ON webhooks FROM sparc_app;

-- The delivery worker serves every organisation: it learns which webhooks
-- exist here (ids and organisations only, nothing it could deliver with),
-- then reads and advances each one acting as its organisation, so
-- row-level security still decides what each webhook may see. wait_seconds
-- is how long a webhook still backs off (0 when due), measured on the
-- database's clock so that replicas with skewed clocks agree.
CREATE FUNCTION sparc_webhooks_active()
RETURNS TABLE (id uuid, organisation_id uuid, wait_seconds double precision)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT w.id, w.organisation_id,
           GREATEST(COALESCE(extract(epoch FROM w.next_attempt_at - clock_timestamp()), 0), 0)::double precision
    FROM webhooks w WHERE w.deleted_at IS NULL
    ORDER BY w.created_at, w.id
$$;
REVOKE ALL ON FUNCTION sparc_webhooks_active() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sparc_webhooks_active() TO sparc_app;
