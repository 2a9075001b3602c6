package notify

import (
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sparc-network/sparc/internal/outbox"
)

// TestParseSMTPURL: the accepted forms and their defaults; bad ones are
// refused with a reason that never repeats the password.
func TestParseSMTPURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want SMTP
	}{
		{"smtp://u:p%20w@mail.example.org", SMTP{Host: "mail.example.org", Port: "587", User: "u", Password: "p w"}},
		{"smtps://mail.example.org", SMTP{Host: "mail.example.org", Port: "465", ImplicitTLS: true}},
		{"smtp://127.0.0.1:2525?tls=none", SMTP{Host: "127.0.0.1", Port: "2525", NoTLS: true}},
	} {
		got, err := ParseSMTPURL(tc.url)
		if err != nil || *got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.url, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"http://mail.example.org", "smtp://", "smtp://u:hunter2@mail.example.org?tls=none",
		"smtps://mail.example.org?tls=none", "smtp://mail.example.org?tls=maybe", "smtp://mail.example.org?starttls=off",
		"smtp://u:hunter2@[::1", "mail.example.org",
	} {
		_, err := ParseSMTPURL(bad)
		if err == nil {
			t.Errorf("%s: accepted", bad)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the password: %v", bad, err)
		}
	}
	c, _ := ParseSMTPURL("smtp://u:hunter2@mail.example.org")
	if r := c.Redacted(); strings.Contains(r, "hunter2") || r != "smtp://u@mail.example.org:587" {
		t.Errorf("redacted: %s", r)
	}
}

// TestComposeKeepsHeadersWhole: an asset name with line breaks cannot add
// a header (the subject is one encoded line), and the body stays UTF-8.
func TestComposeKeepsHeadersWhole(t *testing.T) {
	from, _ := mailParse("SPARC <sparc@example.org>")
	subject, body, err := render("nl", eventArrived, content{Asset: "Koor\r\nBcc: victim@example.org", Link: "https://x/v1/referrals/1"})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := compose(from, "group@example.org", uuid.NewString(), outbox.Cursor{TxID: 7, Seq: 9}, subject, body, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(string(msg), "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n") {
		if strings.HasPrefix(strings.ToLower(line), "bcc:") {
			t.Fatalf("a header was injected: %q", head)
		}
	}
	if !strings.Contains(head, "Message-ID: <7.9.") {
		t.Errorf("Message-ID: %q", head)
	}
}

func mailParse(s string) (*mail.Address, error) { return mail.ParseAddress(s) }
