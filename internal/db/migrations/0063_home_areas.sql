-- Demand where people live (issue 18): a person's home area, the LSOA
-- (GB) or buurt (NL) their postcode lies in, derived by the person
-- service through the postcode lookup whenever the postcode is set or
-- changed. Only the area's code is kept, never the postcode's point.
-- NULL: not placed yet (people recorded before this migration; the
-- start-up backfill places them); '': placed, no home area (no postcode,
-- a postcode the data does not hold exactly, or one in no loaded area).
ALTER TABLE people ADD COLUMN home_area text;

-- A referral keeps the home area its person had when it was made, so
-- that a person moving home moves their later referrals only, and a
-- month's released figures never change afterwards (docs/security.md,
-- disclosure rule 4). NULL: made before this migration and not yet
-- backfilled (or its person was not placed yet when it was made: the
-- backfill copies theirs); '' none. It stays after the retention purge, like the
-- statuses, so statistics keep counting it.
ALTER TABLE referrals ADD COLUMN home_area text;

-- Copied by the database at insert, so every path that makes a referral
-- (CreateReferral's one statement, tests, imports) copies it, without
-- another round trip. Owner rights: the copy reads one column of the
-- referral's own person, whoever inserts.
CREATE FUNCTION referrals_copy_home_area() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    NEW.home_area := (SELECT p.home_area FROM people p WHERE p.id = NEW.person_id);
    RETURN NEW;
END $$;
CREATE TRIGGER referrals_copy_home_area BEFORE INSERT ON referrals
    FOR EACH ROW EXECUTE FUNCTION referrals_copy_home_area();

-- A home area never outlives the postcode it came from: clearing the
-- postcode (an update, the retention purge) clears it.
CREATE FUNCTION people_home_area_follows_postcode() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.postcode = '' THEN
        NEW.home_area := '';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER people_home_area_follows_postcode BEFORE INSERT OR UPDATE ON people
    FOR EACH ROW EXECUTE FUNCTION people_home_area_follows_postcode();

-- The start-up backfill finds who is left to place without a scan.
CREATE INDEX people_unplaced ON people (id) WHERE home_area IS NULL;

-- The backfill runs before any caller, for every organisation, through
-- two owner functions (as the NHS number index's, 0051) that can do
-- nothing else: read the postcodes of people not yet placed, and set a
-- home area where none is set, copying it to those people's referrals
-- that have none yet.
CREATE FUNCTION sparc_people_unplaced(p_after uuid, p_limit integer)
RETURNS TABLE (id uuid, postcode text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT p.id, p.postcode FROM people p
    WHERE p.home_area IS NULL AND p.id > p_after
    ORDER BY p.id LIMIT p_limit
$$;
CREATE FUNCTION sparc_people_set_home_area(p_ids uuid[], p_areas text[])
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE n bigint;
BEGIN
    UPDATE people SET home_area = v.area
    FROM unnest(p_ids, p_areas) AS v (id, area)
    WHERE people.id = v.id AND people.home_area IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE referrals r SET home_area = p.home_area
    FROM people p
    WHERE p.id = ANY(p_ids) AND r.person_id = p.id AND r.home_area IS NULL;
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION sparc_people_unplaced(uuid, integer), sparc_people_set_home_area(uuid[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sparc_people_unplaced(uuid, integer), sparc_people_set_home_area(uuid[], text[]) TO sparc_app;
