package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
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
	if s, err = admin.GetEmailNotificationSettings(ctx, &sparcv1.GetEmailNotificationSettingsRequest{Name: name}); err != nil ||
		s.GetEmailsSent() != 2 || s.GetLastSuccessTime() == nil {
		t.Errorf("delivery state: %v, %v", s, err)
	}
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
