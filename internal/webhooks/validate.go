package webhooks

import (
	"net/url"
	"unicode/utf8"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
)

// Limits of a webhook's text fields, in characters.
const (
	maxURL         = 2000
	maxDescription = 200
)

// validCreate checks a CreateWebhook request: the webhook is required, its
// url a deliverable one (see validWebhookURL), its description bounded.
func validCreate(req *sparcv1.CreateWebhookRequest, allowPrivate bool) error {
	var v apierr.InvalidArgument
	if req.GetWebhook() == nil {
		v.Add("webhook", "is required: the url (and a description) of the endpoint")
		return v.Err()
	}
	validWebhookURL("webhook.url", req.GetWebhook().GetUrl(), allowPrivate, &v)
	aip.Text(&v, "webhook.description", req.GetWebhook().GetDescription(), false, maxDescription)
	return v.Err()
}

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
	if utf8.RuneCountInString(s) > maxURL {
		aip.Text(v, field, s, true, maxURL) // says how long it is
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
