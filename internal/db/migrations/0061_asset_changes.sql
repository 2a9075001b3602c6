-- The outbox of asset changes that matter to coverage (issue 18): written
-- in the same transaction as the change, by triggers, so every write path
-- (the API, bulk loads, source imports, any added later) records its
-- changes without knowing of coverage. Ordered by (txid, seq) and read
-- below the snapshot horizon, as referral_outbox is (0030): a reader that
-- only passes rows below pg_snapshot_xmin never skips a late commit.
-- Each row names the asset and where it was and is (country and WGS84
-- position; NULL: it did not exist, or has no location): the coverage
-- worker recomputes the areas within reach of both from the current
-- state, so applying a change twice is harmless.
CREATE TABLE asset_changes (
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    txid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    asset_id    uuid NOT NULL,
    old_country text,
    old_lat     float8,
    old_lng     float8,
    new_country text,
    new_lat     float8,
    new_lng     float8,
    time        timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (txid, seq)
);

-- Nothing is recorded while no coverage generation exists (0062): no
-- worker would trim the rows. A build waits for every transaction that
-- may have written unrecorded before its generation existed.
CREATE FUNCTION sparc_asset_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM coverage_generations) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO asset_changes (asset_id, new_country, new_lat, new_lng)
        VALUES (NEW.id, NEW.country, ST_Y(NEW.location::geometry), ST_X(NEW.location::geometry));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO asset_changes (asset_id, old_country, old_lat, old_lng, new_country, new_lat, new_lng)
        VALUES (NEW.id, OLD.country, ST_Y(OLD.location::geometry), ST_X(OLD.location::geometry),
                NEW.country, ST_Y(NEW.location::geometry), ST_X(NEW.location::geometry));
    ELSE
        INSERT INTO asset_changes (asset_id, old_country, old_lat, old_lng)
        VALUES (OLD.id, OLD.country, ST_Y(OLD.location::geometry), ST_X(OLD.location::geometry));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER assets_changes_insert AFTER INSERT ON assets
    FOR EACH ROW EXECUTE FUNCTION sparc_asset_changed();
-- Only what coverage reads: an edit of a description records nothing.
CREATE TRIGGER assets_changes_update AFTER UPDATE ON assets
    FOR EACH ROW WHEN (ST_AsBinary(OLD.location) IS DISTINCT FROM ST_AsBinary(NEW.location)
        OR OLD.country IS DISTINCT FROM NEW.country OR OLD.status IS DISTINCT FROM NEW.status
        OR OLD.categories IS DISTINCT FROM NEW.categories OR OLD.sessions IS DISTINCT FROM NEW.sessions
        OR OLD.capacity IS DISTINCT FROM NEW.capacity)
    EXECUTE FUNCTION sparc_asset_changed();
CREATE TRIGGER assets_changes_delete AFTER DELETE ON assets
    FOR EACH ROW EXECUTE FUNCTION sparc_asset_changed();

-- Changes are history: the application appends; the coverage worker trims
-- what every generation has applied.
REVOKE UPDATE ON asset_changes FROM sparc_app;
