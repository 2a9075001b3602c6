-- Outcomes as evidence (issue 19, docs/analytics.md "Outcomes as
-- evidence"): for analysts and admins, the changes in SWEMWBS and ONS4 of
-- completed referrals of every organisation, grouped (overall, by the
-- asset's category, by provider, by the deprivation quintile of the
-- person's home area). The caller may not read those referrals row by
-- row (row-level security, 0030), so this runs as the owner and returns
-- sums only, one row per group; the evidence service computes means,
-- intervals and shares from them and releases them under the disclosure
-- rule (internal/evidence, internal/disclosure) before anything leaves.

-- An organisation's opt-in to appear by name in the analytics. The
-- column is the netcore migration's (0067), which runs first when both
-- are present; IF NOT EXISTS lets this one stand on its own.
ALTER TABLE organisations ADD COLUMN IF NOT EXISTS network_named boolean NOT NULL DEFAULT false;

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
-- (index total - 6), rounded to the table's two decimals as numeric so
-- that "improved by at least p_mid" is decided exactly, not by float
-- rounding of 12.40 - 9.51.
--
-- A home area's quintile comes from its kind's deprivation measure
-- (area_kinds, 0010): a decile d gives quintile ceil(d / 2); a rank (1
-- most deprived) or a score (higher more deprived) is cut into five
-- equal-count groups over every loaded area of that kind.
--
-- Per group: n (referrals with a baseline and follow-up of either
-- measure), then per measure the count, the sum and the sum of squares of
-- the changes (follow-up minus baseline), and for SWEMWBS how many
-- improved by p_mid or more. A provider group also says its name and
-- whether it is public (lists an active asset, or opted in).
CREATE FUNCTION sparc_outcome_sums(p_area text, p_from timestamptz, p_to timestamptz,
                                   p_metric double precision[], p_mid numeric)
RETURNS TABLE (dim text, key text, label text, public boolean, n bigint,
               swem_n bigint, swem_sum double precision, swem_sumsq double precision, swem_improved bigint,
               ons4_n bigint, ons4_sum double precision[], ons4_sumsq double precision[])
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
                    THEN round(p_metric[(SELECT sum(x) FROM unnest(rf.followup_swemwbs) x) - 6]::numeric, 2)
                       - round(p_metric[(SELECT sum(x) FROM unnest(rf.baseline_swemwbs) x) - 6]::numeric, 2)
               END AS swem,
               CASE WHEN array_length(rf.baseline_ons4, 1) = 4 AND array_length(rf.followup_ons4, 1) = 4
                         AND rf.baseline_at < p_to AND rf.followup_at < p_to
                    THEN ARRAY[rf.followup_ons4[1] - rf.baseline_ons4[1], rf.followup_ons4[2] - rf.baseline_ons4[2],
                               rf.followup_ons4[3] - rf.baseline_ons4[3], rf.followup_ons4[4] - rf.baseline_ons4[4]]::double precision[]
               END AS ons4
        FROM referrals rf
        JOIN assets ast ON ast.id = rf.asset_id
        WHERE rf.status = 'completed' AND rf.closed_at >= p_from AND rf.closed_at < p_to
          AND (p_area IS NULL OR rf.home_area IN (SELECT i.code FROM inside i))
    ), pairs AS (
        SELECT * FROM r WHERE r.swem IS NOT NULL OR r.ons4 IS NOT NULL
    ), ranked AS (
        SELECT a.code, k.deprivation_scale AS scale, (a.attributes ->> k.deprivation_attribute)::double precision AS v,
               ntile(5) OVER (PARTITION BY a.kind ORDER BY CASE k.deprivation_scale
                   WHEN 'score' THEN -(a.attributes ->> k.deprivation_attribute)::double precision
                   ELSE (a.attributes ->> k.deprivation_attribute)::double precision END) AS tile
        FROM areas a JOIN area_kinds k ON k.kind = a.kind
        WHERE a.kind IN (SELECT DISTINCT h.kind FROM areas h WHERE h.code IN (SELECT p.home_area FROM pairs p))
          AND jsonb_typeof(a.attributes -> k.deprivation_attribute) = 'number'
    ), quint AS (
        SELECT q.code, CASE WHEN q.scale = 'decile' THEN
                   CASE WHEN q.v BETWEEN 1 AND 10 AND q.v = trunc(q.v) THEN ceil(q.v / 2)::integer END
               ELSE q.tile END AS quintile
        FROM ranked q
    ), grouped AS (
        SELECT 'all'::text AS dim, 'all'::text AS key, p.* FROM pairs p
        UNION ALL
        SELECT 'category', c.code, p.* FROM pairs p CROSS JOIN LATERAL unnest(p.categories) AS c (code)
        UNION ALL
        SELECT 'provider', p.provider::text, p.* FROM pairs p WHERE p.provider IS NOT NULL
        UNION ALL
        SELECT 'quintile', q.quintile::text, p.* FROM pairs p JOIN quint q ON q.code = p.home_area
        WHERE q.quintile IS NOT NULL
    )
    SELECT g.dim, g.key,
           CASE WHEN g.dim = 'provider' THEN max(o.name) ELSE '' END,
           CASE WHEN g.dim = 'provider' THEN bool_or(coalesce(o.network_named, false) OR EXISTS (
               SELECT 1 FROM assets x WHERE x.owner_organisation = o.id AND x.status = 'active')) ELSE false END,
           count(*),
           count(g.swem), coalesce(sum(g.swem), 0)::double precision, coalesce(sum(g.swem * g.swem), 0)::double precision,
           count(*) FILTER (WHERE g.swem >= p_mid),
           count(g.ons4),
           ARRAY[coalesce(sum(g.ons4[1]), 0), coalesce(sum(g.ons4[2]), 0), coalesce(sum(g.ons4[3]), 0), coalesce(sum(g.ons4[4]), 0)],
           ARRAY[coalesce(sum(g.ons4[1] ^ 2), 0), coalesce(sum(g.ons4[2] ^ 2), 0),
                 coalesce(sum(g.ons4[3] ^ 2), 0), coalesce(sum(g.ons4[4] ^ 2), 0)]
    FROM grouped g
    LEFT JOIN organisations o ON g.dim = 'provider' AND o.id::text = g.key
    GROUP BY g.dim, g.key
    ORDER BY g.dim, g.key;
END $$;
REVOKE ALL ON FUNCTION sparc_outcome_sums(text, timestamptz, timestamptz, double precision[], numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sparc_outcome_sums(text, timestamptz, timestamptz, double precision[], numeric) TO sparc_app;
