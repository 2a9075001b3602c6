package main

import (
	"strings"
	"testing"
)

// Email is off without --smtp-url; with it, --mail-from is required and
// bad values stop sparcd with a reason that never shows the password.
func TestMailFlags(t *testing.T) {
	for _, k := range []string{"SPARC_SMTP_URL", "SPARC_MAIL_FROM", "SPARC_PUBLIC_URL"} {
		t.Setenv(k, "")
	}
	c, err := parseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.mail.config(); err != nil || n.Enabled() {
		t.Errorf("email on by default: %+v, %v", n, err)
	}
	t.Setenv("SPARC_SMTP_URL", "smtps://sparc:hunter2@mail.example.org")
	t.Setenv("SPARC_MAIL_FROM", "SPARC <sparc@example.org>")
	if c, err = parseConfig([]string{"--public-url", "https://sparc.example.org"}); err != nil {
		t.Fatal(err)
	}
	n, err := c.mail.config()
	if err != nil || !n.Enabled() || !n.SMTP.ImplicitTLS || n.SMTP.Password != "hunter2" || n.PublicURL != "https://sparc.example.org" {
		t.Errorf("from the environment: %+v, %v", n, err)
	}
	for _, args := range [][]string{
		{"--mail-from", ""},
		{"--mail-from", "not an address"},
		{"--smtp-url", "ftp://sparc:hunter2@mail.example.org"},
		{"--public-url", "javascript:alert(1)"},
	} {
		c, err := parseConfig(args)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.mail.config(); err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%v: %v; want a refusal without the password", args, err)
		}
	}
}
