package postcodes

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sparc-network/sparc/internal/apierr"
)

// Countries whose postcodes SPARC knows.
const (
	GB = "GB"
	NL = "NL"
)

// maxInput bounds what Parse looks at: the longest postcode with generous
// spacing is far shorter, and a long input is refused before any work.
const maxInput = 32

// GB postcodes (BS 7666): the outward code is one of A9, A99, A9A, AA9,
// AA99, AA9A; the inward code a digit and two letters, never C, I, K, M,
// O or V. Q, V and X never start a postcode, I, J and Z are never its
// second letter.
var (
	gbOutward = regexp.MustCompile(`^(?:[A-PR-UWYZ][0-9]{1,2}|[A-PR-UWYZ][A-HK-Y][0-9]{1,2}|[A-PR-UWYZ][0-9][A-HJKPSTUW]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])$`)
	gbInward  = regexp.MustCompile(`^[0-9][ABD-HJLNP-UW-Z]{2}$`)
	// Dutch postcodes: four digits, the first not 0, then two letters
	// (optional here: the data and most searches are by PC4).
	nlCode = regexp.MustCompile(`^([1-9][0-9]{3})([A-Z]{2})?$`)
)

// Code is a normalised postcode.
type Code struct {
	// Country is GB or NL.
	Country string
	// Display is the postcode as an address writes it: "B1 1BB",
	// "3039 AK" (or "3039" when only the PC4 was given).
	Display string
	// Key is what the data is keyed by: "B1 1BB"; "3039" (the Dutch data
	// is by PC4).
	Key string
	// Sector and District are the fallbacks' keys: "B1 1" and "B1"; for
	// NL the first three and two digits.
	Sector, District string
}

// Name is the postcode's resource name, "postcodes/" and the key in
// capitals without its space: "postcodes/B11BB", "postcodes/3039".
func (c Code) Name() string { return Collection + "/" + strings.ReplaceAll(c.Key, " ", "") }

// Collection is the postcodes' collection in resource names.
const Collection = "postcodes"

// ErrNotPostcode says an input is not a postcode; its message says why,
// for a field violation.
var ErrNotPostcode = errors.New("not a postcode")

func notPostcode(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNotPostcode}, args...)...)
}

// Parse normalises s, a postcode in any case and spacing, for country (GB
// or NL; empty: decided by the postcode, which cannot be both since a
// British one starts with a letter and a Dutch one with a digit). Only
// ASCII letters and digits count, with spaces between them anywhere, so
// look-alike letters ("ſ" upper-cases to "S") and control characters are
// refused, not folded.
func Parse(country, s string) (Code, error) {
	if len(s) > maxInput {
		return Code{}, notPostcode("is %d bytes, longer than any postcode", len(s))
	}
	if !utf8.ValidString(s) {
		return Code{}, notPostcode("is not valid UTF-8")
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ' || r == '\t' || r == '\u00a0':
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(unicode.ToUpper(r))
		default:
			return Code{}, notPostcode("holds %q: a postcode has only letters, digits and spaces", r)
		}
	}
	c := b.String()
	if c == "" {
		return Code{}, notPostcode("is empty")
	}
	switch country {
	case "":
		if c[0] >= '0' && c[0] <= '9' {
			return parseNL(c)
		}
		return parseGB(c)
	case GB:
		return parseGB(c)
	case NL:
		return parseNL(c)
	}
	return Code{}, fmt.Errorf("country %q has no postcodes SPARC knows (GB or NL)", country)
}

func parseGB(c string) (Code, error) {
	if len(c) < 5 || len(c) > 7 {
		return Code{}, notPostcode("%q is not a British postcode (like B1 1BB or SW1A 1AA)", c)
	}
	out, in := c[:len(c)-3], c[len(c)-3:]
	if !gbOutward.MatchString(out) || !gbInward.MatchString(in) {
		return Code{}, notPostcode("%q is not a British postcode (like B1 1BB or SW1A 1AA)", out+" "+in)
	}
	key := out + " " + in
	return Code{Country: GB, Display: key, Key: key, Sector: out + " " + in[:1], District: out}, nil
}

func parseNL(c string) (Code, error) {
	m := nlCode.FindStringSubmatch(c)
	if m == nil {
		return Code{}, notPostcode("%q is not a Dutch postcode (like 3039 AK or 3039)", c)
	}
	display := m[1]
	if m[2] != "" {
		display += " " + m[2]
	}
	return Code{Country: NL, Display: display, Key: m[1], Sector: m[1][:3], District: m[1][:2]}, nil
}

// ParseName reads a postcode's resource name, "postcodes/{code}" with the
// code in any case and spacing.
func ParseName(name string) (Code, error) {
	code, ok := strings.CutPrefix(name, Collection+"/")
	if !ok || strings.Contains(code, "/") {
		return Code{}, fmt.Errorf("%w: %q is not a postcode's name (postcodes/{postcode}, e.g. postcodes/B11BB)", ErrNotPostcode, apierr.Clip(name, 64))
	}
	return Parse("", code)
}
