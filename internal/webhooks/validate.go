package webhooks

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/sparc-network/sparc/internal/apierr"
)

// validWebhookURL checks a receiver's URL: absolute, https, no
// credentials in it, and (unless allowPrivate) not at a loopback, private,
// link-local or other non-public address written as such. A name is
// judged when deliveries connect, on the addresses it then resolves to:
// resolving here would prove nothing about later (DNS rebinding). Plain
// http is for development only: to a loopback host, where private targets
// are allowed.
func validWebhookURL(field, s string, allowPrivate bool, v *apierr.InvalidArgument) {
	if s == "" {
		v.Add(field, "is required: the https URL that receives the changes")
		return
	}
	if utf8.RuneCountInString(s) > 2000 {
		v.Add(field, "is longer than 2,000 characters")
		return
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Hostname() == "" {
		v.Add(field, "is not an absolute URL (https://host/path)")
		return
	}
	if u.User != nil {
		v.Add(field, "must not contain a user name or password; the signature authenticates each delivery")
	}
	class, ok := webhookHostClass(u.Hostname())
	switch {
	case !ok:
		v.Add(field, "has a host that is neither a name nor an address in standard form (write IPv4 as four decimal numbers)")
		return
	case class != "" && !allowPrivate:
		v.Add(field, "is at a non-public address (%s): webhooks reach public addresses only", class)
		return
	}
	switch u.Scheme {
	case "https":
	case "http":
		if class != "loopback" {
			v.Add(field, "must use https (plain http is allowed only to a loopback host, on a server run with --webhook-allow-private)")
		}
	default:
		v.Add(field, "must use https, not %s", u.Scheme)
	}
}

func parseWebhookID(s string, v *apierr.InvalidArgument) uuid.UUID {
	id, err := uuid.Parse(strings.TrimPrefix(s, "webhooks/"))
	if err != nil {
		v.Add("id", "is not an id (a UUID)")
	}
	return id
}
