-- Row-level security binds the application role. The SECURITY DEFINER
-- functions (statistics, referral demand, retention) run as the schema
-- owner, which FORCE ROW LEVEL SECURITY binds too when it is not a
-- superuser (a managed database): without this they would see no rows.
-- Only sparc_app is bound by organisation; it cannot become another role.
ALTER POLICY people_own ON people
    USING (current_user <> 'sparc_app' OR (organisation_id = sparc_org() AND sparc_role() IN ('link_worker', 'admin')))
    WITH CHECK (current_user <> 'sparc_app' OR (organisation_id = sparc_org() AND sparc_role() IN ('link_worker', 'admin')));
ALTER POLICY referrals_parties ON referrals
    USING (current_user <> 'sparc_app' OR referring_org = sparc_org() OR provider_org = sparc_org())
    WITH CHECK (current_user <> 'sparc_app' OR referring_org = sparc_org() OR provider_org = sparc_org());
ALTER POLICY referral_events_parties ON referral_events
    USING (current_user <> 'sparc_app' OR referring_org = sparc_org() OR provider_org = sparc_org())
    WITH CHECK (current_user <> 'sparc_app' OR referring_org = sparc_org() OR provider_org = sparc_org());
ALTER POLICY referral_outbox_parties ON referral_outbox
    USING (current_user <> 'sparc_app' OR referring_org = sparc_org() OR provider_org = sparc_org())
    WITH CHECK (current_user <> 'sparc_app' OR referring_org = sparc_org() OR provider_org = sparc_org());
ALTER POLICY assets_insert ON assets
    WITH CHECK (current_user <> 'sparc_app' OR sparc_role() = 'admin' OR (sparc_role() = 'group_editor' AND owner_organisation = sparc_org()));
ALTER POLICY assets_update ON assets
    USING (current_user <> 'sparc_app' OR sparc_role() = 'admin' OR (sparc_role() = 'group_editor' AND owner_organisation = sparc_org()))
    WITH CHECK (current_user <> 'sparc_app' OR sparc_role() = 'admin' OR (sparc_role() = 'group_editor' AND owner_organisation = sparc_org()));
ALTER POLICY assets_delete ON assets
    USING (current_user <> 'sparc_app' OR sparc_role() = 'admin' OR (sparc_role() = 'group_editor' AND owner_organisation = sparc_org()));
