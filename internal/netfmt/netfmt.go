// Package netfmt checks the two contact formats that Open Referral UK's
// schemas assert, "uri" (RFC 3986) and "email" (RFC 5321 mailbox), so
// that SPARC refuses a website or email address on the way in (native API
// and ORUK import alike) rather than storing one that later makes
// /openreferral/services fail the official validator. The rules follow
// what JSON Schema validators check for these formats, narrowed to what a
// listing's contact can sensibly be: an http(s) URL with a host name, and
// an unquoted address at a domain with a dot.
package netfmt

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// MaxURI is the longest website kept.
const MaxURI = 2000

// MaxEmail is RFC 5321's limit on a forward path.
const MaxEmail = 254

// Website checks an http(s) URL as RFC 3986 defines an absolute URI:
// only its characters (a space, quote, bracket or non-ASCII letter must be
// percent-encoded), a valid host name or IP address, an optional numeric
// port.
func Website(s string) error {
	if len(s) > MaxURI {
		return errors.New("is longer than " + strconv.Itoa(MaxURI) + " characters")
	}
	rest, ok := cutScheme(s)
	if !ok {
		return errors.New("is not an http(s) URL (it must start with http:// or https://)")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return errors.New("has a % that is not followed by two hex digits")
			}
		case !uriChar(c):
			return errors.New("holds " + strconv.QuoteRune(rune(c)) + ", which a URI must percent-encode")
		}
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if strings.Contains(authority, "@") {
		return errors.New("holds a user name or password; give the public address")
	}
	host := authority
	if strings.HasPrefix(host, "[") {
		end := strings.Index(host, "]")
		if end < 0 {
			return errors.New("has an unclosed [ in its host")
		}
		addr, err := netip.ParseAddr(host[1:end])
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return errors.New("has a host in [ ] that is not an IPv6 address")
		}
		return port(host[end+1:])
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		if err := port(host[i:]); err != nil {
			return err
		}
		host = host[:i]
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if err := hostname(host); err != nil {
		return errors.New("has a host that is not a host name: " + err.Error())
	}
	return nil
}

func cutScheme(s string) (string, bool) {
	lower := strings.ToLower(s)
	for _, p := range []string{"https://", "http://"} {
		if strings.HasPrefix(lower, p) {
			return s[len(p):], true
		}
	}
	return "", false
}

// port checks ":digits" (or nothing).
func port(s string) error {
	if s == "" {
		return nil
	}
	if s[0] != ':' {
		return errors.New("has text after its host")
	}
	if n, err := strconv.Atoi(s[1:]); err != nil || n < 0 || n > 65535 || s[1:] == "" {
		return errors.New("has a port that is not a number from 0 to 65535")
	}
	return nil
}

// uriChar is an RFC 3986 unreserved or reserved character.
func uriChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~:/?#[]@!$&'()*+,;=", c) >= 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// hostname checks a DNS host name: labels of 1 to 63 letters, digits and
// hyphens, not starting or ending with a hyphen, 253 characters at most.
func hostname(s string) error {
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return errors.New("it is empty")
	}
	if len(s) > 253 {
		return errors.New("it is longer than 253 characters")
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) < 1 || len(label) > 63 {
			return errors.New("each part between dots must be 1 to 63 characters")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("a part starts or ends with a hyphen")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return errors.New("it holds " + strconv.QuoteRune(rune(c)) + " (letters, digits and hyphens only)")
			}
		}
	}
	return nil
}

// Email checks a plain address, local@domain: a dot-atom local part of at
// most 64 characters (no quoted forms, no display name) and a domain that
// is a host name with at least one dot.
func Email(s string) error {
	if len(s) > MaxEmail {
		return errors.New("is longer than " + strconv.Itoa(MaxEmail) + " characters")
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return errors.New("has no @")
	}
	local, domain := s[:at], s[at+1:]
	switch {
	case local == "":
		return errors.New("has nothing before the @")
	case len(local) > 64:
		return errors.New("has more than 64 characters before the @")
	case local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, ".."):
		return errors.New("has a dot at the start or end of its name, or two in a row")
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".!#$%&'*+-/=?^_`{|}~", c) >= 0) {
			return errors.New("holds " + strconv.QuoteRune(rune(c)) + " before the @")
		}
	}
	if !strings.Contains(strings.TrimSuffix(domain, "."), ".") {
		return errors.New("has a domain without a dot")
	}
	if err := hostname(domain); err != nil {
		return errors.New("has a domain that is not a host name: " + err.Error())
	}
	return nil
}
