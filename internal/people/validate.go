package people

import (
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/vocab"
)

var contactCode = map[sparcv1.ContactMethod]string{
	sparcv1.ContactMethod_CONTACT_METHOD_UNSPECIFIED: "unspecified",
	sparcv1.ContactMethod_CONTACT_METHOD_PHONE:       "phone",
	sparcv1.ContactMethod_CONTACT_METHOD_EMAIL:       "email",
	sparcv1.ContactMethod_CONTACT_METHOD_POST:        "post",
	sparcv1.ContactMethod_CONTACT_METHOD_IN_PERSON:   "in_person",
}

var scopeCode = map[sparcv1.ConsentScope]string{
	sparcv1.ConsentScope_CONSENT_SCOPE_BASIC:   "basic",
	sparcv1.ConsentScope_CONSENT_SCOPE_CONTACT: "contact",
	sparcv1.ConsentScope_CONSENT_SCOPE_NOTES:   "notes",
}

var (
	contactFromCode = vocab.FromCodes(contactCode)
	scopeFromCode   = vocab.FromCodes(scopeCode)
	ageBands        = map[string]bool{"0-15": true, "16-17": true, "18-24": true, "25-34": true, "35-44": true,
		"45-54": true, "55-64": true, "65-74": true, "75+": true}
	phoneRe = regexp.MustCompile(`^\+?[0-9 ()\-]{5,32}$`)
)

// ValidNHSNumber applies the NHS number modulus 11 check.
func ValidNHSNumber(s string) bool {
	if len(s) != 10 {
		return false
	}
	sum := 0
	for i := 0; i < 9; i++ {
		d := s[i] - '0'
		if d > 9 {
			return false
		}
		sum += int(d) * (10 - i)
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	return check != 10 && s[9] >= '0' && s[9] <= '9' && int(s[9]-'0') == check
}

func normaliseNHS(s string) string {
	return strings.NewReplacer(" ", "", "-", "").Replace(s)
}

// outward returns the part of a postcode analytics may use: the GB outward
// code ("B7 4AL" → "B7") or the NL digits ("3011 AB" → "3011").
func outward(postcode string) string {
	p := strings.ToUpper(strings.ReplaceAll(postcode, " ", ""))
	if len(p) >= 4 && p[0] >= '0' && p[0] <= '9' {
		return p[:4]
	}
	if len(p) >= 5 {
		return p[:len(p)-3]
	}
	return ""
}

func validatePerson(p *sparcv1.Person, v *apierr.InvalidArgument) {
	aip.Text(v, "person.display_name", p.GetDisplayName(), true, 100) // initials are enough
	if b := p.GetAgeBand(); b != "" && !ageBands[b] {
		v.Add("person.age_band", "%q is not an age band (0-15, 16-17, 18-24, 25-34, 35-44, 45-54, 55-64, 65-74, 75+)", b)
	}
	if y := p.GetYearOfBirth(); y != 0 && (y < 1900 || y > int32(time.Now().Year())) {
		v.Add("person.year_of_birth", "must be between 1900 and this year")
	}
	aip.Text(v, "person.postcode", p.GetPostcode(), false, 10)
	if _, ok := contactCode[p.GetContactMethod()]; !ok {
		v.Add("person.contact_method", "unknown contact method")
	}
	if c := p.GetContact(); c != nil {
		if c.GetPhone() != "" && !phoneRe.MatchString(c.GetPhone()) {
			v.Add("person.contact.phone", "is not a phone number")
		}
		if e := c.GetEmail(); e != "" {
			if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
				v.Add("person.contact.email", "is not a plain email address")
			}
		}
		aip.Text(v, "person.contact.address", c.GetAddress(), false, 500)
	}
	if n := p.GetNhsNumber(); n != "" && !ValidNHSNumber(n) {
		v.Add("person.nhs_number", "is not a valid NHS number (10 digits passing the modulus 11 check)")
	}
	aip.Text(v, "person.what_matters", p.GetWhatMatters(), false, 2000)
	for i, n := range p.GetNeeds() {
		if !vocab.IsCategory(n) {
			v.Add(fmt.Sprintf("person.needs[%d]", i), "unknown category %q", n)
		}
	}
	for i, sc := range p.GetConsent().GetScopes() {
		if _, ok := scopeCode[sc]; !ok {
			v.Add(fmt.Sprintf("person.consent.scopes[%d]", i), "unknown consent scope")
		}
	}
}

func prepare(p *sparcv1.Person) {
	p.DisplayName = strings.TrimSpace(p.DisplayName)
	p.Postcode = strings.ToUpper(strings.TrimSpace(p.Postcode))
	p.NhsNumber = normaliseNHS(p.NhsNumber)
	if c := p.GetConsent(); c != nil && c.GetShareWithProvider() && c.GetConsentTime() == nil {
		c.ConsentTime = timestamppb.Now()
	}
}

// personFields are what UpdatePerson may change (AIP-134 masks, with
// "contact.phone" and "consent.scopes" as sub-paths); the output-only
// fields a client may send back are skipped.
var personFields = aip.NewFields(&sparcv1.Person{},
	[]string{"display_name", "age_band", "year_of_birth", "postcode", "contact_method", "contact", "nhs_number",
		"what_matters", "needs", "consent"},
	"name", "organisation", "create_time", "update_time", "etag")

// searchKey is a SearchPeople request, checked and normalised: one of an
// NHS number, a name range (nameLower <= lower(name) < nameUpper) with an
// optional year, or a postcode without spaces.
type searchKey struct {
	nhs                  string
	nameLower, nameUpper string
	year                 *int32
	bands                []string
	postcode             string
}

func parseSearch(req *sparcv1.SearchPeopleRequest, v *apierr.InvalidArgument) searchKey {
	var k searchKey
	keys := 0
	if n := req.GetNhsNumber(); n != "" {
		keys++
		k.nhs = normaliseNHS(n)
		if !ValidNHSNumber(k.nhs) {
			v.Add("nhs_number", "is not a valid NHS number (10 digits passing the modulus 11 check)")
		}
	}
	if p := req.GetDisplayNamePrefix(); p != "" {
		keys++
		aip.Text(v, "display_name_prefix", p, true, 100)
		k.nameLower = strings.ToLower(strings.TrimSpace(p))
		if utf8.RuneCountInString(k.nameLower) < 2 {
			v.Add("display_name_prefix", "must have at least 2 characters")
		}
		k.nameUpper = prefixEnd(k.nameLower)
	}
	if y := req.GetYearOfBirth(); y != 0 {
		if req.GetDisplayNamePrefix() == "" {
			v.Add("year_of_birth", "narrows a search by display_name_prefix; set one")
		}
		if y < 1900 || y > int32(time.Now().Year()) {
			v.Add("year_of_birth", "must be between 1900 and this year")
		}
		k.year, k.bands = &y, bandsOfYear(y, time.Now().Year())
	}
	if pc := req.GetPostcode(); pc != "" {
		keys++
		aip.Text(v, "postcode", pc, false, 10)
		k.postcode = strings.ToUpper(strings.Join(strings.Fields(pc), ""))
		if k.postcode == "" {
			v.Add("postcode", "is blank")
		}
	}
	if keys != 1 {
		v.Add("nhs_number", "set exactly one of nhs_number, display_name_prefix and postcode")
	}
	return k
}

// prefixEnd is the least string above every string starting with p in
// byte order (the "C" collation people_by_name uses): p with its last
// rune incremented, as UTF-8 orders like code points (trailing U+10FFFF
// carry over; all of them: a bound above any name).
func prefixEnd(p string) string {
	rs := []rune(p)
	for len(rs) > 0 && rs[len(rs)-1] == unicode.MaxRune {
		rs = rs[:len(rs)-1]
	}
	if len(rs) == 0 {
		return strings.Repeat(string(unicode.MaxRune), utf8.RuneCountInString(p)+1)
	}
	next := rs[len(rs)-1] + 1
	if next >= 0xD800 && next <= 0xDFFF { // surrogates are not characters
		next = 0xE000
	}
	rs[len(rs)-1] = next
	return string(rs)
}

// bandsOfYear are the age bands of someone born in year: their age is
// now-year or one less, depending on their birthday. "" stands for people
// without a band, whom a year cannot rule out either.
func bandsOfYear(year int32, now int) []string {
	bands := []string{""}
	for _, age := range []int{now - int(year) - 1, now - int(year)} {
		if b := bandOf(age); b != "" && !slices.Contains(bands, b) {
			bands = append(bands, b)
		}
	}
	return bands
}

func bandOf(age int) string {
	switch {
	case age < 0:
		return ""
	case age <= 15:
		return "0-15"
	case age <= 17:
		return "16-17"
	case age <= 24:
		return "18-24"
	case age >= 75:
		return "75+"
	}
	lo := (age-25)/10*10 + 25
	return fmt.Sprintf("%d-%d", lo, lo+9)
}
