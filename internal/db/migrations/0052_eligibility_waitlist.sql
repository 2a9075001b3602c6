-- Eligibility and places (issue 14, point 3).
--
-- Age eligibility: a person's possible ages (sparc_age_span) against an
-- asset's age range. A person is refused only when the two do not overlap
-- at all, i.e. when every age the person may have lies outside the range;
-- a person whose ages are unknown is never refused.
--
-- Waiting list: accepting a referral to an asset whose places are all
-- taken puts it in status 'waitlisted' (waitlisted_at orders the list);
-- when a referral holding a place closes, sparc_release_place gives the
-- place back and offers it to the first waitlisted referral, in the same
-- transaction.

-- The ages a person may have: their age band ("16-17", "75+") as an
-- inclusive range; without a band, their year of birth (born in Y, they
-- are Y'-Y-1 or Y'-Y in the current year Y'); otherwise NULL (unknown).
-- A plain SQL expression, so the planner inlines it into CreateReferral's
-- statement.
CREATE FUNCTION sparc_age_span(p_band text, p_year_of_birth integer) RETURNS int4range
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_band ~ '^[0-9]{1,3}-[0-9]{1,3}$'
            THEN int4range(split_part(p_band, '-', 1)::int, split_part(p_band, '-', 2)::int, '[]')
        WHEN p_band ~ '^[0-9]{1,3}\+$'
            THEN int4range(rtrim(p_band, '+')::int, NULL, '[]')
        WHEN p_year_of_birth IS NOT NULL
            THEN int4range(extract(year FROM now())::int - p_year_of_birth - 1,
                           extract(year FROM now())::int - p_year_of_birth, '[]')
    END
$$;

ALTER TABLE referrals ADD COLUMN waitlisted_at timestamptz;
-- The waiting list of an asset, in order: only waitlisted rows are in it.
CREATE INDEX referrals_waiting ON referrals (asset_id, waitlisted_at, id) WHERE status = 'waitlisted';

-- sparc_release_place gives back the place a closed referral holds and
-- offers it to the first referral waiting for the asset. The two are often
-- different organisations' referrals (a link worker cancels theirs; another
-- service's referral moves up), which the caller may not see: so it runs
-- as the owner. It can only do what closing p_referral implies: it acts
-- only when p_referral is closed (closed_at set) and still holds a place,
-- and clears that, so it gives a place back once.
--
-- Concurrency: the asset_places row is the lock of the asset's places. Its
-- UPDATE serialises every release (and every take, see the referrals
-- store) of one asset; the first waiting referral is then locked and
-- moved up (a row that stopped waiting while this waited for its lock is
-- not mistaken for the end of the list: see the loop).
-- Under READ COMMITTED each statement sees what committed before it, so
-- two releases at once offer two different referrals, and never a place
-- that is not free.
--
-- Returns the referral offered the place, or NULL.
CREATE FUNCTION sparc_release_place(p_referral uuid) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_asset uuid;
    v_capacity integer;
    v_taken integer;
    w record;
BEGIN
    UPDATE referrals SET holds_place = false
    WHERE id = p_referral AND holds_place AND closed_at IS NOT NULL
    RETURNING asset_id INTO v_asset;
    IF v_asset IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE asset_places SET taken = taken - 1 WHERE asset_id = v_asset AND taken > 0
    RETURNING taken INTO v_taken;
    IF v_taken IS NULL THEN
        RETURN NULL; -- nothing was counted (the asset stopped counting places)
    END IF;
    SELECT capacity INTO v_capacity FROM assets WHERE id = v_asset;
    IF v_capacity IS NOT NULL AND v_taken >= v_capacity THEN
        RETURN NULL; -- the capacity was lowered: still full
    END IF;
    LOOP
        SELECT id, referring_org, provider_org INTO w FROM referrals
        WHERE asset_id = v_asset AND status = 'waitlisted'
        ORDER BY waitlisted_at, id LIMIT 1 FOR UPDATE;
        IF FOUND THEN
            UPDATE referrals SET status = 'accepted', status_reason = 'place_freed', holds_place = true,
                accepted_at = COALESCE(accepted_at, clock_timestamp()), waitlisted_at = NULL,
                version = version + 1, updated_at = clock_timestamp()
            WHERE id = w.id;
            UPDATE asset_places SET taken = taken + 1 WHERE asset_id = v_asset;
            -- The waiting list acts for the provider, whose place it is;
            -- the principal who freed the place (perhaps another service's
            -- link worker) is not named to this referral's parties.
            INSERT INTO referral_events (referral_id, referring_org, provider_org, actor, actor_org, from_status, to_status, reason)
            VALUES (w.id, w.referring_org, w.provider_org, 'sparc:waiting_list', w.provider_org, 'waitlisted', 'accepted', 'place_freed');
            INSERT INTO referral_outbox (referral_id, referring_org, provider_org, type, from_status, to_status)
            VALUES (w.id, w.referring_org, w.provider_org, 'status_changed', 'waitlisted', 'accepted');
            RETURN w.id;
        END IF;
        -- LIMIT 1 FOR UPDATE returns nothing when the first waiting row
        -- stopped waiting while this statement waited for its lock; look
        -- again (a new statement sees that change) unless none waits.
        EXIT WHEN NOT EXISTS (SELECT 1 FROM referrals WHERE asset_id = v_asset AND status = 'waitlisted');
    END LOOP;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION sparc_release_place(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sparc_release_place(uuid) TO sparc_app;
