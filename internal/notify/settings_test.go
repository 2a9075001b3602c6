package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/testenv"
)

// TestSettingsAPI: the provider's admin reads its settings (recipient,
// delivery state), switches to Dutch (then the emails are Dutch), turns
// email off (changes meanwhile are never sent) and on again (only later
// changes are); bad input is INVALID_ARGUMENT naming the field, a stale
// etag ABORTED, and nothing is half-written.
func TestSettingsAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	ctx := context.Background()
	admin := sparcv1.NewNotificationServiceClient(f.env.ConnWithKey(t, f.env.Key(t, f.refs.Provider, auth.RoleAdmin)))
	name := "organisations/" + f.refs.Provider + "/emailNotificationSettings"

	s, err := admin.GetEmailNotificationSettings(ctx, &sparcv1.GetEmailNotificationSettingsRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if s.GetName() != name || !s.GetEnabled() || s.GetLanguageCode() != "en" || s.GetRecipient() != providerEmail || s.GetEtag() == "" {
		t.Fatalf("settings: %v", s)
	}

	for _, tc := range []struct {
		req   *sparcv1.UpdateEmailNotificationSettingsRequest
		field string
	}{
		{&sparcv1.UpdateEmailNotificationSettingsRequest{Settings: &sparcv1.EmailNotificationSettings{Name: name, LanguageCode: "fr"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"language_code"}}}, "settings.language_code"},
		{&sparcv1.UpdateEmailNotificationSettingsRequest{Settings: &sparcv1.EmailNotificationSettings{Name: name, LanguageCode: "nl"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"recipient_address"}}}, "update_mask"},
		{&sparcv1.UpdateEmailNotificationSettingsRequest{Settings: &sparcv1.EmailNotificationSettings{Name: "organisations/x/emailNotificationSettings"}}, "settings.name"},
		{&sparcv1.UpdateEmailNotificationSettingsRequest{}, "settings"},
	} {
		_, err := admin.UpdateEmailNotificationSettings(ctx, tc.req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%v: %v; want INVALID_ARGUMENT on %s", tc.req, err, tc.field)
		}
	}
	if _, err := admin.UpdateEmailNotificationSettings(ctx, &sparcv1.UpdateEmailNotificationSettingsRequest{
		Settings:   &sparcv1.EmailNotificationSettings{Name: name, LanguageCode: "nl", Etag: "0123456789abcdef"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"language_code"}}}); status.Code(err) != codes.Aborted {
		t.Errorf("stale etag: %v; want ABORTED", err)
	}
	if s, err = admin.GetEmailNotificationSettings(ctx, &sparcv1.GetEmailNotificationSettingsRequest{Name: name}); err != nil || s.GetLanguageCode() != "en" {
		t.Fatalf("after refused updates: %v, %v; want English still", s, err)
	}

	// Dutch, through HTTP as an admin would.
	s, err = admin.UpdateEmailNotificationSettings(ctx, &sparcv1.UpdateEmailNotificationSettingsRequest{
		Settings:   &sparcv1.EmailNotificationSettings{Name: name, LanguageCode: "nl", Etag: s.GetEtag()},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"language_code"}}})
	if err != nil || s.GetLanguageCode() != "nl" {
		t.Fatalf("to Dutch: %v, %v", s, err)
	}
	r1 := f.refer(t, false)
	got := f.waitFor(t, 1)
	if !strings.HasPrefix(got[0].Subject, "Nieuwe verwijzing") || !strings.Contains(got[0].Body, r1) {
		t.Errorf("after choosing Dutch: %q", got[0].Subject)
	}

	// Off: a referral meanwhile is never emailed; on again: the next is.
	if _, err := admin.UpdateEmailNotificationSettings(ctx, &sparcv1.UpdateEmailNotificationSettingsRequest{
		Settings: &sparcv1.EmailNotificationSettings{Name: name}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"enabled"}}}); err != nil {
		t.Fatal(err)
	}
	f.refer(t, false)
	if _, err := admin.UpdateEmailNotificationSettings(ctx, &sparcv1.UpdateEmailNotificationSettingsRequest{
		Settings: &sparcv1.EmailNotificationSettings{Name: name, Enabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"enabled"}}}); err != nil {
		t.Fatal(err)
	}
	r3 := f.refer(t, false)
	got = f.waitFor(t, 2)
	if len(got) != 2 || !strings.Contains(got[1].Body, r3) {
		t.Errorf("after off and on: %d emails, the second %q; want the referral made after turning on (%s)", len(got), got[len(got)-1].Body, r3)
	}
	// The cursor moves just after the server accepted the email.
	testenv.Until(t, 10*time.Second, "2 emails counted", func() bool {
		s, err = admin.GetEmailNotificationSettings(ctx, &sparcv1.GetEmailNotificationSettingsRequest{Name: name})
		return err == nil && s.GetEmailsSent() == 2 && s.GetLastSuccessTime() != nil
	})
}

// TestFailuresVisibleThroughTheAPI: during an outage the organisation's
// admin reads why its emails wait.
func TestFailuresVisibleThroughTheAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	f.mail.stop()
	f.refer(t, false)
	admin := sparcv1.NewNotificationServiceClient(f.env.ConnWithKey(t, f.env.Key(t, f.refs.Provider, auth.RoleAdmin)))
	name := "organisations/" + f.refs.Provider + "/emailNotificationSettings"
	var s *sparcv1.EmailNotificationSettings
	testenv.Until(t, 30*time.Second, "the failure shown", func() bool {
		var err error
		s, err = admin.GetEmailNotificationSettings(context.Background(), &sparcv1.GetEmailNotificationSettingsRequest{Name: name})
		return err == nil && s.GetConsecutiveFailures() > 0
	})
	if !strings.Contains(s.GetLastError(), "connecting to the mail server") || s.GetLastFailureTime() == nil || s.GetNextAttemptTime() == nil {
		t.Errorf("failure state: %v", s)
	}
	if strings.Contains(s.GetLastError(), "s3cret") {
		t.Error("the error shows credentials")
	}
}

// TestNewOrganisationsGetSettings: an organisation created through the
// API (as the application role) has its settings at once, on by default.
func TestNewOrganisationsGetSettings(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	o, err := sparcv1.NewOrganisationServiceClient(env.Network(t)).CreateOrganisation(ctx, &sparcv1.CreateOrganisationRequest{
		Organisation: &sparcv1.Organisation{DisplayName: "New group", Kind: sparcv1.OrganisationKind_ORGANISATION_KIND_COMMUNITY_GROUP,
			ContactEmail: "new@group.example"}})
	if err != nil {
		t.Fatal(err)
	}
	org := strings.TrimPrefix(o.GetName(), "organisations/")
	admin := sparcv1.NewNotificationServiceClient(env.ConnWithKey(t, env.Key(t, org, auth.RoleAdmin)))
	s, err := admin.GetEmailNotificationSettings(ctx, &sparcv1.GetEmailNotificationSettingsRequest{Name: o.GetName() + "/emailNotificationSettings"})
	if err != nil || !s.GetEnabled() || s.GetRecipient() != "new@group.example" || s.GetDeliveryConfigured() {
		t.Errorf("settings of a new organisation: %v, %v", s, err)
	}
}

// TestRowLevelSecurity: the second wall. Acting as one organisation's
// admin the application role sees and changes only that organisation's
// row; as any other role of it, none; and it cannot make or remove rows.
func TestRowLevelSecurity(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	a, b := env.NewOrg(t, "A", "community_group"), env.NewOrg(t, "B", "community_group")
	for _, tc := range []struct {
		role      string
		seen, upd int64
	}{{auth.RoleAdmin, 1, 0}, {auth.RoleLinkWorker, 0, 0}, {auth.RoleGroupEditor, 0, 0}} {
		var seen int64
		var upd int64
		bt := db.IdentityBatch(db.Identity{Org: a, Role: tc.role})
		bt.Queue(`SELECT count(*) FROM email_notifications`).QueryRow(func(r pgx.Row) error { return r.Scan(&seen) })
		bt.Queue(`UPDATE email_notifications SET language = 'nl' WHERE organisation_id = $1`, b).Exec(func(tag pgconn.CommandTag) error {
			upd = tag.RowsAffected()
			return nil
		})
		if err := env.AppPool.SendBatch(ctx, bt).Close(); err != nil {
			t.Fatal(err)
		}
		if seen != tc.seen || upd != tc.upd {
			t.Errorf("as %s of A: sees %d rows, changed %d of B's; want %d and %d", tc.role, seen, upd, tc.seen, tc.upd)
		}
		for _, q := range []string{`INSERT INTO email_notifications (organisation_id, cursor_txid) VALUES ('` + a + `', '1')`,
			`DELETE FROM email_notifications WHERE organisation_id = '` + a + `'`} {
			bt := db.IdentityBatch(db.Identity{Org: a, Role: tc.role})
			bt.Queue(q)
			if err := env.AppPool.SendBatch(ctx, bt).Close(); err == nil || !strings.Contains(err.Error(), "permission denied") {
				t.Errorf("as %s of A, %s: %v; want permission denied", tc.role, q, err)
			}
		}
	}
}
