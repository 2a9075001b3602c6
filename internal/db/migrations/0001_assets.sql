-- Community asset directory.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- Text search that ignores accents ("café" finds "cafe") in English and Dutch.
CREATE TEXT SEARCH CONFIGURATION sparc_en (COPY = pg_catalog.english);
ALTER TEXT SEARCH CONFIGURATION sparc_en
    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem;
CREATE TEXT SEARCH CONFIGURATION sparc_nl (COPY = pg_catalog.dutch);
ALTER TEXT SEARCH CONFIGURATION sparc_nl
    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, dutch_stem;

CREATE TABLE assets (
    id                  uuid PRIMARY KEY,
    kind                text NOT NULL,
    name                text NOT NULL,
    description         text NOT NULL DEFAULT '',
    categories          text[] NOT NULL DEFAULT '{}',
    location            geography(Point, 4326) NOT NULL,
    address             text NOT NULL DEFAULT '',
    postcode            text NOT NULL DEFAULT '',
    locality            text NOT NULL DEFAULT '',
    country             text NOT NULL,
    service_area        geography(MultiPolygon, 4326),
    -- Weekly sessions as [{day,start_time,end_time,timezone,valid_from,valid_until}]:
    -- always read and written with the asset, filtered with jsonb_to_recordset.
    sessions            jsonb NOT NULL DEFAULT '[]',
    cost_kind           text NOT NULL DEFAULT 'unspecified',
    cost_note           text NOT NULL DEFAULT '',
    accessibility       text[] NOT NULL DEFAULT '{}',
    languages           text[] NOT NULL DEFAULT '{}',
    min_age             integer,
    max_age             integer,
    contact_name        text NOT NULL DEFAULT '',
    contact_email       text NOT NULL DEFAULT '',
    contact_phone       text NOT NULL DEFAULT '',
    contact_website     text NOT NULL DEFAULT '',
    capacity            integer,
    accepting_referrals boolean NOT NULL DEFAULT false,
    status              text NOT NULL,
    owner_organisation  text NOT NULL DEFAULT '',
    last_verified_at    timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- Bumped on every write; the API's etag.
    version             bigint NOT NULL DEFAULT 1,
    -- Listings are written in their country's language: Dutch stemming
    -- for NL, English for GB. Searches query both configurations, so
    -- either language finds either (half the cost of indexing both).
    search_doc          tsvector GENERATED ALWAYS AS (CASE WHEN country = 'NL' THEN
        setweight(to_tsvector('sparc_nl', name), 'A') || setweight(to_tsvector('sparc_nl', description), 'B')
    ELSE
        setweight(to_tsvector('sparc_en', name), 'A') || setweight(to_tsvector('sparc_en', description), 'B')
    END) STORED,
    CONSTRAINT assets_age_range CHECK (min_age IS NULL OR max_age IS NULL OR min_age <= max_age),
    CONSTRAINT assets_capacity CHECK (capacity IS NULL OR capacity >= 0)
);

-- Point search: ST_DWithin and KNN ordering (location <-> point).
CREATE INDEX assets_location_gist ON assets USING gist (location);
-- Box and polygon search use planar lon/lat containment: served by
-- assets_location_geom_covering (migration 0021).
CREATE INDEX assets_categories_gin ON assets USING gin (categories);
CREATE INDEX assets_search_doc_gin ON assets USING gin (search_doc);
-- ListAssets order and modified_since.
CREATE INDEX assets_updated ON assets (updated_at, id);
CREATE INDEX assets_owner_updated ON assets (owner_organisation, updated_at, id);

-- Server-wide secrets shared by replicas (e.g. the page token signing key).
CREATE TABLE server_secrets (
    name   text PRIMARY KEY,
    secret bytea NOT NULL
);
