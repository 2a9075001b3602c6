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

-- The network. Its three parts (0069) inline one reading of the
-- referrals, sparc_network_referrals, so the guard goes there, in the
-- reading's own condition: a condition with no column is a one-time
-- filter, tested once before a row is read, and there the plans stay
-- 0069's with that test on top (checked with EXPLAIN on the national
-- benchmark history). Put in the outer query of sparc_referral_network
-- instead, it let the planner flatten the reading, and the status as it
-- stood at the window's end (a subquery for referrals changed since)
-- would have been computed once per use instead of once per referral.
-- The ties and the homes are guarded through it; the places, which read
-- it only for an area, also test the guard themselves.

CREATE OR REPLACE FUNCTION sparc_network_referrals(p_area text, p_from timestamptz, p_to timestamptz)
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
    WHERE public.sparc_require_analytics() AND r.status_then NOT IN ('draft', 'entered_in_error') AND r.target_org IS NOT NULL
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
