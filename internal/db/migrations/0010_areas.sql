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
    -- Web Mercator copy for vector tiles (ST_AsMVTGeom wants 3857).
    geom_web    geometry(MultiPolygon, 3857) NOT NULL,
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
-- and the country predicate literally so these indexes match.
CREATE INDEX assets_bng_gist ON assets USING gist (ST_Transform(location::geometry, 27700))
    WHERE country = 'GB';
CREATE INDEX assets_rd_gist ON assets USING gist (ST_Transform(location::geometry, 28992))
    WHERE country = 'NL';

-- Nearest asset per category: one KNN query per category, each served by
-- its own partial index (a lateral join over all categories at once cannot
-- use partial indexes and was ~15x slower). A new vocabulary category needs
-- a new migration adding its two indexes; a test checks they all exist.
CREATE INDEX assets_bng_physical_activity_gist ON assets USING gist (ST_Transform(location::geometry, 27700))
    WHERE country = 'GB' AND categories @> '{physical_activity}';
CREATE INDEX assets_bng_arts_creativity_gist ON assets USING gist (ST_Transform(location::geometry, 27700))
    WHERE country = 'GB' AND categories @> '{arts_creativity}';
CREATE INDEX assets_bng_nature_green_space_gist ON assets USING gist (ST_Transform(location::geometry, 27700))
    WHERE country = 'GB' AND categories @> '{nature_green_space}';
CREATE INDEX assets_bng_social_connection_gist ON assets USING gist (ST_Transform(location::geometry, 27700))
    WHERE country = 'GB' AND categories @> '{social_connection}';
CREATE INDEX assets_bng_learning_skills_gist ON assets USING gist (ST_Transform(location::geometry, 27700))
    WHERE country = 'GB' AND categories @> '{learning_skills}';
CREATE INDEX assets_bng_volunteering_gist ON assets USING gist (ST_Transform(location::geometry, 27700))
    WHERE country = 'GB' AND categories @> '{volunteering}';
CREATE INDEX assets_bng_food_gist ON assets USING gist (ST_Transform(location::geometry, 27700))
    WHERE country = 'GB' AND categories @> '{food}';
CREATE INDEX assets_bng_money_debt_advice_gist ON assets USING gist (ST_Transform(location::geometry, 27700))
    WHERE country = 'GB' AND categories @> '{money_debt_advice}';
CREATE INDEX assets_bng_housing_gist ON assets USING gist (ST_Transform(location::geometry, 27700))
    WHERE country = 'GB' AND categories @> '{housing}';
CREATE INDEX assets_bng_employment_gist ON assets USING gist (ST_Transform(location::geometry, 27700))
    WHERE country = 'GB' AND categories @> '{employment}';
CREATE INDEX assets_bng_mental_wellbeing_gist ON assets USING gist (ST_Transform(location::geometry, 27700))
    WHERE country = 'GB' AND categories @> '{mental_wellbeing}';
CREATE INDEX assets_bng_carers_gist ON assets USING gist (ST_Transform(location::geometry, 27700))
    WHERE country = 'GB' AND categories @> '{carers}';
CREATE INDEX assets_bng_faith_gist ON assets USING gist (ST_Transform(location::geometry, 27700))
    WHERE country = 'GB' AND categories @> '{faith}';
CREATE INDEX assets_bng_digital_inclusion_gist ON assets USING gist (ST_Transform(location::geometry, 27700))
    WHERE country = 'GB' AND categories @> '{digital_inclusion}';
CREATE INDEX assets_bng_long_term_condition_gist ON assets USING gist (ST_Transform(location::geometry, 27700))
    WHERE country = 'GB' AND categories @> '{long_term_condition}';
CREATE INDEX assets_bng_children_families_gist ON assets USING gist (ST_Transform(location::geometry, 27700))
    WHERE country = 'GB' AND categories @> '{children_families}';
CREATE INDEX assets_rd_physical_activity_gist ON assets USING gist (ST_Transform(location::geometry, 28992))
    WHERE country = 'NL' AND categories @> '{physical_activity}';
CREATE INDEX assets_rd_arts_creativity_gist ON assets USING gist (ST_Transform(location::geometry, 28992))
    WHERE country = 'NL' AND categories @> '{arts_creativity}';
CREATE INDEX assets_rd_nature_green_space_gist ON assets USING gist (ST_Transform(location::geometry, 28992))
    WHERE country = 'NL' AND categories @> '{nature_green_space}';
CREATE INDEX assets_rd_social_connection_gist ON assets USING gist (ST_Transform(location::geometry, 28992))
    WHERE country = 'NL' AND categories @> '{social_connection}';
CREATE INDEX assets_rd_learning_skills_gist ON assets USING gist (ST_Transform(location::geometry, 28992))
    WHERE country = 'NL' AND categories @> '{learning_skills}';
CREATE INDEX assets_rd_volunteering_gist ON assets USING gist (ST_Transform(location::geometry, 28992))
    WHERE country = 'NL' AND categories @> '{volunteering}';
CREATE INDEX assets_rd_food_gist ON assets USING gist (ST_Transform(location::geometry, 28992))
    WHERE country = 'NL' AND categories @> '{food}';
CREATE INDEX assets_rd_money_debt_advice_gist ON assets USING gist (ST_Transform(location::geometry, 28992))
    WHERE country = 'NL' AND categories @> '{money_debt_advice}';
CREATE INDEX assets_rd_housing_gist ON assets USING gist (ST_Transform(location::geometry, 28992))
    WHERE country = 'NL' AND categories @> '{housing}';
CREATE INDEX assets_rd_employment_gist ON assets USING gist (ST_Transform(location::geometry, 28992))
    WHERE country = 'NL' AND categories @> '{employment}';
CREATE INDEX assets_rd_mental_wellbeing_gist ON assets USING gist (ST_Transform(location::geometry, 28992))
    WHERE country = 'NL' AND categories @> '{mental_wellbeing}';
CREATE INDEX assets_rd_carers_gist ON assets USING gist (ST_Transform(location::geometry, 28992))
    WHERE country = 'NL' AND categories @> '{carers}';
CREATE INDEX assets_rd_faith_gist ON assets USING gist (ST_Transform(location::geometry, 28992))
    WHERE country = 'NL' AND categories @> '{faith}';
CREATE INDEX assets_rd_digital_inclusion_gist ON assets USING gist (ST_Transform(location::geometry, 28992))
    WHERE country = 'NL' AND categories @> '{digital_inclusion}';
CREATE INDEX assets_rd_long_term_condition_gist ON assets USING gist (ST_Transform(location::geometry, 28992))
    WHERE country = 'NL' AND categories @> '{long_term_condition}';
CREATE INDEX assets_rd_children_families_gist ON assets USING gist (ST_Transform(location::geometry, 28992))
    WHERE country = 'NL' AND categories @> '{children_families}';
