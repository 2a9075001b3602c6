-- Outcome evidence (0068) checked the caller's role itself, but also
-- admitted the network admin, whom the access policy leaves out (it reads
-- no referrals, docs/security.md). It now uses the rule of the network's
-- parts, sparc_require_analytics (0069): admins and area analysts only.

-- As 0068, with its check replaced by the guard.
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
