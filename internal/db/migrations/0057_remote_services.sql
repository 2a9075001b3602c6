-- Remote and area-wide services (issue 14, point 6): a telephone line, an
-- online group or a home-visit service has no point; it is found by the
-- area it serves instead of by distance.
--
-- delivery: how the service reaches people; NULL when the listing does
-- not say, which is in person (every listing so far), so an asset reads
-- back as it was written (as availability, 0054). A remote service stores no location (NULL), so the point
-- search's KNN index, coverage (location_grid is NULL too) and tiles never
-- see it.
ALTER TABLE assets ALTER COLUMN location DROP NOT NULL;
ALTER TABLE assets ADD COLUMN delivery text
    CONSTRAINT assets_delivery CHECK (delivery IN ('in_person', 'telephone', 'online', 'home_visit'));
-- The area as the owner named it, kept for reading back and the Open
-- Referral round trip: area codes (areas.code) or a whole country. A drawn
-- area stays in service_area (0001).
ALTER TABLE assets ADD COLUMN area_codes text[] NOT NULL DEFAULT '{}';
ALTER TABLE assets ADD COLUMN area_country text NOT NULL DEFAULT '';
-- reach: the area a remote service covers, resolved when it is written
-- (the union of the named areas' boundaries, the country's box, or the
-- drawn area), so a search asks one indexed question, ST_Covers(reach,
-- point), instead of joining areas. Planar WGS84, as areas.geom. It does
-- not follow later changes to the areas' boundaries until the asset is
-- written again.
ALTER TABLE assets ADD COLUMN reach geometry(MultiPolygon, 4326);
ALTER TABLE assets ADD CONSTRAINT assets_delivery_place CHECK (CASE WHEN coalesce(delivery, 'in_person') = 'in_person'
    THEN location IS NOT NULL AND reach IS NULL AND area_codes = '{}' AND area_country = ''
    ELSE location IS NULL AND reach IS NOT NULL END);
CREATE INDEX assets_reach_gist ON assets USING gist (reach) WHERE reach IS NOT NULL;
