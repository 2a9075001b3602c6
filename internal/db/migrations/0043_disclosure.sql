-- Disclosure control (docs/security.md, "Disclosure control"): referral
-- figures leaving the referring organisation are released as cells per
-- calendar month (UTC) of creation, and every other figure is built from
-- those cells in Go (internal/disclosure). Statuses, acceptances,
-- attendances and outcomes count as they stood at the end of the window
-- asked, so the answer for a window of months that have ended never
-- changes afterwards: polling it cannot time a status change.

-- A referral's status as it stood just before p_to is its last timeline
-- entry before then (the creation entry when even that came later, as
-- created_at is the transaction's start and the entry's time the clock's):
-- the LATERAL subqueries below, one index probe per referral.

-- Per month of creation and status (as at p_to): counts, and per month the
-- medians and mean changes, with how many each is over, of what had
-- happened by p_to.
CREATE FUNCTION sparc_referral_stats_monthly(p_org uuid, p_area text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (month timestamptz, status text, n bigint, median_accept_days double precision, accept_n bigint,
               median_attend_days double precision, attend_n bigint, ons4_change double precision[], ons4_n bigint,
               swemwbs_change double precision, swemwbs_n bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH r AS (
        SELECT date_trunc('month', rf.created_at, 'UTC') AS month,
               coalesce(st.to_status, rf.status) AS status_then,
               rf.requested_at,
               CASE WHEN rf.accepted_at < p_to THEN rf.accepted_at END AS accepted_at,
               CASE WHEN rf.first_attended_at < p_to THEN rf.first_attended_at END AS first_attended_at,
               CASE WHEN rf.followup_at < p_to AND rf.followup_ons4 IS NOT NULL THEN rf.baseline_ons4 END AS baseline_ons4,
               CASE WHEN rf.followup_at < p_to THEN rf.followup_ons4 END AS followup_ons4,
               CASE WHEN rf.followup_at < p_to AND rf.followup_swemwbs IS NOT NULL THEN rf.baseline_swemwbs END AS baseline_swemwbs,
               CASE WHEN rf.followup_at < p_to THEN rf.followup_swemwbs END AS followup_swemwbs
        FROM referrals rf
        LEFT JOIN LATERAL (
            SELECT e.to_status FROM referral_events e
            WHERE e.referral_id = rf.id AND (e.time < p_to OR e.from_status = '')
            ORDER BY e.id DESC LIMIT 1) st ON true
        WHERE (p_org IS NULL OR rf.referring_org = p_org)
          AND (p_area IS NULL OR EXISTS (
                SELECT 1 FROM assets a JOIN areas ar ON ar.code = p_area
                WHERE a.id = rf.asset_id AND ST_Intersects(a.location::geometry, ar.geom)))
          AND rf.created_at >= p_from AND rf.created_at < p_to
    ), kept AS (
        SELECT * FROM r WHERE r.status_then <> 'entered_in_error'
    ), by_status AS (
        SELECT k.month, k.status_then AS status, count(*) AS n FROM kept k GROUP BY k.month, k.status_then
    ), overall AS MATERIALIZED ( -- once: the join below may loop over it
        SELECT k.month,
          percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM k.accepted_at - k.requested_at) / 86400)
              FILTER (WHERE k.accepted_at IS NOT NULL AND k.requested_at IS NOT NULL) AS acc,
          count(*) FILTER (WHERE k.accepted_at IS NOT NULL AND k.requested_at IS NOT NULL) AS acc_n,
          percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM k.first_attended_at - k.requested_at) / 86400)
              FILTER (WHERE k.first_attended_at IS NOT NULL AND k.requested_at IS NOT NULL) AS att,
          count(*) FILTER (WHERE k.first_attended_at IS NOT NULL AND k.requested_at IS NOT NULL) AS att_n,
          ARRAY[avg(k.followup_ons4[1] - k.baseline_ons4[1]), avg(k.followup_ons4[2] - k.baseline_ons4[2]),
                avg(k.followup_ons4[3] - k.baseline_ons4[3]), avg(k.followup_ons4[4] - k.baseline_ons4[4])]::double precision[] AS ons4,
          count(*) FILTER (WHERE k.followup_ons4 IS NOT NULL AND k.baseline_ons4 IS NOT NULL) AS ons4_n,
          avg((SELECT sum(x) FROM unnest(k.followup_swemwbs) x) - (SELECT sum(x) FROM unnest(k.baseline_swemwbs) x))::double precision AS swem,
          count(*) FILTER (WHERE k.followup_swemwbs IS NOT NULL AND k.baseline_swemwbs IS NOT NULL) AS swem_n
        FROM kept k GROUP BY k.month
    )
    SELECT o.month, b.status, b.n, o.acc, o.acc_n, o.att, o.att_n, o.ons4, o.ons4_n, o.swem, o.swem_n
    FROM overall o JOIN by_status b ON b.month = o.month
    ORDER BY o.month, b.status
$$;
REVOKE ALL ON FUNCTION sparc_referral_stats_monthly(uuid, text, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sparc_referral_stats_monthly(uuid, text, timestamptz, timestamptz) TO sparc_app;

-- Referral demand for coverage maps, per area and month of creation, not
-- counting drafts and entries in error as they stood at p_to. Replaces
-- sparc_referrals_by_area (one count over the whole window).
CREATE FUNCTION sparc_referrals_by_area_monthly(p_codes text[], p_from timestamptz, p_to timestamptz)
RETURNS TABLE (code text, month timestamptz, n bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT ar.code, date_trunc('month', r.created_at, 'UTC'), count(*)
    FROM referrals r
    JOIN assets a ON a.id = r.asset_id
    JOIN areas ar ON ST_Intersects(ar.geom, a.location::geometry)
    LEFT JOIN LATERAL (
        SELECT e.to_status FROM referral_events e
        WHERE e.referral_id = r.id AND (e.time < p_to OR e.from_status = '')
        ORDER BY e.id DESC LIMIT 1) st ON true
    WHERE ar.code = ANY(p_codes)
      AND r.created_at >= p_from AND r.created_at < p_to
      AND coalesce(st.to_status, r.status) NOT IN ('draft', 'entered_in_error')
    GROUP BY 1, 2
$$;
REVOKE ALL ON FUNCTION sparc_referrals_by_area_monthly(text[], timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sparc_referrals_by_area_monthly(text[], timestamptz, timestamptz) TO sparc_app;

DROP FUNCTION sparc_referrals_by_area(text[], timestamptz, timestamptz);
