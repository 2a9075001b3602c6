-- The second wall behind the access policy (internal/auth, policy.go
-- "Relational analytics"), one rule for every analytics function that
-- runs as the owner over every organisation's referrals: the referral
-- network's three parts (0069) checked nothing themselves, and outcome
-- evidence (0068) admitted the network admin, whom the policy leaves out
-- (it reads no referrals, docs/security.md). A caller without an
-- analyst's or admin's identity in its transaction (sparc.role, set by
-- internal/db with every request's identity) now gets
-- insufficient_privilege, not figures, even if a future route forgot
-- the policy.

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

-- The network's parts, as 0069 with the guard added. A condition with no
-- column is a one-time filter: the plan tests it once, before reading a
-- row, and the plans are otherwise those of 0069 (checked with EXPLAIN;
-- docs/benchmarks.md has the figures after the change).

CREATE OR REPLACE FUNCTION sparc_referral_network(p_area text, p_from timestamptz, p_to timestamptz, p_by_asset boolean)
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
    WHERE sparc_require_analytics()
    GROUP BY 1, 2, 3, 4, 5, 6
$$;

CREATE OR REPLACE FUNCTION sparc_referral_network_homes(p_area text, p_from timestamptz, p_to timestamptz)
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
    WHERE sparc_require_analytics()
    GROUP BY 1, 2, 3
$$;

CREATE OR REPLACE FUNCTION sparc_referral_network_places(p_area text, p_from timestamptz, p_to timestamptz)
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

-- Outcome evidence, as 0068 with its check replaced by the guard.
CREATE OR REPLACE FUNCTION sparc_outcome_sums(p_area text, p_from timestamptz, p_to timestamptz,
                                   p_metric integer[], p_mid integer)
RETURNS TABLE (dim text, key text, label text, public boolean, n bigint,
               swem_n bigint, swem_sum bigint, swem_sumsq bigint, swem_improved bigint,
               ons4_n bigint, ons4_sum bigint[], ons4_sumsq bigint[])
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
SET jit = off AS $$
BEGIN
    PERFORM sparc_require_analytics();
    RETURN QUERY
    WITH RECURSIVE inside (code) AS (
        SELECT a.code FROM areas a WHERE p_area IS NOT NULL AND (a.code = p_area OR a.council_code = p_area)
        UNION
        SELECT a.code FROM areas a JOIN inside i ON a.parent_code = i.code
    ), r AS MATERIALIZED (
        SELECT coalesce(rf.provider_org, ast.owner_organisation) AS provider, ast.categories, rf.home_area,
               CASE WHEN array_length(rf.baseline_swemwbs, 1) = 7 AND array_length(rf.followup_swemwbs, 1) = 7
                         AND rf.baseline_at < p_to AND rf.followup_at < p_to
                    THEN p_metric[rf.followup_swemwbs[1] + rf.followup_swemwbs[2] + rf.followup_swemwbs[3]
                                  + rf.followup_swemwbs[4] + rf.followup_swemwbs[5] + rf.followup_swemwbs[6]
                                  + rf.followup_swemwbs[7] - 6]
                       - p_metric[rf.baseline_swemwbs[1] + rf.baseline_swemwbs[2] + rf.baseline_swemwbs[3]
                                  + rf.baseline_swemwbs[4] + rf.baseline_swemwbs[5] + rf.baseline_swemwbs[6]
                                  + rf.baseline_swemwbs[7] - 6]
               END AS swem,
               (array_length(rf.baseline_ons4, 1) = 4 AND array_length(rf.followup_ons4, 1) = 4
                AND rf.baseline_at < p_to AND rf.followup_at < p_to) AS has_ons4,
               rf.followup_ons4[1] - rf.baseline_ons4[1] AS o1, rf.followup_ons4[2] - rf.baseline_ons4[2] AS o2,
               rf.followup_ons4[3] - rf.baseline_ons4[3] AS o3, rf.followup_ons4[4] - rf.baseline_ons4[4] AS o4
        FROM referrals rf
        JOIN assets ast ON ast.id = rf.asset_id
        WHERE rf.status = 'completed' AND rf.closed_at >= p_from AND rf.closed_at < p_to
          AND (p_area IS NULL OR rf.home_area IN (SELECT i.code FROM inside i))
    ), pairs AS MATERIALIZED (
        SELECT r.provider, r.categories, r.home_area, r.swem,
               CASE WHEN r.has_ons4 THEN 1 END AS ons4,
               CASE WHEN r.has_ons4 THEN r.o1 END AS o1, CASE WHEN r.has_ons4 THEN r.o2 END AS o2,
               CASE WHEN r.has_ons4 THEN r.o3 END AS o3, CASE WHEN r.has_ons4 THEN r.o4 END AS o4
        FROM r WHERE r.swem IS NOT NULL OR r.has_ons4
    ), quint AS (
        -- The one quintile rule of the analytics (0067).
        SELECT q.code, q.quintile FROM sparc_area_quintiles() q
        WHERE q.code IN (SELECT DISTINCT p.home_area FROM pairs p)
    ), grouped AS (
        SELECT 'all'::text AS dim, 'all'::text AS key, p.swem, p.ons4, p.o1, p.o2, p.o3, p.o4 FROM pairs p
        UNION ALL
        SELECT 'category', c.code, p.swem, p.ons4, p.o1, p.o2, p.o3, p.o4
        FROM pairs p CROSS JOIN LATERAL unnest(p.categories) AS c (code)
        UNION ALL
        SELECT 'provider', p.provider::text, p.swem, p.ons4, p.o1, p.o2, p.o3, p.o4 FROM pairs p WHERE p.provider IS NOT NULL
        UNION ALL
        SELECT 'quintile', q.quintile::text, p.swem, p.ons4, p.o1, p.o2, p.o3, p.o4
        FROM pairs p JOIN quint q ON q.code = p.home_area WHERE q.quintile IS NOT NULL
    ), agg AS (
        SELECT g.dim, g.key, count(*) AS cnt,
               count(g.swem) AS sn, coalesce(sum(g.swem), 0) AS ss, coalesce(sum(g.swem * g.swem), 0) AS ssq,
               count(*) FILTER (WHERE g.swem >= p_mid) AS simp,
               count(g.ons4) AS onn,
               ARRAY[coalesce(sum(g.o1), 0), coalesce(sum(g.o2), 0), coalesce(sum(g.o3), 0), coalesce(sum(g.o4), 0)] AS os,
               ARRAY[coalesce(sum(g.o1 * g.o1), 0), coalesce(sum(g.o2 * g.o2), 0),
                     coalesce(sum(g.o3 * g.o3), 0), coalesce(sum(g.o4 * g.o4), 0)] AS osq
        FROM grouped g GROUP BY g.dim, g.key
    )
    -- Names and whether a provider is public, once per group.
    SELECT a.dim, a.key, coalesce(o.name, ''),
           coalesce(sparc_organisation_named(o.id), false),
           a.cnt, a.sn, a.ss, a.ssq, a.simp, a.onn, a.os, a.osq
    FROM agg a
    LEFT JOIN organisations o ON a.dim = 'provider' AND o.id::text = a.key
    ORDER BY a.dim, a.key;
END $$;
