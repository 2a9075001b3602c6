-- Provenance of imported assets (Open Referral and other directories):
-- which feed an asset first came from and its key there. Natively created
-- assets keep the empty source. One feed record maps to at most one asset.
ALTER TABLE assets
    ADD COLUMN source    text NOT NULL DEFAULT '',
    ADD COLUMN source_id text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX assets_source_record ON assets (source, source_id) WHERE source <> '';
