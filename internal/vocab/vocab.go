// Package vocab is SPARC's controlled vocabulary: the category and
// accessibility codes an asset may carry, with English and Dutch labels.
// Codes are stable API values (never renamed; retire a code by adding a new
// one); labels may be improved at any time.
package vocab

// Term is one entry of a vocabulary.
type Term struct {
	Code, LabelEN, LabelNL string
}

// Categories are what an activity offers, shared with the referral reasons
// and coverage maps.
var Categories = []Term{
	{"physical_activity", "Physical activity", "Bewegen en sport"},
	{"arts_creativity", "Arts and creativity", "Kunst en creativiteit"},
	{"nature_green_space", "Nature and green space", "Natuur en groen"},
	{"social_connection", "Social connection", "Sociale contacten"},
	{"learning_skills", "Learning and skills", "Leren en vaardigheden"},
	{"volunteering", "Volunteering", "Vrijwilligerswerk"},
	{"food", "Food", "Eten en voeding"},
	{"money_debt_advice", "Money and debt advice", "Geld- en schuldhulp"},
	{"housing", "Housing", "Wonen"},
	{"employment", "Employment", "Werk"},
	{"mental_wellbeing", "Mental wellbeing", "Mentaal welzijn"},
	{"carers", "Carers", "Mantelzorg"},
	{"faith", "Faith", "Geloof en zingeving"},
	{"digital_inclusion", "Digital inclusion", "Digitale inclusie"},
	{"long_term_condition", "Long-term condition support", "Ondersteuning bij chronische aandoeningen"},
	{"children_families", "Children and families", "Kinderen en gezinnen"},
}

// Accessibility lists the features a venue or activity can offer.
var Accessibility = []Term{
	{"step_free_access", "Step-free access", "Drempelvrij toegankelijk"},
	{"wheelchair_accessible", "Wheelchair accessible", "Rolstoeltoegankelijk"},
	{"accessible_toilet", "Accessible toilet", "Invalidentoilet"},
	{"hearing_loop", "Hearing loop", "Ringleiding"},
	{"sign_language", "Sign language", "Gebarentaal"},
	{"large_print", "Large print materials", "Grootletter materiaal"},
	{"quiet_space", "Quiet space", "Stilteruimte"},
	{"parking", "Parking", "Parkeren"},
	{"public_transport", "Near public transport", "Bij openbaar vervoer"},
	{"assistance_dogs", "Assistance dogs welcome", "Hulphonden welkom"},
	{"dementia_friendly", "Dementia friendly", "Dementievriendelijk"},
}

// List says which vocabulary a term is in.
type List int

// The vocabularies.
const (
	CategoryList List = iota + 1
	AccessibilityList
)

// Listed is a term with the vocabulary it is in.
type Listed struct {
	Term
	List List
}

// All is every term, categories first, each vocabulary in its published
// order: the order the API lists them in, a page at a time.
var All = func() []Listed {
	out := make([]Listed, 0, len(Categories)+len(Accessibility))
	for _, t := range Categories {
		out = append(out, Listed{t, CategoryList})
	}
	for _, t := range Accessibility {
		out = append(out, Listed{t, AccessibilityList})
	}
	return out
}()

var (
	categorySet      = index(Categories)
	accessibilitySet = index(Accessibility)
	position         = func() map[string]int {
		m := make(map[string]int, len(All))
		for i, t := range All {
			m[t.Code] = i
		}
		return m
	}()
)

// After returns the index in All of the term after the one with code, the
// start of the page after a page that ended with code. ok is false when no
// term has the code.
func After(code string) (i int, ok bool) {
	i, ok = position[code]
	return i + 1, ok
}

func index(ts []Term) map[string]bool {
	m := make(map[string]bool, len(ts))
	for _, t := range ts {
		m[t.Code] = true
	}
	return m
}

// IsCategory reports whether code is a known category code.
func IsCategory(code string) bool { return categorySet[code] }

// IsAccessibility reports whether code is a known accessibility code.
func IsAccessibility(code string) bool { return accessibilitySet[code] }

// FromCodes inverts a table of stored codes (enum value → code, as the
// domain packages keep for their API enums) to read codes back.
func FromCodes[K comparable](codes map[K]string) map[string]K {
	r := make(map[string]K, len(codes))
	for k, v := range codes {
		r[v] = k
	}
	return r
}
