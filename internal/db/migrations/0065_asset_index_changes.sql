-- The feed that keeps sparcd's in-memory search index current (issue 16,
-- docs/architecture.md, "The search index"). A table of its own beside
-- asset_changes (0061) rather than more rows in that one: coverage's feed
-- keeps its meaning (recorded only while a coverage generation exists,
-- only for what coverage reads, trimmed at the slowest generation's
-- cursor) and its reader sees no row it must skip, while this feed is
-- recorded always, for everything a search filters on or shows in its
-- BASIC view, including the places referrals take (asset_places), and is
-- trimmed by age. One more small row per asset write; no read of
-- coverage's is slower.
--
-- Ordered by (txid, seq) and read below the snapshot horizon, as
-- asset_changes and referral_outbox are: a reader that only passes rows
-- below pg_snapshot_xmin never skips a late commit. A row only names the
-- asset: the reader re-reads the asset's current state by id, so applying
-- a row twice, or a row older than the state read, is harmless.
CREATE TABLE asset_index_changes (
    seq      bigint GENERATED ALWAYS AS IDENTITY,
    txid     xid8 NOT NULL DEFAULT pg_current_xact_id(),
    asset_id uuid NOT NULL,
    time     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (txid, seq)
);

-- The position of the newest row ever trimmed (one row). A reader whose
-- cursor is behind it has missed changes and loads the index afresh.
CREATE TABLE asset_index_trimmed (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    txid xid8 NOT NULL,
    seq  bigint NOT NULL
);
INSERT INTO asset_index_trimmed (txid, seq) VALUES ('0'::xid8, 0);

-- Each recording wakes the readers (LISTEN asset_index). PostgreSQL sends
-- one notification per transaction for equal payloads, so a bulk load of
-- a million rows sends one.
CREATE FUNCTION sparc_asset_index_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid;
BEGIN
    IF TG_TABLE_NAME = 'asset_places' THEN
        v_id := CASE WHEN TG_OP = 'DELETE' THEN OLD.asset_id ELSE NEW.asset_id END;
    ELSE
        v_id := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
    END IF;
    INSERT INTO asset_index_changes (asset_id) VALUES (v_id);
    PERFORM pg_notify('asset_index', '');
    RETURN NULL;
END $$;

CREATE TRIGGER assets_index_insert AFTER INSERT ON assets
    FOR EACH ROW EXECUTE FUNCTION sparc_asset_index_changed();
-- Only what the index holds: an edit of a description or a contact
-- records nothing.
CREATE TRIGGER assets_index_update AFTER UPDATE ON assets
    FOR EACH ROW WHEN (ST_AsBinary(OLD.location) IS DISTINCT FROM ST_AsBinary(NEW.location)
        OR OLD.status IS DISTINCT FROM NEW.status OR OLD.kind IS DISTINCT FROM NEW.kind
        OR OLD.categories IS DISTINCT FROM NEW.categories OR OLD.sessions IS DISTINCT FROM NEW.sessions
        OR OLD.capacity IS DISTINCT FROM NEW.capacity OR OLD.cost_kind IS DISTINCT FROM NEW.cost_kind
        OR OLD.accessibility IS DISTINCT FROM NEW.accessibility OR OLD.languages IS DISTINCT FROM NEW.languages
        OR OLD.min_age IS DISTINCT FROM NEW.min_age OR OLD.max_age IS DISTINCT FROM NEW.max_age
        OR OLD.accepting_referrals IS DISTINCT FROM NEW.accepting_referrals
        OR OLD.availability IS DISTINCT FROM NEW.availability OR OLD.delivery IS DISTINCT FROM NEW.delivery
        OR OLD.name IS DISTINCT FROM NEW.name OR OLD.locality IS DISTINCT FROM NEW.locality
        OR OLD.country IS DISTINCT FROM NEW.country OR OLD.area_codes IS DISTINCT FROM NEW.area_codes
        OR OLD.area_country IS DISTINCT FROM NEW.area_country)
    EXECUTE FUNCTION sparc_asset_index_changed();
CREATE TRIGGER assets_index_delete AFTER DELETE ON assets
    FOR EACH ROW EXECUTE FUNCTION sparc_asset_index_changed();
-- Places taken (package referrals): has_places and places_left.
CREATE TRIGGER asset_places_index AFTER INSERT OR DELETE OR UPDATE OF taken ON asset_places
    FOR EACH ROW EXECUTE FUNCTION sparc_asset_index_changed();

-- The feed is history: the application appends and trims by age.
REVOKE UPDATE ON asset_index_changes FROM sparc_app;
