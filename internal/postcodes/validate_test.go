package postcodes_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sparc-network/sparc/internal/postcodes"
)

func TestParseNormalisesEachCountryInAnyCaseAndSpacing(t *testing.T) {
	for _, c := range []struct {
		country, in                             string
		wantCountry, display, key, sector, dist string
	}{
		{"", "B1 1BB", "GB", "B1 1BB", "B1 1BB", "B1 1", "B1"},
		{"", "b11bb", "GB", "B1 1BB", "B1 1BB", "B1 1", "B1"},
		{"GB", "  b1   1bb ", "GB", "B1 1BB", "B1 1BB", "B1 1", "B1"},
		{"", "sw1a1aa", "GB", "SW1A 1AA", "SW1A 1AA", "SW1A 1", "SW1A"},
		{"", "Ch41 5lH", "GB", "CH41 5LH", "CH41 5LH", "CH41 5", "CH41"},
		{"", "W1A 0AX", "GB", "W1A 0AX", "W1A 0AX", "W1A 0", "W1A"},
		{"", "np20\t1aa", "GB", "NP20 1AA", "NP20 1AA", "NP20 1", "NP20"},
		{"", "3039 AK", "NL", "3039 AK", "3039", "303", "30"},
		{"NL", "3039ak", "NL", "3039 AK", "3039", "303", "30"},
		{"", " 3039 ", "NL", "3039", "3039", "303", "30"},
		{"NL", "3 0 3 9 a k", "NL", "3039 AK", "3039", "303", "30"},
	} {
		got, err := postcodes.Parse(c.country, c.in)
		if err != nil {
			t.Errorf("Parse(%q, %q): %v", c.country, c.in, err)
			continue
		}
		want := postcodes.Code{Country: c.wantCountry, Display: c.display, Key: c.key, Sector: c.sector, District: c.dist}
		if got != want {
			t.Errorf("Parse(%q, %q) = %+v, want %+v", c.country, c.in, got, want)
		}
	}
	if n := (postcodes.Code{Key: "B1 1BB"}).Name(); n != "postcodes/B11BB" {
		t.Errorf("name %q", n)
	}
}

func TestParseRefusesWhatIsNotAPostcodeOfTheCountry(t *testing.T) {
	for _, c := range []struct{ country, in string }{
		{"", ""}, {"", "   "}, {"", "B1"}, {"", "B1 1"}, {"", "hello world"},
		{"", "Q1 1AA"},   // Q never starts a postcode
		{"", "B1 1CA"},   // C never in the inward code
		{"", "BI1 1AA"},  // I never the second letter
		{"", "B1 1BBB"},  // too long
		{"NL", "B1 1BB"}, // a British postcode is not Dutch
		{"GB", "3039 AK"},
		{"", "0123 AB"}, // Dutch postcodes do not start with 0
		{"", "3039 A"},  // one letter
		{"", "30391"},   // five digits
		{"", "3039-AK"}, // punctuation
		{"", "B1\x001BB"},
		{"", "B1 1B\xff"},
		{"", "bſ1 1bb"},         // ſ upper-cases to S: refused, not folded
		{"", "Ｂ1 1BB"},          // full-width letter
		{"", "B1\u200b1BB"},     // zero-width space
		{"", "B1 1BB'; DROP--"}, // SQL is never built from it, and it is no postcode
		{"", strings.Repeat("B", 1000)},
		{"FR", "75001"},
	} {
		if got, err := postcodes.Parse(c.country, c.in); err == nil {
			t.Errorf("Parse(%q, %q) = %+v, want an error", c.country, c.in, got)
		}
	}
	if _, err := postcodes.Parse("", "B1"); !errors.Is(err, postcodes.ErrNotPostcode) {
		t.Errorf("error %v is not ErrNotPostcode", err)
	}
	for _, name := range []string{"B11BB", "postcodes/", "postcodes/B1/1BB", "areas/B11BB", "postcodes/B1 1"} {
		if _, err := postcodes.ParseName(name); err == nil {
			t.Errorf("ParseName(%q) accepted", name)
		}
	}
	if c, err := postcodes.ParseName("postcodes/b1%201bb"); err == nil {
		t.Errorf("ParseName accepted an escaped name: %+v", c) // the gateway unescapes; % is no postcode character
	}
	if c, err := postcodes.ParseName("postcodes/b1 1bb"); err != nil || c.Key != "B1 1BB" {
		t.Errorf("ParseName(postcodes/b1 1bb) = %+v, %v", c, err)
	}
}
