-- Outcomes as evidence (issue 19, docs/analytics.md "Outcomes as
-- evidence"): for analysts and admins, the changes in SWEMWBS and ONS4 of
-- completed referrals of every organisation, grouped (overall, by the
-- asset's category, by provider, by the deprivation quintile of the
-- person's home area). The caller may not read those referrals row by
-- row (row-level security, 0030), so this runs as the owner and returns
-- sums only, one row per group; the evidence service computes means,
-- intervals and shares from them and releases them under the disclosure
-- rule (internal/evidence, internal/disclosure) before anything leaves.

-- The referrals counted: status completed (a completed referral can only
-- move on to entered_in_error, a correction that rightly drops it),
-- closed in [p_from, p_to), and, per measure, a baseline and a follow-up
-- of that measure recorded before p_to (a follow-up recorded later does
-- not change a window of months that have ended: disclosure rule 4).
-- p_area (NULL: everywhere) keeps the referrals whose person's home area,
-- as it was when the referral was made (0063), is the area, lies inside
-- it (parent_code, any depth) or belongs to it as a council.
--
-- SWEMWBS totals (7..35) are converted to metric scores with p_metric
-- (index total - 6), given in hundredths (the table has two decimals),
-- so changes, their sums and sums of squares are integers, exact, and
-- "improved by at least p_mid" is decided exactly: 21.54 - 18.59 = 2.95
-- is not 3.
--
-- A home area's quintile is the network's (sparc_area_quintiles, 0067):
-- a decile d gives quintile ceil(d / 2); a rank (1 most deprived) or a
-- score (higher more deprived) is cut into five equal-count groups over
-- every loaded area of that kind (ties broken by code, so the same data
-- always gives the same quintiles).
--
-- Per group: n (referrals with a baseline and follow-up of either
-- measure), then per measure the count, the sum and the sum of squares of
-- the changes (follow-up minus baseline; SWEMWBS in hundredths of a
-- metric point), and for SWEMWBS how many improved by p_mid or more. A
-- provider group also says its name and whether it is public (lists an
-- active asset, or opted in).
CREATE FUNCTION sparc_outcome_sums(p_area text, p_from timestamptz, p_to timestamptz,
                                   p_metric integer[], p_mid integer)
RETURNS TABLE (dim text, key text, label text, public boolean, n bigint,
               swem_n bigint, swem_sum bigint, swem_sumsq bigint, swem_improved bigint,
               ons4_n bigint, ons4_sum bigint[], ons4_sumsq bigint[])
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
SET jit = off AS $$
BEGIN
    -- The second wall behind the access policy (internal/auth): only the
    -- roles that may ask for analytics get figures from every
    -- organisation's referrals.
    IF coalesce(sparc_role(), '') NOT IN ('admin', 'area_analyst', 'network_admin') THEN
        RAISE EXCEPTION 'outcome evidence is for admins and area analysts' USING ERRCODE = 'insufficient_privilege';
    END IF;
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
REVOKE ALL ON FUNCTION sparc_outcome_sums(text, timestamptz, timestamptz, integer[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sparc_outcome_sums(text, timestamptz, timestamptz, integer[], integer) TO sparc_app;
