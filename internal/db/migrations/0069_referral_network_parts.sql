-- The referral network read in three parts that run at once (issue 19,
-- docs/analytics.md "Referral network", docs/benchmarks.md). 0067 read
-- one row per referring organisation × asset × month × status × home
-- quintile × asset quintile: a national year came to 1.2M rows in
-- 12-16 s, most of it the asset quintiles joined to every row and the
-- sort of the eight-column key. Now:
--
--   sparc_referral_network          the ties by month and status (per
--                                   asset only when asked): 0.74M rows
--                                   for a national year at organisation
--                                   granularity, hashed, not sorted;
--   sparc_referral_network_homes    referrals per referrer, month and the
--                                   quintile of the person's home area;
--   sparc_referral_network_places   the quintile of every asset run by an
--                                   organisation referred to (and of every
--                                   asset referred to): a group's quintile
--                                   is where most of its assets stand.
--
-- The three share one reading of the window's referrals
-- (sparc_network_referrals, inlined into each), so a referral is counted
-- by the same rule in every part.

DROP FUNCTION sparc_referral_network(text, timestamptz, timestamptz);

-- The second wall behind the access policy (internal/auth, policy.go
-- "Relational analytics"): the parts below run as the owner over every
-- organisation's referrals, so they answer only a transaction whose
-- identity (sparc.role, set by internal/db with every request's) is an
-- admin's or an area analyst's. Anyone else, a connection with no
-- identity included, gets insufficient_privilege, not figures, even if a
-- route forgot the policy. Outcome evidence uses the same rule (0070).
CREATE FUNCTION sparc_require_analytics() RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
BEGIN
    IF coalesce(sparc_role(), '') NOT IN ('admin', 'area_analyst') THEN
        RAISE EXCEPTION 'referral analytics are for admins and area analysts'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN true;
END $$;
REVOKE ALL ON FUNCTION sparc_require_analytics() FROM PUBLIC;

-- The referrals made in [p_from, p_to) as the network reads them: the
-- referring organisation, the asset and the organisation running it (the
-- referral's provider, else the asset's owner), the calendar month (UTC)
-- of creation, the person's home area, and status, reason, accepted and
-- attended as they stood at p_to; drafts, entries in error and referrals
-- with no organisation to go to are left out (as 0043 and 0064, so a
-- window of months that have ended keeps its answer). p_area (NULL:
-- everywhere) keeps referrals of people whose home area is the area or
-- lies in it (its descendants, or the council's areas) and referrals to
-- assets located in its boundary.
--
-- Plain SQL without SET clauses or SECURITY DEFINER, so the planner
-- inlines it into the owner functions below, which run it with their
-- rights; called on its own by the application role, row-level security
-- shows it the caller's own referrals only. Execution is the owner's
-- alone anyway.
--
-- The guard is tested here, so the ties and the homes are guarded through
-- it: a condition with no column is a one-time filter, tested once
-- before a row is read, and here the plans are those without it plus
-- that test (EXPLAIN on the national benchmark history). In the outer
-- query of sparc_referral_network instead, it let the planner flatten
-- this reading, and the status as it stood at p_to (a subquery for
-- referrals changed since) would be computed once per use instead of
-- once per referral.
CREATE FUNCTION sparc_network_referrals(p_area text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (referring_org uuid, asset_id uuid, target_org uuid, month timestamptz, home_area text,
               status_then text, reason_then text, accepted boolean, attended boolean)
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE inside (code, depth) AS (
        SELECT a.code, 0 FROM public.areas a WHERE a.code = p_area
        UNION
        SELECT a.code, 1 FROM public.areas a WHERE p_area IS NOT NULL AND a.council_code = p_area
        UNION
        SELECT a.code, i.depth + 1 FROM inside i JOIN public.areas a ON a.parent_code = i.code
        WHERE a.parent_code <> '' AND i.depth < 8
    ), located AS (
        -- The assets inside the area, found once through the assets'
        -- spatial index: testing each referral's asset against a
        -- council's boundary would repeat the test per referral.
        SELECT a.id FROM public.assets a JOIN public.areas ar ON ar.code = p_area
        WHERE public.ST_Intersects(a.location::public.geometry, ar.geom)
    ), r AS (
        SELECT rf.referring_org, rf.asset_id, coalesce(rf.provider_org, a.owner_organisation) AS target_org,
               date_trunc('month', rf.created_at, 'UTC') AS month, rf.home_area,
               -- As 0064: the timeline only for referrals changed since
               -- p_to (a scalar subquery under CASE runs only then; a
               -- lateral join would cost a step for every referral).
               coalesce(CASE WHEN rf.updated_at >= p_to - interval '1 minute' THEN (
                   SELECT e.to_status FROM public.referral_events e
                   WHERE e.referral_id = rf.id AND (e.time < p_to OR e.from_status = '')
                   ORDER BY e.id DESC LIMIT 1) END, rf.status) AS status_then,
               coalesce(CASE WHEN rf.updated_at >= p_to - interval '1 minute' THEN (
                   SELECT e.reason FROM public.referral_events e
                   WHERE e.referral_id = rf.id AND (e.time < p_to OR e.from_status = '')
                   ORDER BY e.id DESC LIMIT 1) END, rf.status_reason) AS reason_then,
               coalesce(rf.accepted_at < p_to, false) AS accepted,
               coalesce(rf.first_attended_at < p_to, false) AS attended
        FROM public.referrals rf
        JOIN public.assets a ON a.id = rf.asset_id
        WHERE rf.created_at >= p_from AND rf.created_at < p_to
          AND (p_area IS NULL
               OR rf.home_area IN (SELECT i.code FROM inside i)
               OR rf.asset_id IN (SELECT l.id FROM located l))
    )
    SELECT * FROM r
    WHERE public.sparc_require_analytics()
      AND r.status_then NOT IN ('draft', 'entered_in_error') AND r.target_org IS NOT NULL
$$;
REVOKE ALL ON FUNCTION sparc_network_referrals(text, timestamptz, timestamptz) FROM PUBLIC;

-- The ties: referrals per referring organisation, asset (NULL unless
-- p_by_asset), organisation referred to, calendar month, and whether
-- declined and why; with how many were ever accepted, attended at least
-- once and completed. Counts only, never a person: the network service
-- releases them under the disclosure rule.
CREATE FUNCTION sparc_referral_network(p_area text, p_from timestamptz, p_to timestamptz, p_by_asset boolean)
RETURNS TABLE (referring_org uuid, asset_id uuid, target_org uuid, month timestamptz, declined boolean, reason text,
               n bigint, accepted bigint, attended bigint, completed bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
-- As 0064: the plan's cost passes jit_above_cost for a year of referrals,
-- and compiling it costs more than running it. A national year's groups
-- take about 180 MB to hash (two years, the window and the one before,
-- twice that): in memory. The planner cannot see through the inlined
-- function's parameters, expects a few thousand rows and would sort 1.3M
-- to group them (1.5 s); hashing them takes 0.7 s.
SET jit = off SET work_mem = '256MB' SET enable_sort = off AS $$
    SELECT r.referring_org, CASE WHEN p_by_asset THEN r.asset_id END, r.target_org, r.month,
           r.status_then = 'rejected', CASE WHEN r.status_then = 'rejected' THEN r.reason_then ELSE '' END,
           count(*), count(*) FILTER (WHERE r.accepted), count(*) FILTER (WHERE r.attended),
           count(*) FILTER (WHERE r.status_then = 'completed')
    FROM sparc_network_referrals(p_area, p_from, p_to) r
    GROUP BY 1, 2, 3, 4, 5, 6
$$;
REVOKE ALL ON FUNCTION sparc_referral_network(text, timestamptz, timestamptz, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sparc_referral_network(text, timestamptz, timestamptz, boolean) TO sparc_app;

-- Referrals per referring organisation, calendar month and deprivation
-- quintile of the person's home area (0: unknown), for the referrer's
-- quintile (where most of the people it refers live).
CREATE FUNCTION sparc_referral_network_homes(p_area text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (referring_org uuid, month timestamptz, home_quintile integer, n bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
-- As sparc_referral_network: hashed, not sorted.
SET jit = off SET work_mem = '64MB' SET enable_sort = off AS $$
    WITH q AS MATERIALIZED (
        SELECT * FROM sparc_area_quintiles() WHERE quintile IS NOT NULL
    )
    SELECT r.referring_org, r.month, coalesce(q.quintile, 0), count(*)
    FROM sparc_network_referrals(p_area, p_from, p_to) r
    LEFT JOIN q ON q.code = r.home_area
    GROUP BY 1, 2, 3
$$;
REVOKE ALL ON FUNCTION sparc_referral_network_homes(text, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sparc_referral_network_homes(text, timestamptz, timestamptz) TO sparc_app;

-- The deprivation quintile (0: none) of each asset that a network of
-- [p_from, p_to) in p_area can show: every asset referred to, and every
-- asset run by an organisation referred to (a group's quintile is the
-- most common of its assets'). An asset's quintile is that of the
-- smallest area with one that it stands in (0 for assets delivered
-- remotely). Everywhere (p_area NULL) that is every asset with a place,
-- read without going through the referrals, so this part needs no scan
-- of them, and tests the guard itself. Assets and areas are open data.
CREATE FUNCTION sparc_referral_network_places(p_area text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (organisation uuid, asset_id uuid, quintile integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
SET jit = off AS $$
    WITH referred AS MATERIALIZED (
        SELECT DISTINCT r.asset_id, r.target_org FROM sparc_network_referrals(p_area, p_from, p_to) r
        WHERE p_area IS NOT NULL
    ), shown AS (
        SELECT a.id, a.owner_organisation, a.location FROM assets a
        WHERE (p_area IS NULL AND a.location IS NOT NULL)
           OR a.id IN (SELECT f.asset_id FROM referred f)
           OR a.owner_organisation IN (SELECT f.target_org FROM referred f)
    ), q AS MATERIALIZED (
        SELECT * FROM sparc_area_quintiles() WHERE quintile IS NOT NULL
    ), contained AS MATERIALIZED (
        -- Set-based, as 0067: each asset's areas of a kind with a
        -- deprivation measure through the areas' spatial index first
        -- (materialised, so the planner cannot pair every asset with
        -- every quintile before it), then one hash join with q.
        SELECT s.id, ar.code, ST_Area(ar.geom) AS size
        FROM shown s
        JOIN areas ar ON ST_Intersects(ar.geom, s.location::geometry)
        WHERE ar.kind IN (SELECT k.kind FROM area_kinds k WHERE k.deprivation_attribute IS NOT NULL)
    ), hit AS (
        SELECT c.id, q.quintile, c.size, c.code FROM contained c JOIN q ON q.code = c.code
    )
    SELECT DISTINCT ON (s.id) s.owner_organisation, s.id, coalesce(h.quintile, 0)
    FROM shown s LEFT JOIN hit h ON h.id = s.id
    WHERE sparc_require_analytics()
    ORDER BY s.id, h.size, h.code
$$;
REVOKE ALL ON FUNCTION sparc_referral_network_places(text, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sparc_referral_network_places(text, timestamptz, timestamptz) TO sparc_app;
