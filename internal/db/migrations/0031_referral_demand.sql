-- Referral demand for coverage maps: referrals received by the assets
-- inside each area. SPARC keeps no resident geography for people (only the
-- outward postcode), so demand is placed where it lands: on the area's
-- activities. Runs as the owner (the caller may not read the rows) and
-- returns counts only; the coverage service suppresses small ones.
CREATE FUNCTION sparc_referrals_by_area(p_codes text[], p_from timestamptz, p_to timestamptz)
RETURNS TABLE (code text, n bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT ar.code, count(*)
    FROM referrals r
    JOIN assets a ON a.id = r.asset_id
    JOIN areas ar ON ST_Intersects(ar.geom, a.location::geometry)
    WHERE ar.code = ANY(p_codes)
      AND r.status NOT IN ('draft', 'entered_in_error')
      AND r.created_at >= p_from AND r.created_at < p_to
    GROUP BY ar.code
$$;
REVOKE ALL ON FUNCTION sparc_referrals_by_area(text[], timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sparc_referrals_by_area(text[], timestamptz, timestamptz) TO sparc_app;
