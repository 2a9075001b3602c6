-- Finding people again (ListPeople, SearchPeople), inside the caller's
-- organisation only: the people_own policy (0030, 0032) already binds every
-- row to its organisation and to link workers and admins.
--
-- NHS numbers stay sealed (AES-GCM with a random nonce, so equal numbers
-- never look equal). Exact search and the one-number-per-organisation rule
-- use a keyed blind index instead: HMAC-SHA256 of the organisation's id and
-- the normalised number under a key derived from the data key
-- (internal/seal), so the same person held by two organisations does not
-- show as such either. The database never
-- sees the key, so this migration cannot fill the column for existing rows:
-- the application does at start-up (people.IndexNHSNumbers), in batches,
-- through the two functions below.
ALTER TABLE people ADD COLUMN nhs_number_index bytea;

-- One person per NHS number per organisation, however many creates race:
-- the loser's INSERT ... ON CONFLICT finds the winner. NULLs (no number, or
-- not yet indexed) do not collide.
CREATE UNIQUE INDEX people_nhs_number_index ON people (organisation_id, nhs_number_index);

-- Lists and name searches read in display-name order: the lower-cased
-- name in byte order ("C"), so that a prefix is one range of the index
-- whatever the database's collation. Row-level security makes PostgreSQL
-- apply a query's conditions only after the policy's unless they are
-- leakproof, and lower() and replace() are not (text comparison is): on
-- an expression index the scan would walk the whole organisation. So the
-- search keys are stored (generated) columns, compared as they are.
ALTER TABLE people ADD COLUMN name_key text COLLATE "C" GENERATED ALWAYS AS (lower(display_name)) STORED;
CREATE INDEX people_by_name ON people (organisation_id, name_key, id) WHERE purged_at IS NULL;
-- Postcode search: the postcode without spaces ("B8 1AA", "b81aa").
ALTER TABLE people ADD COLUMN postcode_key text GENERATED ALWAYS AS (replace(postcode, ' ', '')) STORED;
CREATE INDEX people_by_postcode ON people (organisation_id, postcode_key) WHERE purged_at IS NULL AND postcode_key <> '';
-- The start-up backfill finds what is left to index without a scan.
CREATE INDEX people_nhs_unindexed ON people (id)
    WHERE nhs_number_sealed IS NOT NULL AND nhs_number_index IS NULL;

-- A blind index never outlives the number it stands for: clearing the
-- sealed number (an update, the retention purge) clears its index.
CREATE FUNCTION people_nhs_index_follows_number() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.nhs_number_sealed IS NULL THEN
        NEW.nhs_number_index := NULL;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER people_nhs_index_follows_number BEFORE INSERT OR UPDATE ON people
    FOR EACH ROW EXECUTE FUNCTION people_nhs_index_follows_number();

-- The backfill runs before any caller, for every organisation, so it goes
-- through these owner functions (as key authentication does, 0041) and can
-- do nothing else: read sealed numbers not yet indexed (ciphertext, useless
-- without the data key) and set an index where none is set. A number that
-- repeats one already indexed in its organisation (two people registered
-- with one number before this rule) stays unindexed and is reported.
CREATE FUNCTION sparc_people_unindexed(p_after uuid, p_limit integer)
RETURNS TABLE (id uuid, organisation_id uuid, nhs_number_sealed bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT p.id, p.organisation_id, p.nhs_number_sealed FROM people p
    WHERE p.nhs_number_sealed IS NOT NULL AND p.nhs_number_index IS NULL AND p.id > p_after
    ORDER BY p.id LIMIT p_limit
$$;
CREATE FUNCTION sparc_people_set_nhs_index(p_ids uuid[], p_indexes bytea[])
RETURNS TABLE (indexed bigint, duplicates uuid[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE n bigint := 0; dup uuid[] := '{}';
BEGIN
    -- The whole batch in one statement; only a batch with a duplicate
    -- goes row by row, to index all the others.
    BEGIN
        UPDATE people SET nhs_number_index = v.idx
        FROM unnest(p_ids, p_indexes) AS v (id, idx)
        WHERE people.id = v.id AND people.nhs_number_sealed IS NOT NULL AND people.nhs_number_index IS NULL;
        GET DIAGNOSTICS n = ROW_COUNT;
        RETURN QUERY SELECT n, dup;
        RETURN;
    EXCEPTION WHEN unique_violation THEN
        n := 0;
    END;
    FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
        BEGIN
            UPDATE people SET nhs_number_index = p_indexes[i]
            WHERE people.id = p_ids[i] AND nhs_number_sealed IS NOT NULL AND nhs_number_index IS NULL;
            IF FOUND THEN n := n + 1; END IF;
        EXCEPTION WHEN unique_violation THEN
            dup := dup || p_ids[i];
        END;
    END LOOP;
    RETURN QUERY SELECT n, dup;
END $$;
REVOKE ALL ON FUNCTION sparc_people_unindexed(uuid, integer), sparc_people_set_nhs_index(uuid[], bytea[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sparc_people_unindexed(uuid, integer), sparc_people_set_nhs_index(uuid[], bytea[]) TO sparc_app;
