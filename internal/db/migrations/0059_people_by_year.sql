-- A name search narrowed by year of birth (SearchPeople) walked the whole
-- name range in people_by_name, reading each row from the heap to test
-- its year: about 2,300 random heap reads for "Am" and 1950 among 100k
-- people (22 ms cold). Keyed by year first, the people born that year
-- are one range in name order, and so are those with no year recorded
-- (the search's other branch, by age band): two short index ranges merged.
CREATE INDEX people_by_year_name ON people (organisation_id, year_of_birth, name_key, id) WHERE purged_at IS NULL;
