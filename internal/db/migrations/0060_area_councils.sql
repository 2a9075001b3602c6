-- Councils (issue 18): the local authority (or Dutch gemeente) an area
-- belongs to, from an official lookup (LSOA -> LAD), so coverage can be
-- asked for one council (council=E08000025). It is the council's code,
-- not a foreign key: a lookup may name councils whose boundary is not
-- loaded (the Rotterdam buurten name gemeente GM0599). '' = unknown.
ALTER TABLE areas ADD COLUMN council_code text NOT NULL DEFAULT '';
-- The areas of a council of a kind, in code order (the coverage area set).
CREATE INDEX areas_council_kind_code ON areas (council_code, kind, code) WHERE council_code <> '';

-- A parent's population, when no file gives it, is the sum of its
-- children's (MSOA = sum of its LSOAs), recomputed at each import while
-- it is derived; a population a file gives is kept as given.
ALTER TABLE areas ADD COLUMN population_derived boolean NOT NULL DEFAULT false;
