-- Row-level security binds the side of a referral, not only the
-- organisation: it states the visibility rule of internal/referrals
-- (visibility.go) for the database, so a query that forgets a filter
-- still shows a caller only what the service would.
--
--   referring side: referring_org = sparc_org(), role link_worker or admin;
--   providing side: provider_org = sparc_org(), role group_editor or admin,
--                   and the referral was sent (not a draft never requested).
--
-- Anyone else (a group editor of the referring organisation, a link worker
-- of the provider, an area analyst, no identity) sees no row. As in 0032,
-- roles other than sparc_app (the owner running the SECURITY DEFINER
-- statistics, demand and retention functions) are not bound.
--
-- Each side is an equality on an indexed organisation column
-- (referrals_referring, referrals_provider, the outbox's (txid, seq) scan)
-- with constant role tests, so the planner still uses the indexes.

DROP POLICY referrals_parties ON referrals;
CREATE POLICY referrals_sides ON referrals
    USING (current_user <> 'sparc_app'
        OR (referring_org = sparc_org() AND sparc_role() IN ('link_worker', 'admin'))
        OR (provider_org = sparc_org() AND sparc_role() IN ('group_editor', 'admin') AND requested_at IS NOT NULL))
    WITH CHECK (current_user <> 'sparc_app'
        OR (referring_org = sparc_org() AND sparc_role() IN ('link_worker', 'admin'))
        OR (provider_org = sparc_org() AND sparc_role() IN ('group_editor', 'admin') AND requested_at IS NOT NULL));

-- Timeline entries and outbox rows carry their statuses, not the
-- referral's sending time: the provider's rows are those from the sending
-- on, i.e. every change but a draft's before it is requested (its creation
-- as a draft, and cancelling or withdrawing it unsent). This is row-local,
-- so the outbox scan of watchers and webhooks stays one index range.
DROP POLICY referral_events_parties ON referral_events;
CREATE POLICY referral_events_sides ON referral_events
    USING (current_user <> 'sparc_app'
        OR (referring_org = sparc_org() AND sparc_role() IN ('link_worker', 'admin'))
        OR (provider_org = sparc_org() AND sparc_role() IN ('group_editor', 'admin')
            AND NOT (to_status = 'draft' OR (from_status = 'draft' AND to_status <> 'requested'))))
    WITH CHECK (current_user <> 'sparc_app'
        OR (referring_org = sparc_org() AND sparc_role() IN ('link_worker', 'admin'))
        OR (provider_org = sparc_org() AND sparc_role() IN ('group_editor', 'admin')
            AND NOT (to_status = 'draft' OR (from_status = 'draft' AND to_status <> 'requested'))));

DROP POLICY referral_outbox_parties ON referral_outbox;
CREATE POLICY referral_outbox_sides ON referral_outbox
    USING (current_user <> 'sparc_app'
        OR (referring_org = sparc_org() AND sparc_role() IN ('link_worker', 'admin'))
        OR (provider_org = sparc_org() AND sparc_role() IN ('group_editor', 'admin')
            AND NOT (to_status = 'draft' OR (from_status = 'draft' AND to_status <> 'requested'))))
    WITH CHECK (current_user <> 'sparc_app'
        OR (referring_org = sparc_org() AND sparc_role() IN ('link_worker', 'admin'))
        OR (provider_org = sparc_org() AND sparc_role() IN ('group_editor', 'admin')
            AND NOT (to_status = 'draft' OR (from_status = 'draft' AND to_status <> 'requested'))));

-- A webhook receives what its creator would watch: the outbox is read
-- acting as its organisation AND role. The role is taken from the
-- creating transaction's identity (the default), so creating a webhook
-- needs no new parameter; a transaction without a role cannot create one.
-- Webhooks made before this migration keep what they received (both sides
-- of their organisation): they act as admin.
ALTER TABLE webhooks ADD COLUMN role text NOT NULL DEFAULT 'admin'
    CHECK (role IN ('link_worker', 'group_editor', 'admin'));
ALTER TABLE webhooks ALTER COLUMN role SET DEFAULT sparc_role();
