package notify

import (
	"bytes"
	"embed"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"text/template"
	"time"

	"github.com/google/uuid"

	"github.com/sparc-network/sparc/internal/outbox"
	"github.com/sparc-network/sparc/internal/referrals"
)

// Languages are the languages of the templates; an organisation chooses
// one (default English).
var Languages = []string{"en", "nl"}

//go:embed templates/*.tmpl
var templateFiles embed.FS

// templates holds one template set per language.
var templates = func() map[string]*template.Template {
	m := map[string]*template.Template{}
	for _, lang := range Languages {
		m[lang] = template.Must(template.ParseFS(templateFiles, "templates/"+lang+".tmpl"))
	}
	return m
}()

// event is what an email tells: a referral arrived (to the provider) or
// the provider accepted, declined or the person started attending (to
// the referrer).
type event string

const (
	eventArrived  event = "arrived"
	eventAccepted event = "accepted"
	eventDeclined event = "declined"
	eventAttended event = "attended"
	// eventDigest is the daily digest: counts, no single referral.
	eventDigest event = "digest"
)

// referrerEvents are the status changes the referring side is emailed
// about. "Attended" is the move to in_progress: the Gravity status for a
// person taking part.
var referrerEvents = map[string]event{"accepted": eventAccepted, "rejected": eventDeclined, "in_progress": eventAttended}

// eventFor says whether org is emailed about change c, and about what.
// Each side is checked with referrals' visibility rule for the role that
// acts on that side, so an email never tells an organisation of a change
// that side may not see (a draft never reaches the provider). The events
// of the two sides are disjoint, so an organisation referring to its own
// asset gets at most one email per change.
func eventFor(org string, c outbox.Change) (event, bool) {
	if c.To == "requested" && (c.Type == "created" || c.Type == "status_changed") &&
		referrals.ChangeFor(org, "group_editor", c) != nil && c.Provider != nil && c.Provider.String() == org {
		return eventArrived, true
	}
	if e, ok := referrerEvents[c.To]; ok && c.Type == "status_changed" &&
		referrals.ChangeFor(org, "link_worker", c) != nil && c.Referrer.String() == org {
		return e, true
	}
	return "", false
}

// content is what a template may use: the event, the asset's display name
// (public) and a link to the referral. Nothing about the person: the link
// leads to what the reader may see, behind their key.
type content struct {
	Asset string
	Link  string
	// The digest's: its local day (YYYY-MM-DD) and counts.
	Day    string
	Counts tally
}

// render fills the templates of lang for event e.
func render(lang string, e event, c content) (subject, body string, err error) {
	t := templates[lang]
	if t == nil {
		t = templates["en"]
	}
	var s, b bytes.Buffer
	if err := t.ExecuteTemplate(&s, string(e)+".subject", c); err != nil {
		return "", "", err
	}
	if err := t.ExecuteTemplate(&b, string(e)+".body", c); err != nil {
		return "", "", err
	}
	if err := t.ExecuteTemplate(&b, "footer", c); err != nil {
		return "", "", err
	}
	return s.String(), b.String(), nil
}

// link is where the reader finds the referral: under --public-url when
// set, else the referral's API name.
func link(publicURL string, referral uuid.UUID) string {
	if publicURL == "" {
		return "referrals/" + referral.String()
	}
	return strings.TrimRight(publicURL, "/") + "/v1/referrals/" + referral.String()
}

// listLink is where the reader finds the organisation's referrals.
func listLink(publicURL string) string {
	if publicURL == "" {
		return "referrals"
	}
	return strings.TrimRight(publicURL, "/") + "/v1/referrals"
}

// oneLine makes text safe for a header: asset names are typed by their
// owners, and a line break in a subject would start a header of its own.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// compose writes the RFC 5322 message: UTF-8 text, quoted-printable, the
// subject encoded as RFC 2047 words. The Message-ID is the change and the
// recipient organisation, so a receiver can drop the rare second copy of
// an email resent after a lost acknowledgement.
func compose(from *mail.Address, to string, org string, cur outbox.Cursor, subject, body string, at time.Time) ([]byte, error) {
	return composeID(from, to, fmt.Sprintf("%d.%d.%s", cur.TxID, cur.Seq, org), subject, body, at)
}

// composeID is compose with the local part of the Message-ID.
func composeID(from *mail.Address, to, id, subject, body string, at time.Time) ([]byte, error) {
	domain := "sparc.invalid"
	if _, d, ok := strings.Cut(from.Address, "@"); ok {
		domain = d
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", from.String())
	fmt.Fprintf(&b, "To: %s\r\n", to)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", oneLine(subject)))
	fmt.Fprintf(&b, "Date: %s\r\n", at.UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", id, domain)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n")
	b.WriteString("Auto-Submitted: auto-generated\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
