package notify_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/notify"
	"github.com/sparc-network/sparc/internal/outbox"
	"github.com/sparc-network/sparc/internal/testenv"
)

// clock is the workers' clock in a test: it moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// counted is an organisation's running digest counts and digest rows.
type counted struct{ arrived, accepted, declined, digests int }

func (f *fixture) counted(t *testing.T, org string) counted {
	t.Helper()
	var c counted
	if err := f.env.Pool.QueryRow(context.Background(), `SELECT digest_arrived, digest_accepted, digest_declined,
			(SELECT count(*) FROM email_digests d WHERE d.organisation_id = n.organisation_id)
		FROM email_notifications n WHERE organisation_id = $1`, org).Scan(&c.arrived, &c.accepted, &c.declined, &c.digests); err != nil {
		t.Fatal(err)
	}
	return c
}

// settingsOf returns a client as org's admin and the name of its settings.
func (f *fixture) settingsOf(t *testing.T, org string) (sparcv1.NotificationServiceClient, string) {
	t.Helper()
	return sparcv1.NewNotificationServiceClient(f.env.ConnWithKey(t, f.env.Key(t, org, auth.RoleAdmin))),
		"organisations/" + org + "/emailNotificationSettings"
}

// digestOn turns org's daily digest on at 08:00 Amsterdam time, in lang.
func (f *fixture) digestOn(t *testing.T, org, lang string) {
	t.Helper()
	admin, name := f.settingsOf(t, org)
	s, err := admin.UpdateEmailNotificationSettings(context.Background(), &sparcv1.UpdateEmailNotificationSettingsRequest{
		Settings: &sparcv1.EmailNotificationSettings{Name: name,
			DailyDigest: true, DigestHour: 8, TimeZone: "Europe/Amsterdam", LanguageCode: lang},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"daily_digest", "digest_hour", "time_zone", "language_code"}}})
	if err != nil || !s.GetDailyDigest() || s.GetDigestHour() != 8 || s.GetTimeZone() != "Europe/Amsterdam" {
		t.Fatalf("turning the digest on: %v, %v", s, err)
	}
}

// TestDailyDigest: with the digest on, events are counted instead of
// emailed; before the organisation's hour (in its time zone) nothing is
// sent; from it, one email per organisation, in its language, with counts
// and a link only; then no second one that day, even with a second
// worker (another replica) running; the next day's covers what came since.
func TestDailyDigest(t *testing.T) {
	t.Parallel()
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Date(2030, 3, 10, 7, 59, 0, 0, ams)}
	f := newFixture(t, options{config: func(c *notify.Config) { c.Now = clk.Now }})
	f.digestOn(t, f.refs.Provider, "nl")
	f.digestOn(t, f.refs.Referrer, "en")

	var ids []string
	for range 3 {
		ids = append(ids, f.refer(t, false))
	}
	f.move(t, f.provider, ids[0], sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "")
	f.move(t, f.provider, ids[1], sparcv1.ReferralStatus_REFERRAL_STATUS_REJECTED, "not_suitable")
	testenv.Until(t, 30*time.Second, "the events counted", func() bool {
		return f.counted(t, f.refs.Provider).arrived == 3 && f.counted(t, f.refs.Referrer).accepted == 1 &&
			f.counted(t, f.refs.Referrer).declined == 1
	})
	// A turn that starts after the counts above checks the digest first,
	// at 07:59: one more arrival counted proves such a turn ran.
	ids = append(ids, f.refer(t, false))
	testenv.Until(t, 30*time.Second, "the fourth arrival counted", func() bool { return f.counted(t, f.refs.Provider).arrived == 4 })
	if n := f.mail.count(); n != 0 {
		t.Fatalf("%d emails before the digest hour; want none (events are counted, not emailed)", n)
	}

	clk.Set(time.Date(2030, 3, 10, 8, 0, 0, 0, ams))
	got := f.waitFor(t, 2)
	byTo := map[string]received{}
	for _, g := range got {
		byTo[g.To[0]] = g
		noPersonalData(t, g)
		if strings.Contains(g.Body, ids[0]) || !strings.Contains(g.Body, "https://sparc.example/v1/referrals\n") {
			t.Errorf("digest to %v: %q; want the link to the list, no referral's", g.To, g.Body)
		}
		if !strings.HasPrefix(g.ID, "<digest.2030-03-10.") {
			t.Errorf("digest to %v: Message-ID %s", g.To, g.ID)
		}
	}
	p, r := byTo[providerEmail], byTo[referrerEmail]
	if p.Subject != "Uw verwijzingen in SPARC, 2030-03-10" || !strings.Contains(p.Body, "verwijzingen ontvangen:            4\n") {
		t.Errorf("provider's digest: %q %q", p.Subject, p.Body)
	}
	if r.Subject != "Your referrals on SPARC, 2030-03-10" || !strings.Contains(r.Body, "referrals received:            0\n") ||
		!strings.Contains(r.Body, "your referrals accepted:       1\n") || !strings.Contains(r.Body, "your referrals declined:       1\n") {
		t.Errorf("referrer's digest: %q %q", r.Subject, r.Body)
	}
	// The row follows the SMTP server's acceptance.
	testenv.Until(t, 30*time.Second, "the provider's digest recorded, its counts cleared", func() bool {
		c := f.counted(t, f.refs.Provider)
		return c.arrived == 0 && c.digests == 1 && f.state(t, f.refs.Provider).sent == 1
	})

	// A second replica: the day has its digest, whoever takes the turn.
	f.replica(t)
	clk.Set(time.Date(2030, 3, 10, 23, 59, 0, 0, ams))
	for i := range 3 {
		f.refer(t, false)
		testenv.Until(t, 30*time.Second, "an arrival counted", func() bool { return f.counted(t, f.refs.Provider).arrived == i+1 })
	}
	if n := f.mail.count(); n != 2 {
		t.Fatalf("%d emails after more turns the same day; want the 2 digests only", n)
	}

	clk.Set(time.Date(2030, 3, 11, 8, 30, 0, 0, ams))
	got = f.waitFor(t, 3)
	next := got[2]
	if next.To[0] != providerEmail || next.Subject != "Uw verwijzingen in SPARC, 2030-03-11" ||
		!strings.Contains(next.Body, "verwijzingen ontvangen:            3\n") {
		t.Errorf("the next day's digest: %v %q %q", next.To, next.Subject, next.Body)
	}
	// The referrer had nothing to tell: its day is recorded, no email.
	testenv.Until(t, 30*time.Second, "the referrer's second day recorded", func() bool {
		return f.counted(t, f.refs.Referrer).digests == 2
	})
	if n := f.mail.count(); n != 3 {
		t.Errorf("%d emails; want 3 (an empty day sends nothing)", n)
	}
}

// replica runs a second email worker on the same database, as another
// sparcd with --smtp-url would, until the test ends.
func (f *fixture) replica(t *testing.T) {
	t.Helper()
	w, err := notify.NewWorker(f.env.AppPool, outbox.NewHub(nil), f.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.Run(ctx) }() // its hub never listens: it polls
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// TestDigestSettings: the defaults, and bad hours and zones refused as
// INVALID_ARGUMENT naming the field, with nothing written.
func TestDigestSettings(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	admin, name := f.settingsOf(t, f.refs.Provider)
	ctx := context.Background()
	s, err := admin.GetEmailNotificationSettings(ctx, &sparcv1.GetEmailNotificationSettingsRequest{Name: name})
	if err != nil || s.GetDailyDigest() || s.GetDigestHour() != 8 || s.GetTimeZone() != "Europe/London" {
		t.Fatalf("defaults: %v, %v", s, err)
	}
	for _, tc := range []struct {
		in    *sparcv1.EmailNotificationSettings
		paths []string
		field string
	}{
		{&sparcv1.EmailNotificationSettings{DigestHour: 24}, []string{"digest_hour"}, "settings.digest_hour"},
		{&sparcv1.EmailNotificationSettings{DigestHour: -1}, []string{"digest_hour"}, "settings.digest_hour"},
		{&sparcv1.EmailNotificationSettings{TimeZone: "Mars/Olympus_Mons"}, []string{"time_zone"}, "settings.time_zone"},
		{&sparcv1.EmailNotificationSettings{TimeZone: ""}, []string{"time_zone"}, "settings.time_zone"},
		{&sparcv1.EmailNotificationSettings{TimeZone: "Local"}, []string{"time_zone"}, "settings.time_zone"},
		{&sparcv1.EmailNotificationSettings{TimeZone: "../../etc/passwd"}, []string{"time_zone"}, "settings.time_zone"},
		{&sparcv1.EmailNotificationSettings{DailyDigest: true, DigestHour: 99}, []string{"daily_digest", "digest_hour"}, "settings.digest_hour"},
	} {
		tc.in.Name = name
		_, err := admin.UpdateEmailNotificationSettings(ctx, &sparcv1.UpdateEmailNotificationSettingsRequest{
			Settings: tc.in, UpdateMask: &fieldmaskpb.FieldMask{Paths: tc.paths}})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%v: %v; want INVALID_ARGUMENT on %s", tc.in, err, tc.field)
		}
	}
	after, err := admin.GetEmailNotificationSettings(ctx, &sparcv1.GetEmailNotificationSettingsRequest{Name: name})
	if err != nil || after.GetEtag() != s.GetEtag() || after.GetDailyDigest() {
		t.Errorf("after refused updates: %v, %v; want unchanged", after, err)
	}
	// Another organisation's admin does not see them (row-level security
	// and the service's check).
	other, _ := f.settingsOf(t, f.refs.Referrer)
	if _, err := other.UpdateEmailNotificationSettings(ctx, &sparcv1.UpdateEmailNotificationSettingsRequest{
		Settings:   &sparcv1.EmailNotificationSettings{Name: name, DailyDigest: true},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"daily_digest"}}}); status.Code(err) != codes.NotFound {
		t.Errorf("another organisation's admin: %v; want NOT_FOUND", err)
	}
}
