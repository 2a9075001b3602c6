package notify_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/notify"
	"github.com/sparc-network/sparc/internal/testenv"
)

// state is an organisation's delivery record.
type state struct {
	sent     int
	failures int
	lastErr  string
}

func (f *fixture) state(t *testing.T, org string) state {
	t.Helper()
	var s state
	if err := f.env.Pool.QueryRow(context.Background(), `SELECT emails_sent, consecutive_failures, last_error
		FROM email_notifications WHERE organisation_id = $1`, org).Scan(&s.sent, &s.failures, &s.lastErr); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOutageLosesNothingAndDoublesNothing: with the SMTP server down,
// changes go on; the failures are recorded on both organisations with the
// reason; when it comes back every email arrives once, in order, and the
// records clear.
func TestOutageLosesNothingAndDoublesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	r0 := f.refer(t, false)
	check(t, f.waitFor(t, 1), []want{{providerEmail, "New referral to", r0}})

	f.mail.stop()
	var wants []want
	var ids []string
	for range 4 {
		id := f.refer(t, false)
		ids = append(ids, id)
		wants = append(wants, want{providerEmail, "New referral to", id})
	}
	for i, id := range ids {
		if i%2 == 0 {
			f.move(t, f.provider, id, sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "")
			wants = append(wants, want{referrerEmail, "Referral accepted", id})
		} else {
			f.move(t, f.provider, id, sparcv1.ReferralStatus_REFERRAL_STATUS_REJECTED, "not_suitable")
			wants = append(wants, want{referrerEmail, "Referral declined", id})
		}
	}
	testenv.Until(t, 30*time.Second, "failures recorded on both organisations", func() bool {
		p, r := f.state(t, f.refs.Provider), f.state(t, f.refs.Referrer)
		return p.failures >= 2 && r.failures >= 2
	})
	if s := f.state(t, f.refs.Provider); !strings.Contains(s.lastErr, "connecting to the mail server") || s.sent != 1 {
		t.Errorf("provider during the outage: %+v; want the connection failure and 1 sent", s)
	}
	if n := f.mail.count(); n != 1 {
		t.Fatalf("%d emails arrived during the outage", n)
	}

	f.mail.start() // same address
	all := append([]want{{providerEmail, "New referral to", r0}}, wants...)
	f.waitFor(t, len(all))
	// One more change per side after the recovery: when both arrive,
	// nothing else was on its way, so a count now is final.
	r5 := f.refer(t, false)
	f.move(t, f.provider, r5, sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "")
	all = append(all, want{providerEmail, "New referral to", r5}, want{referrerEmail, "Referral accepted", r5})
	check(t, f.waitFor(t, len(all)), all)
	testenv.Until(t, 10*time.Second, "records cleared", func() bool {
		p, r := f.state(t, f.refs.Provider), f.state(t, f.refs.Referrer)
		return p.sent == 6 && r.sent == 5 && p.failures == 0 && r.failures == 0 && p.lastErr == "" && r.lastErr == ""
	})
}

// tlsServer: a mail server with a certificate from a test CA, requiring
// AUTH PLAIN; and the client's trust in that CA.
func tlsServer(t *testing.T, implicit bool) (options, *tls.Config) {
	ca := testenv.NewCA(t, "test mail CA")
	pair := ca.Server(t, "mail").Pair(t)
	client := &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}
	return options{
		server: func(m *mailServer) {
			m.tls = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
			m.implicit, m.user, m.pass = implicit, "sparc", "s3cret pass"
		},
	}, client
}

// TestSTARTTLSAndImplicitTLSWithAuth: both TLS variants, with AUTH
// PLAIN, deliver; the credentials come from the URL.
func TestSTARTTLSAndImplicitTLSWithAuth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		implicit bool
		scheme   string
	}{{"STARTTLS", false, "smtp"}, {"implicit TLS", true, "smtps"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, client := tlsServer(t, tc.implicit)
			o.config = func(c *notify.Config) {
				port := c.SMTP.Port
				s, err := notify.ParseSMTPURL(tc.scheme + "://sparc:s3cret%20pass@127.0.0.1:" + port)
				if err != nil {
					t.Fatal(err)
				}
				s.TLS = client
				c.SMTP = s
			}
			f := newFixture(t, o)
			id := f.refer(t, false)
			check(t, f.waitFor(t, 1), []want{{providerEmail, "New referral to", id}})
			f.mail.mu.Lock()
			authed := f.mail.auth
			f.mail.mu.Unlock()
			if authed == 0 {
				t.Error("delivered without authenticating")
			}
		})
	}
}

// TestSTARTTLSIsRequired: smtp:// to a server that offers no STARTTLS
// sends nothing (no cleartext fallback) and says why on the organisation.
func TestSTARTTLSIsRequired(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{config: func(c *notify.Config) { c.SMTP.NoTLS = false }})
	f.refer(t, false)
	testenv.Until(t, 30*time.Second, "the failure recorded", func() bool {
		return strings.Contains(f.state(t, f.refs.Provider).lastErr, "does not offer STARTTLS")
	})
	if n := f.mail.count(); n != 0 {
		t.Errorf("%d emails sent without TLS", n)
	}
}

// TestUntrustedCertificateIsRefused: a server whose certificate the
// client does not trust gets nothing.
func TestUntrustedCertificateIsRefused(t *testing.T) {
	t.Parallel()
	o, _ := tlsServer(t, false)
	o.config = func(c *notify.Config) { c.SMTP.NoTLS, c.SMTP.User, c.SMTP.Password = false, "sparc", "s3cret pass" }
	f := newFixture(t, o)
	f.refer(t, false)
	testenv.Until(t, 30*time.Second, "the failure recorded", func() bool {
		return strings.Contains(f.state(t, f.refs.Provider).lastErr, "certificate")
	})
	if n := f.mail.count(); n != 0 {
		t.Errorf("%d emails sent to an untrusted server", n)
	}
}

// TestDutchTemplates: an organisation that chose Dutch gets Dutch emails;
// the other side keeps English.
func TestDutchTemplates(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	if _, err := f.env.Pool.Exec(context.Background(), `UPDATE email_notifications SET language = 'nl' WHERE organisation_id = $1`, f.refs.Provider); err != nil {
		t.Fatal(err)
	}
	id := f.refer(t, false)
	f.move(t, f.provider, id, sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "")
	got := f.waitFor(t, 2)
	for _, g := range got {
		noPersonalData(t, g)
		switch g.To[0] {
		case providerEmail:
			if g.Subject != "Nieuwe verwijzing naar Walking group" || !strings.Contains(g.Body, "Er is een nieuwe verwijzing naar Walking group binnengekomen") {
				t.Errorf("Dutch email: %q %q", g.Subject, g.Body)
			}
		case referrerEmail:
			if g.Subject != "Referral accepted by Walking group" {
				t.Errorf("English email: %q", g.Subject)
			}
		}
	}
}

// TestNoContactEmailIsAVisibleFailure: an organisation without a contact
// address keeps its emails (the cursor stays) and says why; once it has
// one, they arrive.
func TestNoContactEmailIsAVisibleFailure(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	if _, err := f.env.Pool.Exec(context.Background(), `UPDATE organisations SET contact_email = '' WHERE id = $1`, f.refs.Provider); err != nil {
		t.Fatal(err)
	}
	id := f.refer(t, false)
	testenv.Until(t, 30*time.Second, "the failure recorded", func() bool {
		return f.state(t, f.refs.Provider).lastErr == "the organisation has no contact email"
	})
	if _, err := f.env.Pool.Exec(context.Background(), `UPDATE organisations SET contact_email = $2 WHERE id = $1`, f.refs.Provider, providerEmail); err != nil {
		t.Fatal(err)
	}
	check(t, f.waitFor(t, 1), []want{{providerEmail, "New referral to", id}})
}
