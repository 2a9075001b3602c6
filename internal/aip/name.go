package aip

import (
	"strings"

	"github.com/google/uuid"

	"github.com/sparc-network/sparc/internal/apierr"
)

// Collection is the first segment of a top-level resource name: the
// asset 3f25… is named "assets/3f25…".
type Collection string

// The collections of the API. Resource ids are server-assigned (or
// client-chosen) UUIDs; areas are named by their official code instead
// and do not use ParseName.
const (
	Assets        Collection = "assets"
	Organisations Collection = "organisations"
	APIKeys       Collection = "apiKeys"
	AuditEvents   Collection = "auditEvents"
	People        Collection = "people"
	Referrals     Collection = "referrals"
	Webhooks      Collection = "webhooks"
)

// singular names a collection's resource in error messages.
var singular = map[Collection]string{
	Assets: "asset", Organisations: "organisation", APIKeys: "API key", AuditEvents: "audit event",
	People: "person", Referrals: "referral", Webhooks: "webhook",
}

// Name returns the resource name of id in collection c.
func Name(c Collection, id uuid.UUID) string { return string(c) + "/" + id.String() }

// NameOf is Name for an id already held as a string (as stores return
// them); an empty id gives an empty name, so an unset reference stays
// unset.
func NameOf(c Collection, id string) string {
	if id == "" {
		return ""
	}
	return string(c) + "/" + id
}

// ParseName reads the resource name in field as "{c}/{uuid}" and returns
// the id. A missing or malformed name is a violation on v and returns
// uuid.Nil. Only the canonical spelling is accepted (lower-case hex with
// hyphens, 36 characters): one resource must have one name, or caches,
// audit trails and etags would see two.
func ParseName(v *apierr.InvalidArgument, field string, c Collection, name string) uuid.UUID {
	if name == "" {
		v.Add(field, "is required (a resource name such as %s/3f2504e0-4f89-41d3-9a0c-0305e82c3301)", c)
		return uuid.Nil
	}
	id, ok := parse(c, name)
	if !ok {
		v.Add(field, "%q is not the name of %s %s (expected %s/ and a UUID such as %s/3f2504e0-4f89-41d3-9a0c-0305e82c3301)",
			apierr.Clip(name, 80), article(singular[c]), singular[c], c, c)
		return uuid.Nil
	}
	return id
}

// ParseOptionalName is ParseName for a reference that may be left empty
// (a filter, an optional link): empty gives uuid.Nil and no violation.
func ParseOptionalName(v *apierr.InvalidArgument, field string, c Collection, name string) uuid.UUID {
	if name == "" {
		return uuid.Nil
	}
	return ParseName(v, field, c, name)
}

func parse(c Collection, name string) (uuid.UUID, bool) {
	rest, ok := strings.CutPrefix(name, string(c)+"/")
	if !ok || len(rest) != 36 || strings.ToLower(rest) != rest {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(rest)
	return id, err == nil
}

func article(noun string) string {
	if noun != "" && strings.ContainsRune("aeiouAEIOU", rune(noun[0])) {
		return "an"
	}
	return "a"
}
