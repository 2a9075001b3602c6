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
    started_at        timestamptz NOT NULL DEFAULT now(),
    built_at          timestamptz
);
CREATE UNIQUE INDEX coverage_generations_current ON coverage_generations ((true)) WHERE state = 'current';

-- One row per area. `packed` is what a read needs, in one value so that
-- a national read decodes 32,844 small byte strings rather than 200,000
-- arrays (docs/coverage.md): the walking-distance figures grouped by the
-- category set of the assets counted (a query for any set of categories
-- sums the groups carrying one of them, so a union is never counted
-- twice), then the nearest distance per slot. `nearest` and
-- `nearest_asset` repeat the distances, with which asset each is (the
-- zero uuid: none; -1: no distance), for the worker's queries.
CREATE TABLE coverage_results (
    generation    int NOT NULL REFERENCES coverage_generations ON DELETE CASCADE,
    code          text NOT NULL,
    country       text NOT NULL,
    -- The reference point the distances are measured from.
    ref_lat       float8 NOT NULL,
    ref_lng       float8 NOT NULL,
    ref           geography(Point, 4326) GENERATED ALWAYS AS
                      (ST_SetSRID(ST_MakePoint(ref_lng, ref_lat), 4326)::geography) STORED,
    packed        bytea NOT NULL,
    nearest       float8[] NOT NULL,
    nearest_asset uuid[] NOT NULL,
    -- The area's largest nearest distance ('Infinity' when a slot has
    -- none), and the box around the reference point that holds every
    -- point nearer than it: an asset outside the box cannot become the
    -- area's nearest. Degrees from metres conservatively (110 km per
    -- degree of latitude, and of longitude at the box's highest latitude).
    reach_m       float8 NOT NULL,
    reach         geometry(Polygon, 4326) GENERATED ALWAYS AS (CASE
        WHEN reach_m = 'Infinity' OR abs(ref_lat) + reach_m / 110000 >= 89 THEN ST_MakeEnvelope(-180, -90, 180, 90, 4326)
        ELSE ST_Expand(ST_SetSRID(ST_MakePoint(ref_lng, ref_lat), 4326),
                       1.01 * reach_m / (110000 * cos(radians(abs(ref_lat) + reach_m / 110000))),
                       1.01 * reach_m / 110000)::geometry END) STORED,
    PRIMARY KEY (generation, code)
);
-- The areas an asset's new position may be nearer to than their nearest,
-- and (from its old position) those it was the nearest of.
CREATE INDEX coverage_results_reach_gist ON coverage_results USING gist (reach);

-- The areas within walking distance of a position: boundaries in each
-- national grid (geom_local mixes two SRIDs, so one partial index per grid,
-- matched by a literal srid predicate).
CREATE INDEX areas_local_27700_gist ON areas USING gist (geom_local) WHERE srid = 27700;
CREATE INDEX areas_local_28992_gist ON areas USING gist (geom_local) WHERE srid = 28992;
