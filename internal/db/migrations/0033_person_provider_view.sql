-- The provider's view of a person (consent-filtered, contact sealed) is
-- kept on the person, rewritten with every change to them, so that a new
-- referral copies it in the statement that inserts it: CreateReferral is
-- one statement in one round trip. NULL means "not built yet" (people
-- created before this migration); the service builds it on first use.
ALTER TABLE people ADD COLUMN provider_view jsonb;

-- Retention now also erases the provider's view of a purged person.
CREATE OR REPLACE FUNCTION sparc_purge_closed(p_before timestamptz)
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
        what_matters = '', contact_method = 'unspecified', provider_view = NULL, purged_at = now()
    WHERE pe.purged_at IS NULL
      AND EXISTS (SELECT 1 FROM referrals rf WHERE rf.person_id = pe.id)
      AND NOT EXISTS (SELECT 1 FROM referrals rf WHERE rf.person_id = pe.id
                      AND (rf.closed_at IS NULL OR rf.closed_at >= p_before));
    GET DIAGNOSTICS p = ROW_COUNT;
    RETURN QUERY SELECT r, p;
END $$;
