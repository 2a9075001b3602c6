-- The referral network (issue 19, docs/analytics.md "Referral network",
-- docs/security.md "Relational analytics").

-- Link-worker services and practices appear in analytics as anonymous
-- codes unless they choose to be named: this is that choice. Groups that
-- list assets are named anyway (their listings are open data).
ALTER TABLE organisations ADD COLUMN network_named boolean NOT NULL DEFAULT false;

-- Whether an organisation appears by name in the analytics (network
-- nodes, outcome providers, the neighbourhood report): it lists an
-- active asset in the directory (open data) or opted in. The one rule
-- for every output, so an organisation is never named in one and a code
-- in another.
CREATE FUNCTION sparc_organisation_named(p_org uuid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT coalesce((SELECT o.network_named FROM organisations o WHERE o.id = p_org), false)
        OR EXISTS (SELECT 1 FROM assets a WHERE a.owner_organisation = p_org AND a.status = 'active')
$$;

-- Deprivation quintile of every area whose kind has a deprivation measure,
-- 1 most deprived to 5 least: a decile d gives ceil(d/2); ranks (1 most
-- deprived) and scores (higher more deprived) are cut into five
-- equal-count groups over all loaded areas of the kind (not over the
-- areas of one answer, so a quintile does not move with the question).
-- Areas and their measures are open data: the caller's rights.
CREATE FUNCTION sparc_area_quintiles()
RETURNS TABLE (code text, quintile integer)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    WITH m AS (
        SELECT a.code, a.kind, k.deprivation_scale AS scale, (a.attributes ->> k.deprivation_attribute)::double precision AS v
        FROM areas a JOIN area_kinds k ON k.kind = a.kind
        WHERE k.deprivation_attribute IS NOT NULL
          AND jsonb_typeof(a.attributes -> k.deprivation_attribute) = 'number'
    )
    SELECT m.code, CASE m.scale
        WHEN 'decile' THEN CASE WHEN m.v BETWEEN 1 AND 10 THEN ceil(m.v / 2)::integer END
        ELSE ntile(5) OVER (PARTITION BY m.kind ORDER BY CASE WHEN m.scale = 'score' THEN -m.v ELSE m.v END, m.code)::integer
    END
    FROM m
$$;

-- The referrals of [p_from, p_to) as the network reads them, as finely as
-- any of its figures needs: per referring organisation, asset (and the
-- organisation running it: the referral's provider, else the asset's
-- owner), calendar month (UTC) of creation, whether declined and why, and
-- the deprivation quintile of the person's home area (0: unknown), with
-- the asset's quintile (of the smallest area with a measure it stands
-- in). Counts: referrals, ever accepted, attended at least once,
-- completed; statuses and times as they stood at p_to, drafts and entries
-- in error left out, as sparc_referral_stats_monthly (0043) and
-- sparc_referrals_by_home_area_monthly (0064), so a window of months that
-- have ended keeps its answer. p_area (NULL: everywhere) keeps referrals
-- of people whose home area is the area or lies in it (its descendants,
-- or the council's areas), and referrals to assets located in its
-- boundary. Runs as the owner (the caller may not read other
-- organisations' referrals) and returns counts only, never a person: the
-- network service releases them under the disclosure rule.
CREATE FUNCTION sparc_referral_network(p_area text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (referring_org uuid, asset_id uuid, target_org uuid, month timestamptz, declined boolean, reason text,
               home_quintile integer, asset_quintile integer, n bigint, accepted bigint, attended bigint, completed bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
-- As 0064: the plan's cost passes jit_above_cost for a year of referrals,
-- and compiling it costs more than running it. A national year sorts
-- about 120 MB of rows to group them: in memory, not on disk.
SET jit = off SET work_mem = '128MB' AS $$
    WITH RECURSIVE inside (code, depth) AS (
        SELECT a.code, 0 FROM areas a WHERE a.code = p_area
        UNION
        SELECT a.code, 1 FROM areas a WHERE p_area IS NOT NULL AND a.council_code = p_area
        UNION
        SELECT a.code, i.depth + 1 FROM inside i JOIN areas a ON a.parent_code = i.code
        WHERE a.parent_code <> '' AND i.depth < 8
    ), located AS (
        -- The assets inside the area, found once through the assets'
        -- spatial index: testing each referral's asset against a
        -- council's boundary would repeat the test per referral.
        SELECT a.id FROM assets a JOIN areas ar ON ar.code = p_area
        WHERE ST_Intersects(a.location::geometry, ar.geom)
    ), q AS MATERIALIZED (
        SELECT * FROM sparc_area_quintiles()
    ), r AS (
        SELECT rf.referring_org, rf.asset_id, coalesce(rf.provider_org, a.owner_organisation) AS target_org,
               date_trunc('month', rf.created_at, 'UTC') AS month, rf.home_area,
               coalesce(st.to_status, rf.status) AS status_then,
               coalesce(st.reason, rf.status_reason) AS reason_then,
               rf.accepted_at < p_to AS accepted,
               rf.first_attended_at < p_to AS attended
        FROM referrals rf
        JOIN assets a ON a.id = rf.asset_id
        -- As 0064: the timeline only for referrals changed since p_to.
        LEFT JOIN LATERAL (
            SELECT e.to_status, e.reason FROM referral_events e
            WHERE rf.updated_at >= p_to - interval '1 minute'
              AND e.referral_id = rf.id AND (e.time < p_to OR e.from_status = '')
            ORDER BY e.id DESC LIMIT 1) st ON true
        WHERE rf.created_at >= p_from AND rf.created_at < p_to
          AND (p_area IS NULL
               OR rf.home_area IN (SELECT i.code FROM inside i)
               OR rf.asset_id IN (SELECT l.id FROM located l))
    ), kept AS (
        SELECT * FROM r
        WHERE r.status_then NOT IN ('draft', 'entered_in_error') AND r.target_org IS NOT NULL
    ), asset_q AS MATERIALIZED (
        -- Each asset's quintile: of the smallest area with one that it
        -- stands in. Set-based, once per asset: the assets' areas through
        -- the areas' spatial index, then one hash join with q (a
        -- subquery per asset would scan q, which has no index, for every
        -- asset: minutes for a national year).
        SELECT DISTINCT ON (x.asset_id) x.asset_id, q.quintile
        FROM (SELECT DISTINCT k.asset_id FROM kept k) x
        JOIN assets a ON a.id = x.asset_id
        JOIN areas ar ON ST_Intersects(ar.geom, a.location::geometry)
        JOIN q ON q.code = ar.code AND q.quintile IS NOT NULL
        ORDER BY x.asset_id, ST_Area(ar.geom), ar.code
    )
    SELECT k.referring_org, k.asset_id, k.target_org, k.month, k.status_then = 'rejected',
           CASE WHEN k.status_then = 'rejected' THEN k.reason_then ELSE '' END,
           coalesce(hq.quintile, 0), coalesce(aq.quintile, 0),
           count(*), count(*) FILTER (WHERE k.accepted), count(*) FILTER (WHERE k.attended),
           count(*) FILTER (WHERE k.status_then = 'completed')
    FROM kept k
    LEFT JOIN asset_q aq ON aq.asset_id = k.asset_id
    LEFT JOIN q hq ON hq.code = k.home_area
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
$$;
REVOKE ALL ON FUNCTION sparc_referral_network(text, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sparc_referral_network(text, timestamptz, timestamptz) TO sparc_app;
