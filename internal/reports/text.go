package reports

import (
	"fmt"
	"math"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// The report's wording, in English and in Dutch. The Dutch is written for
// the Welzijn op Recept networks that read it, not translated word for
// word: "buurt" for neighbourhood, "verwijzer" for a referring service,
// "Welzijn op Recept" language for outcomes.

// labels is every fixed text of the report in one language.
type labels struct {
	Lang, Title, Subtitle, Window, Area, Generated, Page, Of, Contents string

	// Coverage: assets and gaps against deprivation.
	Coverage, CoverageIntro, ChildAreas, Population, WithoutAsset, WalkingDistance,
	Decile, DecileNote, MeanPlaces, ShareWithout, MostDeprived, LeastDeprived, Ratio, Gap,
	ConcentrationIndex, ConcentrationNote, Gaps, GapsIntro, AreaCol, AssetsInside, AssetsWithinWalk,
	PlacesPer1000, CoverageScore, NoAssetWithinWalk, NoChildAreas, PlacesChartTitle, PlacesChartDesc string

	// The referral network.
	Network, NetworkIntro, DrawingTitle, DrawingDesc, Referrer, Group, Asset, Other, AnonymousNote,
	Measure, ThisWindow, PreviousWindow, Nodes, Edges, Density, Reciprocity, TopDecileShare,
	CrossQuintileShare, NewTies, LostTies, Referrals, Organisations, Organisation, Kind, Quintile,
	DegreeIn, DegreeOut, StrengthIn, StrengthOut, Betweenness, NoNetwork, LabelledNote string

	// Outcomes.
	Outcomes, OutcomesIntro, Group_, N, SwemwbsChange, ImprovedShare, LifeSatisfaction, Worthwhile,
	Happiness, Anxiety, Overall, ByQuintile, ByCategory, ByProvider, ForestTitle, ForestDesc,
	FewerThan10, CI, NoOutcomes, Ons4Title string

	// What changed.
	Changes, ChangesIntro, From, To, Change, Before, After, Formed, Strengthened, Weakened, Lost,
	NoChanges, AndMore, SuppressedNote, ShadedRows, Points string
}

var texts = map[string]*labels{
	"en": {
		Lang: "en", Title: "Neighbourhood report", Subtitle: "Evidence for the community of practice",
		Window: "Period", Area: "Area", Generated: "Produced", Page: "Page", Of: "of", Contents: "Contents",

		Coverage:      "Assets and gaps against deprivation",
		CoverageIntro: "Community assets in and around the area's neighbourhoods, by how deprived each neighbourhood is (decile 1 is the most deprived tenth).",
		ChildAreas:    "Neighbourhoods", Population: "Residents", WithoutAsset: "Neighbourhoods with no asset within walking distance",
		WalkingDistance: "Walking distance", Decile: "Deprivation decile", DecileNote: "1 = most deprived",
		MeanPlaces: "Weekly places per 1,000 residents", ShareWithout: "Share with no asset within walking distance",
		MostDeprived: "Most deprived fifth", LeastDeprived: "Least deprived fifth", Ratio: "Ratio", Gap: "Difference",
		ConcentrationIndex: "Concentration index",
		ConcentrationNote:  "Below 0: provision is concentrated in the more deprived neighbourhoods; above 0: in the less deprived.",
		Gaps:               "Gaps", GapsIntro: "Neighbourhoods without an asset within walking distance first, then by deprivation.",
		AreaCol: "Neighbourhood", AssetsInside: "Assets inside", AssetsWithinWalk: "Within walking distance",
		PlacesPer1000: "Places per 1,000", CoverageScore: "Coverage score", NoAssetWithinWalk: "no asset within walking distance",
		NoChildAreas:     "The area has no neighbourhoods below it to compare.",
		PlacesChartTitle: "Weekly places per 1,000 residents by deprivation decile",
		PlacesChartDesc:  "Bar chart: the mean weekly places per 1,000 residents for each deprivation decile, 1 the most deprived.",

		Network:      "Referral network",
		NetworkIntro: "Who referred to whom in the period: referring services and practices, and the groups they referred to.",
		DrawingTitle: "Drawing of the referral network",
		DrawingDesc:  "Circles are organisations (blue: referring services and practices; green: groups; orange: assets), sized by the referrals they sent and received; lines are referrals between them.",
		Referrer:     "Referring service", Group: "Group", Asset: "Asset", Other: "Other",
		AnonymousNote: "Organisations that are not public are shown by an anonymous code.",
		Measure:       "Measure", ThisWindow: "This period", PreviousWindow: "Previous period",
		Nodes: "Organisations", Edges: "Ties", Density: "Density", Reciprocity: "Reciprocity (ties returned)",
		TopDecileShare: "Referrals to the top 10% of groups", CrossQuintileShare: "Ties across deprivation quintiles",
		NewTies: "New ties", LostTies: "Lost ties", Referrals: "Referrals", Organisations: "Most active organisations",
		Organisation: "Organisation", Kind: "Kind", Quintile: "Quintile", DegreeIn: "Ties in", DegreeOut: "Ties out",
		StrengthIn: "Referrals in", StrengthOut: "Referrals out", Betweenness: "Betweenness",
		NoNetwork: "No referrals in the period.", LabelledNote: "The drawing names the most active organisations.",

		Outcomes:      "Outcomes",
		OutcomesIntro: "Completed referrals with a baseline and a follow-up: mean change (follow-up minus baseline) with 95% confidence interval.",
		Group_:        "Group", N: "Referrals", SwemwbsChange: "Change in wellbeing (SWEMWBS)", ImprovedShare: "Share improved",
		LifeSatisfaction: "Life satisfaction", Worthwhile: "Worthwhile", Happiness: "Happiness", Anxiety: "Anxiety",
		Overall: "All", ByQuintile: "By deprivation quintile", ByCategory: "By category", ByProvider: "By provider",
		ForestTitle: "Change in wellbeing (SWEMWBS) with 95% confidence intervals",
		ForestDesc:  "Forest plot: for each group, the mean change in SWEMWBS as a point and its 95% confidence interval as a line; the vertical line is no change.",
		FewerThan10: "fewer than 10", CI: "95% CI", NoOutcomes: "No completed referrals with a follow-up in the period.",
		Ons4Title: "ONS4 personal wellbeing, mean change (a fall in anxiety is an improvement)",

		Changes:      "What changed since the previous period",
		ChangesIntro: "Ties that formed, strengthened, weakened or were lost since the previous period of the same length.",
		From:         "From", To: "To", Change: "Change", Before: "Before", After: "After",
		Formed: "formed", Strengthened: "strengthened", Weakened: "weakened", Lost: "lost",
		NoChanges: "No ties changed.", AndMore: "and %s more",
		SuppressedNote: "Small numbers are not shown (\"fewer than 10\") so that no one can be recognised.",
		ShadedRows:     "Shaded rows: no asset within walking distance.",
		Points:         "pp",
	},
	"nl": {
		Lang: "nl", Title: "Buurtrapport", Subtitle: "Onderbouwing voor het lerend netwerk",
		Window: "Periode", Area: "Gebied", Generated: "Opgesteld", Page: "Pagina", Of: "van", Contents: "Inhoud",

		Coverage:      "Voorzieningen en witte vlekken naar achterstand",
		CoverageIntro: "Voorzieningen in en rond de buurten van het gebied, naar de sociaaleconomische positie van elke buurt (deciel 1 is het tiende deel met de grootste achterstand).",
		ChildAreas:    "Buurten", Population: "Inwoners", WithoutAsset: "Buurten zonder voorziening op loopafstand",
		WalkingDistance: "Loopafstand", Decile: "Achterstandsdeciel", DecileNote: "1 = grootste achterstand",
		MeanPlaces: "Plaatsen per week per 1.000 inwoners", ShareWithout: "Aandeel zonder voorziening op loopafstand",
		MostDeprived: "Vijfde met de grootste achterstand", LeastDeprived: "Vijfde met de kleinste achterstand", Ratio: "Verhouding", Gap: "Verschil",
		ConcentrationIndex: "Concentratie-index",
		ConcentrationNote:  "Onder 0: het aanbod zit vooral in buurten met meer achterstand; boven 0: in buurten met minder achterstand.",
		Gaps:               "Witte vlekken", GapsIntro: "Eerst de buurten zonder voorziening op loopafstand, dan naar achterstand.",
		AreaCol: "Buurt", AssetsInside: "Voorzieningen in de buurt", AssetsWithinWalk: "Op loopafstand",
		PlacesPer1000: "Plaatsen per 1.000", CoverageScore: "Dekkingsscore", NoAssetWithinWalk: "geen voorziening op loopafstand",
		NoChildAreas:     "Onder dit gebied liggen geen buurten om te vergelijken.",
		PlacesChartTitle: "Plaatsen per week per 1.000 inwoners naar achterstandsdeciel",
		PlacesChartDesc:  "Staafdiagram: het gemiddelde aantal plaatsen per week per 1.000 inwoners in elk achterstandsdeciel, 1 met de grootste achterstand.",

		Network:      "Verwijzingsnetwerk",
		NetworkIntro: "Wie in deze periode naar wie verwees: verwijzers (welzijnsorganisaties en huisartsenpraktijken) en de groepen waarnaar zij verwezen.",
		DrawingTitle: "Tekening van het verwijzingsnetwerk",
		DrawingDesc:  "Cirkels zijn organisaties (blauw: verwijzers; groen: groepen; oranje: voorzieningen), zo groot als het aantal verwijzingen dat zij stuurden en ontvingen; lijnen zijn verwijzingen tussen hen.",
		Referrer:     "Verwijzer", Group: "Groep", Asset: "Voorziening", Other: "Overig",
		AnonymousNote: "Organisaties die niet openbaar zijn, staan er met een anonieme code.",
		Measure:       "Maat", ThisWindow: "Deze periode", PreviousWindow: "Vorige periode",
		Nodes: "Organisaties", Edges: "Relaties", Density: "Dichtheid", Reciprocity: "Wederkerigheid (relaties over en weer)",
		TopDecileShare: "Verwijzingen naar de top 10% van de groepen", CrossQuintileShare: "Relaties tussen buurten met verschillende achterstand",
		NewTies: "Nieuwe relaties", LostTies: "Verdwenen relaties", Referrals: "Verwijzingen", Organisations: "Meest actieve organisaties",
		Organisation: "Organisatie", Kind: "Soort", Quintile: "Kwintiel", DegreeIn: "Relaties in", DegreeOut: "Relaties uit",
		StrengthIn: "Verwijzingen in", StrengthOut: "Verwijzingen uit", Betweenness: "Brugfunctie",
		NoNetwork: "Geen verwijzingen in deze periode.", LabelledNote: "De tekening noemt de meest actieve organisaties bij naam.",

		Outcomes:      "Uitkomsten",
		OutcomesIntro: "Afgeronde verwijzingen met een voor- en een nameting: gemiddelde verandering (nameting min voormeting) met 95%-betrouwbaarheidsinterval.",
		Group_:        "Groep", N: "Verwijzingen", SwemwbsChange: "Verandering in welbevinden (SWEMWBS)", ImprovedShare: "Aandeel verbeterd",
		LifeSatisfaction: "Tevredenheid met het leven", Worthwhile: "Zinvol leven", Happiness: "Geluk", Anxiety: "Angst",
		Overall: "Alle", ByQuintile: "Naar achterstandskwintiel", ByCategory: "Naar categorie", ByProvider: "Naar aanbieder",
		ForestTitle: "Verandering in welbevinden (SWEMWBS) met 95%-betrouwbaarheidsintervallen",
		ForestDesc:  "Forestplot: per groep de gemiddelde verandering in SWEMWBS als punt en het 95%-betrouwbaarheidsinterval als lijn; de verticale lijn is geen verandering.",
		FewerThan10: "minder dan 10", CI: "95%-BI", NoOutcomes: "Geen afgeronde verwijzingen met een nameting in deze periode.",
		Ons4Title: "ONS4 persoonlijk welbevinden, gemiddelde verandering (minder angst is een verbetering)",

		Changes:      "Wat is er veranderd sinds de vorige periode",
		ChangesIntro: "Relaties die sinds de vorige, even lange periode zijn ontstaan, sterker of zwakker zijn geworden of zijn verdwenen.",
		From:         "Van", To: "Naar", Change: "Verandering", Before: "Voorheen", After: "Nu",
		Formed: "ontstaan", Strengthened: "sterker", Weakened: "zwakker", Lost: "verdwenen",
		NoChanges: "Geen relaties veranderd.", AndMore: "en nog %s",
		SuppressedNote: "Kleine aantallen worden niet getoond (\"minder dan 10\"), zodat niemand herkenbaar is.",
		ShadedRows:     "Gekleurde rijen: geen voorziening op loopafstand.",
		Points:         "procentpunt",
	},
}

// fmtr formats numbers and dates in one language: "1,234.5" and
// "1 July 2026" in English, "1.234,5" and "1 juli 2026" in Dutch.
type fmtr struct {
	t *labels
	p *message.Printer
}

func newFmtr(lang string) fmtr {
	tag := language.BritishEnglish
	if lang == "nl" {
		tag = language.Dutch
	}
	return fmtr{t: texts[lang], p: message.NewPrinter(tag)}
}

var monthNames = map[string][12]string{
	"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	"nl": {"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"},
}

// int is n with thousands separators.
func (f fmtr) int(n int64) string { return f.p.Sprintf("%d", n) }

// dec is x with d decimals; "–" for NaN or infinity.
func (f fmtr) dec(x float64, d int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	if x == 0 || math.Abs(x) < 0.5*math.Pow(10, -float64(d)) {
		x = 0 // no "-0.0"
	}
	return f.p.Sprintf("%.*f", d, x)
}

// signed is x with d decimals and its sign: "+1.2", "−0.4".
func (f fmtr) signed(x float64, d int) string {
	s := f.dec(x, d)
	switch {
	case strings.HasPrefix(s, "-"):
		return "−" + s[1:]
	case s != "–" && strings.Trim(s, "0.,") != "":
		return "+" + s
	}
	return s
}

// pct is a share (0 to 1) as a percentage with one decimal.
func (f fmtr) pct(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return f.dec(100*x, 1) + "%"
}

// opt is an optional figure, "–" when absent.
func (f fmtr) opt(x *float64, d int) string {
	if x == nil {
		return "–"
	}
	return f.dec(*x, d)
}

// count is a released count; a suppressed one reads "fewer than 10" (the
// rule withholds 1 to 7, and values are rounded to 5).
func (f fmtr) count(c *sparcv1.StatCount) string {
	if c.GetSuppressed() {
		return f.t.FewerThan10
	}
	return f.int(c.GetValue())
}

// date is t's day in words: "1 July 2026", "1 juli 2026".
func (f fmtr) date(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%d %s %d", t.Day(), monthNames[f.t.Lang][t.Month()-1], t.Year())
}

// period names [start, end) in words: "July to September 2026" for whole
// months, else the first and last day.
func (f fmtr) period(start, end time.Time) string {
	start, end = start.UTC(), end.UTC()
	if start.IsZero() || !start.Before(end) {
		return "–"
	}
	last := end.AddDate(0, 0, -1)
	to := map[string]string{"en": " to ", "nl": " tot en met "}[f.t.Lang]
	m := monthNames[f.t.Lang]
	if start.Day() == 1 && end.Day() == 1 {
		switch {
		case start.Year() == last.Year() && start.Month() == last.Month():
			return fmt.Sprintf("%s %d", m[start.Month()-1], start.Year())
		case start.Year() == last.Year():
			return fmt.Sprintf("%s%s%s %d", m[start.Month()-1], to, m[last.Month()-1], start.Year())
		}
		return fmt.Sprintf("%s %d%s%s %d", m[start.Month()-1], start.Year(), to, m[last.Month()-1], last.Year())
	}
	return f.date(start) + to + f.date(last)
}

// kindLabel names a node's kind.
func (f fmtr) kindLabel(k sparcv1.NetworkNodeKind) string {
	switch k {
	case sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_REFERRER:
		return f.t.Referrer
	case sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_GROUP:
		return f.t.Group
	case sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_ASSET:
		return f.t.Asset
	}
	return f.t.Other
}

// changeLabel names a tie's change.
func (f fmtr) changeLabel(k sparcv1.TieChangeKind) string {
	switch k {
	case sparcv1.TieChangeKind_TIE_CHANGE_KIND_FORMED:
		return f.t.Formed
	case sparcv1.TieChangeKind_TIE_CHANGE_KIND_STRENGTHENED:
		return f.t.Strengthened
	case sparcv1.TieChangeKind_TIE_CHANGE_KIND_WEAKENED:
		return f.t.Weakened
	case sparcv1.TieChangeKind_TIE_CHANGE_KIND_LOST:
		return f.t.Lost
	}
	return "–"
}

// andMore is "and 12 more" / "en nog 12".
func (f fmtr) andMore(n int) string { return fmt.Sprintf(f.t.AndMore, f.int(int64(n))) }
