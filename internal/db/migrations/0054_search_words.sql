-- Search that finds what people type (issue 14, point 8), and how assets
-- without weekly sessions run (point 7).
--
-- Full-text search (search_doc, 0001) matches stemmed word prefixes: it
-- cannot find a Dutch compound from one of its parts ("koor" in
-- "Buurtkoor") nor a prefix longer than the stem ("gardeni": "gardening"
-- is stored as 'garden'). search_words keeps the words as written, lower
-- case and unaccented, each in quotes ('buurtkoor' 'cafe' 'moestuin'), so
-- that LIKE finds a word's start ('%''gardeni%') or a part anywhere in it
-- ('%koor%'), served by a trigram index. The text form of a stripped
-- tsvector is immutable (to_tsvector with a fixed configuration, tsvector
-- output), so it can be a generated column; array_to_string cannot.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TEXT SEARCH CONFIGURATION sparc_words (COPY = pg_catalog.simple);
ALTER TEXT SEARCH CONFIGURATION sparc_words
    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple;

ALTER TABLE assets ADD COLUMN search_words text GENERATED ALWAYS AS
    (strip(to_tsvector('sparc_words', name || ' ' || description))::text) STORED;
CREATE INDEX assets_search_words_trgm ON assets USING gin (search_words gin_trgm_ops);

-- How an asset runs (sparc.v1.Availability): open_at follows it instead of
-- leaving out every asset without sessions. NULL when the listing does not
-- say, read as in sessions: an asset reads back as it was written, and
-- existing listings and clients see no new value.
ALTER TABLE assets ADD COLUMN availability text
    CONSTRAINT assets_availability CHECK (availability IN ('sessions', 'drop_in', 'by_appointment', 'always_available'));
