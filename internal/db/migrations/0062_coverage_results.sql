-- Stored coverage (issue 18): per area and category, the figures of the
-- standard coverage (every active asset, no session window, the
-- configured walking distance), kept current from asset_changes.
--
-- A generation is one complete set of results for one walking distance,
-- category list and area data; reads use the current one while a new one
-- is built beside it, then switch in one transaction.
CREATE TABLE coverage_generations (
    id                int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    walk_meters       float8 NOT NULL,
    -- Nearest-distance slots: '' (any asset) and then each category.
    categories        text[] NOT NULL,
    areas_fingerprint text NOT NULL,
    state             text NOT NULL DEFAULT 'building' CHECK (state IN ('building', 'current', 'retired')),
    areas_done        int NOT NULL DEFAULT 0,
    areas_total       int NOT NULL DEFAULT 0,
    -- The asset changes applied: every change up to this position.
    cursor_txid       xid8 NOT NULL,
    cursor_seq        bigint NOT NULL DEFAULT 0,
    -- At least every stored nearest distance ('Infinity' while an area
    -- has none): how far an asset's new position can matter.
    nearest_bound     float8 NOT NULL DEFAULT 'Infinity',
    started_at        timestamptz NOT NULL DEFAULT now(),
    built_at          timestamptz
);
CREATE UNIQUE INDEX coverage_generations_current ON coverage_generations ((true)) WHERE state = 'current';

-- One row per area: the walking-distance figures grouped by the
-- categories of the assets counted (groups[i] is a sorted, comma-joined
-- category list; a query for any set of categories sums the groups that
-- carry one of them, so a union is never counted twice), and per slot of
-- the generation's categories the nearest distance (-1: none) and which
-- asset it is (the zero uuid: none), for the changes that move it away.
CREATE TABLE coverage_results (
    generation    int NOT NULL REFERENCES coverage_generations ON DELETE CASCADE,
    code          text NOT NULL,
    country       text NOT NULL,
    -- The reference point the distances are measured from.
    ref_lat       float8 NOT NULL,
    ref_lng       float8 NOT NULL,
    ref           geography(Point, 4326) GENERATED ALWAYS AS
                      (ST_SetSRID(ST_MakePoint(ref_lng, ref_lat), 4326)::geography) STORED,
    groups        text[] NOT NULL,
    inside        int[] NOT NULL,
    within        int[] NOT NULL,
    sessions      float8[] NOT NULL,
    places        float8[] NOT NULL,
    nearest       float8[] NOT NULL,
    nearest_asset uuid[] NOT NULL,
    PRIMARY KEY (generation, code)
);
-- The areas an asset's new position may be nearer to than their nearest.
CREATE INDEX coverage_results_ref_gist ON coverage_results USING gist (ref);
-- The areas whose nearest asset changed.
CREATE INDEX coverage_results_nearest_gin ON coverage_results USING gin (nearest_asset);

-- The areas within walking distance of a position: boundaries in each
-- national grid (geom_local mixes two SRIDs, so one partial index per grid,
-- matched by a literal srid predicate).
CREATE INDEX areas_local_27700_gist ON areas USING gist (geom_local) WHERE srid = 27700;
CREATE INDEX areas_local_28992_gist ON areas USING gist (geom_local) WHERE srid = 28992;
