package notify_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/notify"
	"github.com/sparc-network/sparc/internal/outbox"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The person every fixture refers: nothing of theirs may reach an email.
const (
	personName  = "Zebedee Quartermain"
	personNHS   = "9434765919"
	personPhone = "0121 496 0777"
)

const (
	providerEmail = "group@provider.example"
	referrerEmail = "team@referrer.example"
	bystanderMail = "office@bystander.example"
)

// fixture: a SPARC server, a referrer and a provider with contact
// addresses, a bystander organisation (with an address, on neither side)
// that must never be emailed, a test SMTP server and a notify worker.
type fixture struct {
	env      *testenv.Env
	refs     *testenv.Referrals
	mail     *mailServer
	person   string
	provider sparcv1.ReferralServiceClient // the provider's group editor
	cfg      notify.Config
}

type options struct {
	server func(*mailServer)    // before it starts
	config func(*notify.Config) // before the worker starts
}

func newFixture(t *testing.T, o options) *fixture {
	t.Helper()
	f := &fixture{mail: &mailServer{t: t}}
	if o.server != nil {
		o.server(f.mail)
	}
	f.mail.start()
	t.Cleanup(f.mail.stop)
	f.cfg = notify.Config{SMTP: &notify.SMTP{Host: "127.0.0.1", Port: f.mail.port(), NoTLS: true},
		From: "SPARC <sparc@sparc.example>", PublicURL: "https://sparc.example/",
		BackoffBase: 20 * time.Millisecond, BackoffCap: 200 * time.Millisecond, Poll: 200 * time.Millisecond, Timeout: 5 * time.Second}
	if o.config != nil {
		o.config(&f.cfg)
	}
	env := startApp(t, f.cfg)
	f.env, f.refs = env, env.NewReferrals(t)
	ctx := context.Background()
	bystander := env.NewOrg(t, "Bystander", "community_group")
	for org, addr := range map[string]string{f.refs.Provider: providerEmail, f.refs.Referrer: referrerEmail, bystander: bystanderMail} {
		if _, err := env.Pool.Exec(ctx, `UPDATE organisations SET contact_email = $2 WHERE id = $1`, org, addr); err != nil {
			t.Fatal(err)
		}
	}
	p, err := sparcv1.NewPersonServiceClient(f.refs.LinkWorker).CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{
		DisplayName: personName, AgeBand: "65-74", NhsNumber: personNHS, ContactMethod: sparcv1.ContactMethod_CONTACT_METHOD_PHONE,
		Contact: &sparcv1.PersonContact{Phone: personPhone}, WhatMatters: "Zebedee wants company",
		Consent: &sparcv1.Consent{ShareWithProvider: true, Scopes: []sparcv1.ConsentScope{
			sparcv1.ConsentScope_CONSENT_SCOPE_BASIC, sparcv1.ConsentScope_CONSENT_SCOPE_CONTACT}}}})
	if err != nil {
		t.Fatalf("creating the person: %v", err)
	}
	f.person = p.GetName()
	f.provider = sparcv1.NewReferralServiceClient(env.ConnWithKey(t, env.Key(t, f.refs.Provider, auth.RoleGroupEditor)))
	return f
}

// startApp runs SPARC as sparcd does with --smtp-url (the composition
// root starts the email worker with the app) over a fresh database, until
// the test ends; the test fails unless it then shuts down cleanly.
func startApp(t *testing.T, cfg notify.Config) *testenv.Env {
	t.Helper()
	owner := testenv.NewPool(t)
	pool := testenv.AppPool(t, owner)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, pool, app.Config{Auth: auth.Config{RatePerSecond: 10000, Burst: 10000}, Notify: cfg,
		Server: app.ServerConfig{ShutdownTimeout: 5 * time.Second}})
	if err != nil {
		cancel()
		t.Fatalf("starting the app: %v", err)
	}
	testenv.Serve(t, ctx, cancel, a)
	return &testenv.Env{App: a, Pool: owner, AppPool: pool, Server: a.Server(), HTTPBase: "http://" + a.Server().HTTPAddr()}
}

// TestWorkerStopsWhenTold: a worker on its own (as app.Run starts it)
// returns soon after its context ends, with an organisation backing off
// against a mail server that is down.
func TestWorkerStopsWhenTold(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	f.mail.stop()
	f.refer(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	hub := outbox.NewHub(nil)
	go hub.Listen(ctx, f.env.AppPool)
	w, err := notify.NewWorker(f.env.AppPool, hub, f.cfg, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	testenv.Until(t, 30*time.Second, "a failure recorded", func() bool { return f.state(t, f.refs.Provider).failures > 0 })
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Error("the worker did not stop within 10 s of its context ending")
	}
}

// refer makes a referral (sent unless draft) and returns its id.
func (f *fixture) refer(t *testing.T, draft bool) string {
	t.Helper()
	r, err := sparcv1.NewReferralServiceClient(f.refs.LinkWorker).CreateReferral(context.Background(), &sparcv1.CreateReferralRequest{
		RequestId: uuid.NewString(), Person: f.person, Asset: f.refs.Asset, Reasons: []string{"social_connection"},
		ProviderNote: "For " + personName + ", NHS " + personNHS, Draft: draft})
	if err != nil {
		t.Fatalf("referring: %v", err)
	}
	return strings.TrimPrefix(r.GetName(), "referrals/")
}

func (f *fixture) move(t *testing.T, as sparcv1.ReferralServiceClient, id string, to sparcv1.ReferralStatus, reason string) {
	t.Helper()
	if _, err := as.TransitionReferral(context.Background(), &sparcv1.TransitionReferralRequest{
		Name: "referrals/" + id, ToStatus: to, Reason: reason, Note: "about " + personName}); err != nil {
		t.Fatalf("moving %s to %v: %v", id, to, err)
	}
}

// want is an expected email: to whom, which event (by its English
// subject's start) and about which referral.
type want struct{ to, subject, referral string }

func (f *fixture) waitFor(t *testing.T, n int) []received {
	t.Helper()
	testenv.Until(t, 30*time.Second, fmt.Sprintf("%d emails", n), func() bool { return f.mail.count() >= n })
	return f.mail.messages()
}

// check compares what arrived with want: the same emails, in want's
// order for each recipient (each recipient has its own cursor, so emails
// to different organisations may interleave either way), and checks every
// message for what must never be in it.
func check(t *testing.T, got []received, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		for _, g := range got {
			t.Logf("got %v %q", g.To, g.Subject)
		}
		t.Fatalf("got %d emails, want %d", len(got), len(wants))
	}
	byRecipient := map[string][]received{}
	for _, g := range got {
		if len(g.To) != 1 {
			t.Fatalf("email %q to %v: want one recipient", g.Subject, g.To)
		}
		byRecipient[g.To[0]] = append(byRecipient[g.To[0]], g)
	}
	next := map[string]int{}
	ids := map[string]bool{}
	for i, w := range wants {
		list := byRecipient[w.to]
		if next[w.to] >= len(list) {
			t.Fatalf("want %d (%s to %s): %s received only %d", i, w.subject, w.to, w.to, len(list))
		}
		g := list[next[w.to]]
		next[w.to]++
		if !strings.HasPrefix(g.Subject, w.subject) || !strings.Contains(g.Body, "https://sparc.example/v1/referrals/"+w.referral+"\n") {
			t.Errorf("email %d to %s: subject %q, body %q; want subject %q…, a link to %s", next[w.to], w.to, g.Subject, g.Body, w.subject, w.referral)
		}
		if !strings.Contains(g.Subject, "Walking group") {
			t.Errorf("email to %s: subject %q does not name the asset", w.to, g.Subject)
		}
		if g.From != "sparc@sparc.example" {
			t.Errorf("email to %s: envelope from %q", w.to, g.From)
		}
		if ids[g.ID] {
			t.Errorf("email to %s: Message-ID %s sent twice", w.to, g.ID)
		}
		ids[g.ID] = true
		noPersonalData(t, g)
	}
}

// noPersonalData: neither the person's name (or a part of it), NHS number
// (in any spacing) nor phone appears anywhere in the message, headers
// included.
func noPersonalData(t *testing.T, g received) {
	t.Helper()
	raw := strings.ToLower(g.Raw + g.Subject + g.Body)
	squashed := strings.NewReplacer(" ", "", "=\r\n", "", "-", "").Replace(raw)
	for _, s := range []string{"zebedee", "quartermain", "a. khan", "khan", personNHS, "943 476 5919", "04960777", "company"} {
		if strings.Contains(raw, s) || strings.Contains(squashed, strings.ReplaceAll(s, " ", "")) {
			t.Errorf("email to %v (%q) contains %q", g.To, g.Subject, s)
		}
	}
}

// TestEmailsReachTheRightSideInOrder: a referral's arrival emails the
// provider's contact; accepting, declining and attending email the
// referrer's; drafts and changes the provider may not see email nobody;
// the bystander organisation gets nothing; every email is in change order,
// names the asset and links the referral, and says nothing about the
// person.
func TestEmailsReachTheRightSideInOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	lw := sparcv1.NewReferralServiceClient(f.refs.LinkWorker)

	draft := f.refer(t, true)                                                                  // a draft: the provider may not see it
	f.move(t, lw, draft, sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, "no_longer_needed") // withdrawn unsent: still nobody's news
	r1 := f.refer(t, false)
	f.move(t, f.provider, r1, sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "")
	r2 := f.refer(t, false)
	f.move(t, f.provider, r1, sparcv1.ReferralStatus_REFERRAL_STATUS_IN_PROGRESS, "")
	f.move(t, f.provider, r2, sparcv1.ReferralStatus_REFERRAL_STATUS_REJECTED, "no_capacity")
	if _, err := f.provider.RecordOutcome(context.Background(), &sparcv1.RecordOutcomeRequest{Name: "referrals/" + r1, SessionsAttended: proto.Int32(2)}); err != nil {
		t.Fatal(err) // an outcome emails nobody
	}
	r3 := f.refer(t, false)
	f.move(t, lw, r3, sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, "person_declined") // the referrer's own move: no email
	d2 := f.refer(t, true)
	f.move(t, lw, d2, sparcv1.ReferralStatus_REFERRAL_STATUS_REQUESTED, "") // a draft sent: it arrives now

	wants := []want{
		{providerEmail, "New referral to", r1},
		{referrerEmail, "Referral accepted", r1},
		{providerEmail, "New referral to", r2},
		{referrerEmail, "Attending", r1},
		{referrerEmail, "Referral declined", r2},
		{providerEmail, "New referral to", r3},
		{providerEmail, "New referral to", d2},
	}
	got := f.waitFor(t, len(wants))
	check(t, got, wants)
	// Nothing after them: one more arrival is the next email, so no stray
	// email was on its way.
	r4 := f.refer(t, false)
	check(t, f.waitFor(t, len(wants)+1), append(wants, want{providerEmail, "New referral to", r4}))
	// The cursor moves just after the server accepted each email.
	testenv.Until(t, 10*time.Second, "5 emails counted for the provider", func() bool {
		s := f.state(t, f.refs.Provider)
		return s.sent == 5 && s.lastErr == ""
	})
}
