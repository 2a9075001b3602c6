-- The walking distance the stored coverage is kept for (issue 18), set
-- through the API (CoverageService.UpdateCoverageSettings) rather than by
-- a restart with another --coverage-walk-meters: every server's
-- maintainer reads it at its rebuild check (every 2 s), so replicas agree
-- on one distance (with the flag alone, two servers started with
-- different values would rebuild in turn for ever). No row: the flag's
-- value (default 800 m).
CREATE TABLE coverage_settings (
    one         boolean PRIMARY KEY DEFAULT true CHECK (one),
    walk_meters float8 NOT NULL CHECK (walk_meters > 0 AND walk_meters <= 5000),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
