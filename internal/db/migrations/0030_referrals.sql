-- Referral-side data: people, referrals, their timeline, outcomes and the
-- change outbox. Row-level security keeps every row to the organisations
-- it concerns; aggregates for others go through sparc_referral_stats.

-- Places taken on assets with a capacity (accepting takes one; completing,
-- cancelling or failing frees it). Kept apart from assets so that either
-- side of a referral can move it without write access to the listing.
CREATE TABLE asset_places (
    asset_id uuid PRIMARY KEY REFERENCES assets (id) ON DELETE CASCADE,
    taken    integer NOT NULL DEFAULT 0 CHECK (taken >= 0)
);

CREATE TABLE people (
    id                uuid PRIMARY KEY,
    organisation_id   uuid NOT NULL REFERENCES organisations (id),
    display_name      text NOT NULL,
    age_band          text NOT NULL DEFAULT '',
    year_of_birth     integer,
    postcode          text NOT NULL DEFAULT '',
    -- Outward part only ("B7", "3011"): what analytics may use.
    postcode_outward  text NOT NULL DEFAULT '',
    contact_method    text NOT NULL DEFAULT 'unspecified',
    -- AES-256-GCM sealed JSON of phone/email/address, and the NHS number.
    contact_sealed    bytea,
    nhs_number_sealed bytea,
    what_matters      text NOT NULL DEFAULT '',
    needs             text[] NOT NULL DEFAULT '{}',
    consent_share     boolean NOT NULL DEFAULT false,
    consent_scopes    text[] NOT NULL DEFAULT '{}',
    consent_time      timestamptz,
    objection_time    timestamptz,
    purged_at         timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    version           bigint NOT NULL DEFAULT 1
);
CREATE INDEX people_org ON people (organisation_id);

CREATE TABLE referrals (
    id                   uuid PRIMARY KEY,
    person_id            uuid NOT NULL REFERENCES people (id),
    referring_org        uuid NOT NULL REFERENCES organisations (id),
    link_worker          text NOT NULL,
    asset_id             uuid NOT NULL REFERENCES assets (id),
    provider_org         uuid REFERENCES organisations (id),
    reasons              text[] NOT NULL DEFAULT '{}',
    provider_note        text NOT NULL DEFAULT '',
    priority             text NOT NULL DEFAULT 'routine',
    status               text NOT NULL,
    status_reason        text NOT NULL DEFAULT '',
    -- The person as the provider may see them (consent-filtered, contact
    -- sealed); rewritten whenever consent changes, emptied on objection.
    shared_person        jsonb NOT NULL DEFAULT '{}',
    holds_place          boolean NOT NULL DEFAULT false,
    request_id           text NOT NULL,
    request_hash         bytea NOT NULL,
    sessions_attended    integer NOT NULL DEFAULT 0,
    first_attended_at    timestamptz,
    baseline_ons4        smallint[],
    baseline_swemwbs     smallint[],
    baseline_at          timestamptz,
    followup_ons4        smallint[],
    followup_swemwbs     smallint[],
    followup_at          timestamptz,
    what_changed         text NOT NULL DEFAULT '',
    requested_at         timestamptz,
    accepted_at          timestamptz,
    closed_at            timestamptz,
    purged_at            timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    version              bigint NOT NULL DEFAULT 1,
    CONSTRAINT referrals_request UNIQUE (referring_org, request_id)
);
CREATE INDEX referrals_referring ON referrals (referring_org, updated_at DESC, id);
CREATE INDEX referrals_provider ON referrals (provider_org, updated_at DESC, id);
CREATE INDEX referrals_person ON referrals (person_id);
CREATE INDEX referrals_asset ON referrals (asset_id);
CREATE INDEX referrals_closed ON referrals (closed_at) WHERE closed_at IS NOT NULL AND purged_at IS NULL;

CREATE TABLE referral_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    referral_id   uuid NOT NULL REFERENCES referrals (id),
    referring_org uuid NOT NULL,
    provider_org  uuid,
    time          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor         text NOT NULL,
    actor_org     uuid,
    from_status   text NOT NULL DEFAULT '',
    to_status     text NOT NULL,
    reason        text NOT NULL DEFAULT '',
    note          text NOT NULL DEFAULT ''
);
CREATE INDEX referral_events_referral ON referral_events (referral_id, id);

-- The outbox for WatchReferrals (and webhooks): written in the same
-- transaction as the change. Ordered by (txid, seq): every transaction
-- with a txid below the current snapshot's xmin has finished, so a reader
-- that only passes rows below that horizon never skips a late commit.
CREATE TABLE referral_outbox (
    seq           bigint GENERATED ALWAYS AS IDENTITY,
    txid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    referral_id   uuid NOT NULL,
    referring_org uuid NOT NULL,
    provider_org  uuid,
    type          text NOT NULL,
    from_status   text NOT NULL DEFAULT '',
    to_status     text NOT NULL DEFAULT '',
    time          timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (txid, seq)
);

-- Need-to-know: a person is seen only by the organisation holding them; a
-- referral and its timeline and changes only by its two organisations.
ALTER TABLE people ENABLE ROW LEVEL SECURITY;
ALTER TABLE people FORCE ROW LEVEL SECURITY;
CREATE POLICY people_own ON people
    USING (organisation_id = sparc_org() AND sparc_role() IN ('link_worker', 'admin'))
    WITH CHECK (organisation_id = sparc_org() AND sparc_role() IN ('link_worker', 'admin'));

ALTER TABLE referrals ENABLE ROW LEVEL SECURITY;
ALTER TABLE referrals FORCE ROW LEVEL SECURITY;
CREATE POLICY referrals_parties ON referrals
    USING (referring_org = sparc_org() OR provider_org = sparc_org())
    WITH CHECK (referring_org = sparc_org() OR provider_org = sparc_org());

ALTER TABLE referral_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE referral_events FORCE ROW LEVEL SECURITY;
CREATE POLICY referral_events_parties ON referral_events
    USING (referring_org = sparc_org() OR provider_org = sparc_org())
    WITH CHECK (referring_org = sparc_org() OR provider_org = sparc_org());

ALTER TABLE referral_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE referral_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY referral_outbox_parties ON referral_outbox
    USING (referring_org = sparc_org() OR provider_org = sparc_org())
    WITH CHECK (referring_org = sparc_org() OR provider_org = sparc_org());

-- The timeline is history: append-only for the application.
REVOKE UPDATE, DELETE ON referral_events FROM sparc_app;
REVOKE UPDATE, DELETE ON referral_outbox FROM sparc_app;

-- Aggregates over referrals the caller may not read row by row. Runs as
-- the owner (SECURITY DEFINER) and returns only grouped figures; the Go
-- side applies small-number suppression before they leave.
CREATE FUNCTION sparc_referral_stats(p_org uuid, p_area text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (status text, n bigint, median_accept_days double precision, median_attend_days double precision,
               ons4_change double precision[], ons4_n bigint, swemwbs_change double precision, swemwbs_n bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH r AS (
        SELECT rf.* FROM referrals rf
        WHERE (p_org IS NULL OR rf.referring_org = p_org)
          AND (p_area IS NULL OR EXISTS (
                SELECT 1 FROM assets a JOIN areas ar ON ar.code = p_area
                WHERE a.id = rf.asset_id AND ST_Intersects(a.location::geometry, ar.geom)))
          AND rf.created_at >= p_from AND rf.created_at < p_to
          AND rf.status <> 'entered_in_error'
    ), by_status AS (
        SELECT r.status, count(*) AS n FROM r GROUP BY r.status
    ), overall AS (
        SELECT
          percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM accepted_at - requested_at) / 86400)
              FILTER (WHERE accepted_at IS NOT NULL AND requested_at IS NOT NULL) AS acc,
          percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_attended_at - requested_at) / 86400)
              FILTER (WHERE first_attended_at IS NOT NULL AND requested_at IS NOT NULL) AS att,
          ARRAY[avg(followup_ons4[1] - baseline_ons4[1]), avg(followup_ons4[2] - baseline_ons4[2]),
                avg(followup_ons4[3] - baseline_ons4[3]), avg(followup_ons4[4] - baseline_ons4[4])]::double precision[] AS ons4,
          count(*) FILTER (WHERE followup_ons4 IS NOT NULL AND baseline_ons4 IS NOT NULL) AS ons4_n,
          avg((SELECT sum(x) FROM unnest(followup_swemwbs) x) - (SELECT sum(x) FROM unnest(baseline_swemwbs) x))::double precision AS swem,
          count(*) FILTER (WHERE followup_swemwbs IS NOT NULL AND baseline_swemwbs IS NOT NULL) AS swem_n
        FROM r
    )
    SELECT b.status, b.n, o.acc, o.att, o.ons4, o.ons4_n, o.swem, o.swem_n
    FROM overall o LEFT JOIN by_status b ON true
$$;
REVOKE ALL ON FUNCTION sparc_referral_stats(uuid, text, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sparc_referral_stats(uuid, text, timestamptz, timestamptz) TO sparc_app;


-- Retention: free text and person details of referrals closed before
-- p_before are erased for every organisation (so it runs as the owner);
-- statuses, dates and scores stay for anonymous aggregates.
CREATE FUNCTION sparc_purge_closed(p_before timestamptz)
RETURNS TABLE (referrals bigint, people bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE r bigint; p bigint;
BEGIN
    UPDATE referrals SET provider_note = '', shared_person = '{}', what_changed = '', purged_at = now()
    WHERE closed_at < p_before AND purged_at IS NULL;
    GET DIAGNOSTICS r = ROW_COUNT;
    UPDATE referral_events e SET note = '' FROM referrals rf
    WHERE e.referral_id = rf.id AND rf.purged_at IS NOT NULL AND e.note <> '';
    UPDATE people pe SET display_name = '', postcode = '', contact_sealed = NULL, nhs_number_sealed = NULL,
        what_matters = '', contact_method = 'unspecified', purged_at = now()
    WHERE pe.purged_at IS NULL
      AND EXISTS (SELECT 1 FROM referrals rf WHERE rf.person_id = pe.id)
      AND NOT EXISTS (SELECT 1 FROM referrals rf WHERE rf.person_id = pe.id
                      AND (rf.closed_at IS NULL OR rf.closed_at >= p_before));
    GET DIAGNOSTICS p = ROW_COUNT;
    RETURN QUERY SELECT r, p;
END $$;
REVOKE ALL ON FUNCTION sparc_purge_closed(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sparc_purge_closed(timestamptz) TO sparc_app;
