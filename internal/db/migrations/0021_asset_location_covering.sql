-- Counting assets within a radius (the total_items of an Open Referral
-- proximity page) as an index-only scan: the planar box of the circle on
-- this index, then the exact sphere distance on the included geography,
-- without visiting the table. Counting through assets_location_gist reads
-- one heap page per candidate (3,300 pages for 2 km in Birmingham at 100k
-- assets; 6 to 19 ms, against 1.3 ms here).
CREATE INDEX assets_location_geom_covering ON assets USING gist ((location::geometry)) INCLUDE (location);
-- It also serves box and polygon search (planar lon/lat containment), so
-- it is the only geometry index on assets.location.
