-- Postcodes: where British and Dutch postcodes are (open data, loaded by
-- `sparc postcodes import` and the demo loader), for GET /v1/postcodes,
-- searches from a postcode and placing assets that give only a postcode.
-- Reference data like areas, not an organisation's: every caller reads it;
-- only the schema owner (the CLI's direct database path) and the network
-- admin (the demo loader) write it.
CREATE TABLE postcodes (
    country      text NOT NULL CHECK (country IN ('GB', 'NL')),
    -- Normalised: "B1 1BB" (GB, one space), "3039" (NL PC4).
    postcode     text NOT NULL,
    -- Outward code plus the inward digit ("B1 1"), the outward code ("B1");
    -- for NL the first three and two digits. The fallbacks for postcodes
    -- the data lacks are the means over these.
    sector       text NOT NULL,
    district     text NOT NULL,
    location     geography(Point, 4326) NOT NULL,
    lsoa_code    text NOT NULL DEFAULT '',
    council_code text NOT NULL DEFAULT '',
    -- Code-Point's positional quality (10 best … 60 sector mean); 0 unknown.
    quality      smallint NOT NULL DEFAULT 0,
    -- Which file the row came from, e.g. "codepoint-open-2014", "geonames-pc4".
    source       text NOT NULL,
    PRIMARY KEY (country, postcode),
    CONSTRAINT postcodes_sector CHECK (starts_with(postcode, sector) AND starts_with(sector, district))
);
CREATE INDEX postcodes_sector ON postcodes (country, sector);
CREATE INDEX postcodes_district ON postcodes (country, district);

-- The centre of each sector and district (the mean of its postcodes),
-- kept by every import for the postcodes it loads, so that placing a new
-- postcode is an index probe like placing a known one. code is a sector
-- ("B1 1", NL "303") or a district ("B1", NL "30"); they never collide.
CREATE TABLE postcode_areas (
    country  text NOT NULL CHECK (country IN ('GB', 'NL')),
    code     text NOT NULL,
    level    smallint NOT NULL CHECK (level IN (2, 3)), -- 2 sector, 3 district
    lat      float8 NOT NULL,
    lng      float8 NOT NULL,
    -- The council when all its postcodes share one, else ''.
    council  text NOT NULL,
    source   text NOT NULL,
    postcodes integer NOT NULL,
    PRIMARY KEY (country, code)
);

ALTER TABLE postcode_areas ENABLE ROW LEVEL SECURITY;
ALTER TABLE postcode_areas FORCE ROW LEVEL SECURITY;
CREATE POLICY postcode_areas_read ON postcode_areas FOR SELECT USING (true);
CREATE POLICY postcode_areas_insert ON postcode_areas FOR INSERT
    WITH CHECK (current_user <> 'sparc_app' OR sparc_role() = 'network_admin');
CREATE POLICY postcode_areas_update ON postcode_areas FOR UPDATE
    USING (current_user <> 'sparc_app' OR sparc_role() = 'network_admin')
    WITH CHECK (current_user <> 'sparc_app' OR sparc_role() = 'network_admin');
REVOKE DELETE, TRUNCATE ON postcode_areas FROM sparc_app;

ALTER TABLE postcodes ENABLE ROW LEVEL SECURITY;
ALTER TABLE postcodes FORCE ROW LEVEL SECURITY;
CREATE POLICY postcodes_read ON postcodes FOR SELECT USING (true);
CREATE POLICY postcodes_insert ON postcodes FOR INSERT
    WITH CHECK (current_user <> 'sparc_app' OR sparc_role() = 'network_admin');
CREATE POLICY postcodes_update ON postcodes FOR UPDATE
    USING (current_user <> 'sparc_app' OR sparc_role() = 'network_admin')
    WITH CHECK (current_user <> 'sparc_app' OR sparc_role() = 'network_admin');
REVOKE DELETE, TRUNCATE ON postcodes FROM sparc_app;
