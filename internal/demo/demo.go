// Package demo builds SPARC's demo directory: a few hundred clearly marked
// example assets placed at real neighbourhood locations (inside real 2011
// LSOA boundaries of Birmingham, Wirral and Gwent, and in Rotterdam
// neighbourhoods), so a new user sees a working map at once. The output is
// deterministic: the same ids and places every time, so loading twice does
// not duplicate anything. LoadHistory adds a year of referral history
// (history.go) for the relational analytics to show.
package demo

import (
	"embed"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
)

//go:embed data/*.geojson
var boundaries embed.FS

// namespace seeds the deterministic demo ids.
var namespace = uuid.MustParse("6f1c2a52-3d0e-4c7b-9a55-5e3b0d9c2f10")

// Region is a demo region with its LSOA boundaries file.
type Region struct {
	Name, File string
	Count      int
}

// Regions are the UK demo regions and how many assets each gets.
var Regions = []Region{
	{"Birmingham", "data/birmingham-lsoa-2011.geojson", 130},
	{"Wirral", "data/wirral-lsoa-2011.geojson", 60},
	{"Gwent", "data/gwent-lsoa-2011.geojson", 70},
}

// Area is one neighbourhood polygon of a demo region.
type Area struct {
	Code, Name, Locality string
	Rings                [][][2]float64 // first ring of each polygon part: lon, lat
}

// LoadAreas reads the embedded LSOA boundaries of a region.
func LoadAreas(r Region) ([]Area, error) {
	b, err := boundaries.ReadFile(r.File)
	if err != nil {
		return nil, err
	}
	var fc struct {
		Features []struct {
			Properties struct {
				Code, Name string
				LadName    string `json:"lad_name"`
			}
			Geometry struct {
				Type        string
				Coordinates json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(b, &fc); err != nil {
		return nil, fmt.Errorf("%s: %w", r.File, err)
	}
	var out []Area
	for _, f := range fc.Features {
		a := Area{Code: f.Properties.Code, Name: f.Properties.Name, Locality: f.Properties.LadName}
		switch f.Geometry.Type {
		case "Polygon":
			var p [][][2]float64
			if err := json.Unmarshal(f.Geometry.Coordinates, &p); err != nil {
				return nil, err
			}
			a.Rings = append(a.Rings, p[0])
		case "MultiPolygon":
			var mp [][][][2]float64
			if err := json.Unmarshal(f.Geometry.Coordinates, &mp); err != nil {
				return nil, err
			}
			for _, p := range mp {
				a.Rings = append(a.Rings, p[0])
			}
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out, nil
}

// rotterdam lists real Rotterdam neighbourhoods (wijken) and their centres.
var rotterdam = []struct {
	Name     string
	Lat, Lng float64
}{
	{"Delfshaven", 51.9105, 4.4430}, {"Feijenoord", 51.8990, 4.5030}, {"Charlois", 51.8830, 4.4800},
	{"IJsselmonde", 51.8830, 4.5500}, {"Kralingen", 51.9230, 4.5050}, {"Noord", 51.9330, 4.4720},
	{"Hillegersberg", 51.9480, 4.4900}, {"Prins Alexander", 51.9400, 4.5550}, {"Overschie", 51.9400, 4.4250},
	{"Centrum", 51.9200, 4.4790}, {"Crooswijk", 51.9280, 4.4930}, {"Hoogvliet", 51.8620, 4.3550},
}

// Assets returns the whole demo directory.
func Assets() ([]*sparcv1.Asset, error) {
	rng := rand.New(rand.NewPCG(2026, 11))
	var out []*sparcv1.Asset
	for _, r := range Regions {
		areas, err := LoadAreas(r)
		if err != nil {
			return nil, err
		}
		for i := 0; i < r.Count; i++ {
			area := areas[rng.IntN(len(areas))]
			lng, lat := PointIn(area.Rings, rng)
			t := templatesGB[rng.IntN(len(templatesGB))]
			a := t.asset(rng, fmt.Sprintf("%s, %s", t.Name, area.Name), area.Locality, "GB", "Europe/London", lat, lng)
			key := fmt.Sprintf("%s/%d", r.Name, i)
			a.Name = aip.Name(aip.Assets, uuid.NewSHA1(namespace, []byte(key)))
			placeGB(a, r.Name, area, key)
			out = append(out, a)
		}
	}
	for i := 0; i < 60; i++ {
		n := rotterdam[i%len(rotterdam)]
		lat := n.Lat + (rng.Float64()-0.5)*0.012
		lng := n.Lng + (rng.Float64()-0.5)*0.018
		t := templatesNL[rng.IntN(len(templatesNL))]
		a := t.asset(rng, fmt.Sprintf("%s %s", t.Name, n.Name), "Rotterdam", "NL", "Europe/Amsterdam", lat, lng)
		key := fmt.Sprintf("Rotterdam/%d", i)
		a.Name = aip.Name(aip.Assets, uuid.NewSHA1(namespace, []byte(key)))
		placeNL(a, key)
		out = append(out, a)
	}
	for _, f := range fixed {
		out = append(out, f.asset())
	}
	return out, nil
}

// fixedAsset is a demo asset placed by hand rather than drawn at random:
// the documentation's examples (the README's filtered search, the
// referral walk-through, the CLI's link-worker search) name or find
// these, so they work whatever the random draw places elsewhere.
type fixedAsset struct {
	key               string // seeds the id
	template          template
	name, locality    string
	address, postcode string
	phone             string
	lat, lng          float64
	day               sparcv1.Weekday
}

// fixed are the hand-placed demo assets. Their ids never change, and
// they are appended after the drawn ones so those keep theirs.
var fixed = []fixedAsset{
	{
		// Central Birmingham, about 1.5 km west of the README's search
		// point; Tuesdays 10:00-11:30, free, step-free, taking referrals
		// with 25 places a session.
		key: "Fixed/ladywood-walking-group", template: templatesGB[0], name: "Ladywood walking group",
		locality: "Birmingham", address: "Reservoir gates, 12 Foundry Walk", postcode: "B1 3XJ",
		phone: "0121 496 0500", lat: 52.481700, lng: -1.910500, day: tue,
	},
}

// LadywoodWalkingGroup is the asset the README's referral walk-through
// refers to.
var LadywoodWalkingGroup = aip.Name(aip.Assets, uuid.NewSHA1(namespace, []byte(fixed[0].key)))

func (f fixedAsset) asset() *sparcv1.Asset {
	a := f.template.asset(rand.New(rand.NewPCG(0, 0)), f.name, f.locality, "GB", "Europe/London", f.lat, f.lng)
	a.Name = aip.Name(aip.Assets, uuid.NewSHA1(namespace, []byte(f.key)))
	a.AcceptingReferrals = true
	a.Location.Address, a.Location.Postcode = f.address, f.postcode
	a.Sessions[0].Day = f.day
	setPhone(a, f.phone)
	return a
}

// PointIn returns a pseudo-random point inside the polygon parts, by
// rejection sampling in the bounding box of a randomly chosen part.
func PointIn(rings [][][2]float64, rng *rand.Rand) (lng, lat float64) {
	ring := rings[rng.IntN(len(rings))]
	minX, minY, maxX, maxY := ring[0][0], ring[0][1], ring[0][0], ring[0][1]
	for _, p := range ring {
		minX, maxX = min(minX, p[0]), max(maxX, p[0])
		minY, maxY = min(minY, p[1]), max(maxY, p[1])
	}
	for range 1000 {
		x, y := minX+rng.Float64()*(maxX-minX), minY+rng.Float64()*(maxY-minY)
		if InRing(ring, x, y) {
			return x, y
		}
	}
	return ring[0][0], ring[0][1]
}

// InRing is the even-odd ray casting test (lon/lat treated as planar).
func InRing(ring [][2]float64, x, y float64) bool {
	in := false
	for i, j := 0, len(ring)-1; i < len(ring); j, i = i, i+1 {
		xi, yi, xj, yj := ring[i][0], ring[i][1], ring[j][0], ring[j][1]
		if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}

type template struct {
	Name, Description string
	Kind              sparcv1.AssetKind
	Categories        []string
	Cost              sparcv1.CostKind
	Access            []string
	Languages         []string
	Day               sparcv1.Weekday
	Start, End        string
	MinAge            int32
	Capacity          int32
}

func (t template) asset(rng *rand.Rand, name, locality, country, tz string, lat, lng float64) *sparcv1.Asset {
	a := &sparcv1.Asset{
		Kind:        t.Kind,
		DisplayName: name + " (demo)",
		Description: "DEMO LISTING, not a real service. " + t.Description,
		Categories:  t.Categories,
		Location: &sparcv1.Location{Latitude: round6(lat), Longitude: round6(lng),
			Locality: locality, Country: country},
		Cost:               &sparcv1.Cost{Kind: t.Cost},
		Accessibility:      t.Access,
		Languages:          t.Languages,
		AcceptingReferrals: rng.IntN(4) != 0,
		Status:             sparcv1.AssetStatus_ASSET_STATUS_ACTIVE,
		OwnerOrganisation:  aip.NameOf(aip.Organisations, Owner),
		Contact:            &sparcv1.Contact{Name: "Demo contact", Email: "demo@example.org"},
	}
	if t.Day != 0 {
		day := sparcv1.Weekday((int(t.Day)-1+rng.IntN(2))%7 + 1)
		a.Sessions = []*sparcv1.Session{{Day: day, StartTime: t.Start, EndTime: t.End, Timezone: tz}}
	}
	if t.MinAge > 0 {
		a.AgeRange = &sparcv1.AgeRange{MinAge: proto.Int32(t.MinAge)}
	}
	if t.Capacity > 0 {
		a.Capacity = proto.Int32(t.Capacity)
	}
	return a
}

func round6(f float64) float64 {
	return float64(int64(f*1e6+copysign(0.5, f))) / 1e6
}

func copysign(v, s float64) float64 {
	if s < 0 {
		return -v
	}
	return v
}

const (
	mon = sparcv1.Weekday_WEEKDAY_MONDAY
	tue = sparcv1.Weekday_WEEKDAY_TUESDAY
	wed = sparcv1.Weekday_WEEKDAY_WEDNESDAY
	thu = sparcv1.Weekday_WEEKDAY_THURSDAY
	fri = sparcv1.Weekday_WEEKDAY_FRIDAY
	sat = sparcv1.Weekday_WEEKDAY_SATURDAY

	association = sparcv1.AssetKind_ASSET_KIND_ASSOCIATION
	institution = sparcv1.AssetKind_ASSET_KIND_INSTITUTION
	space       = sparcv1.AssetKind_ASSET_KIND_PHYSICAL_SPACE
	economy     = sparcv1.AssetKind_ASSET_KIND_LOCAL_ECONOMY
	culture     = sparcv1.AssetKind_ASSET_KIND_CULTURE
	individual  = sparcv1.AssetKind_ASSET_KIND_INDIVIDUAL

	free = sparcv1.CostKind_COST_KIND_FREE
	low  = sparcv1.CostKind_COST_KIND_LOW_COST
	paid = sparcv1.CostKind_COST_KIND_PAID
)

var templatesGB = []template{
	{"Walking group", "A friendly, gentle-paced walk of about an hour; everyone welcome.", association, []string{"physical_activity", "social_connection", "nature_green_space"}, free, []string{"step_free_access"}, []string{"en"}, tue, "10:00", "11:30", 0, 25},
	{"Community choir", "Sing together, no experience or reading music needed.", association, []string{"arts_creativity", "social_connection", "mental_wellbeing"}, low, []string{"step_free_access", "hearing_loop", "accessible_toilet"}, []string{"en"}, wed, "19:00", "21:00", 16, 40},
	{"Men's shed", "Woodwork, repairs and a brew; a place for men to meet and make things.", association, []string{"social_connection", "learning_skills", "mental_wellbeing"}, free, []string{"accessible_toilet"}, []string{"en"}, thu, "10:00", "15:00", 18, 12},
	{"Community food club", "Low-cost weekly shop of fresh and store-cupboard food for members.", economy, []string{"food", "money_debt_advice"}, low, []string{"step_free_access", "wheelchair_accessible"}, []string{"en", "pl", "ur"}, fri, "12:00", "14:00", 0, 60},
	{"Debt and benefits advice drop-in", "Free, confidential advice on debt, benefits and bills.", institution, []string{"money_debt_advice", "housing"}, free, []string{"step_free_access", "wheelchair_accessible", "accessible_toilet"}, []string{"en", "pa", "ur"}, mon, "09:30", "12:30", 18, 10},
	{"Allotment and growing project", "Grow food together on shared plots; tools and seeds provided.", space, []string{"nature_green_space", "food", "volunteering"}, free, []string{"parking"}, []string{"en"}, sat, "10:00", "13:00", 0, 20},
	{"Digital skills café", "Help with phones, tablets, email and online forms.", institution, []string{"digital_inclusion", "learning_skills"}, free, []string{"step_free_access", "large_print", "quiet_space"}, []string{"en"}, wed, "13:00", "15:00", 16, 8},
	{"Carers' support group", "Time out and peer support for unpaid carers.", association, []string{"carers", "mental_wellbeing", "social_connection"}, free, []string{"step_free_access", "accessible_toilet", "dementia_friendly"}, []string{"en"}, thu, "13:30", "15:30", 18, 15},
	{"Chair-based exercise", "Seated strength and balance class for people with long-term conditions.", institution, []string{"physical_activity", "long_term_condition"}, low, []string{"step_free_access", "wheelchair_accessible", "accessible_toilet"}, []string{"en"}, mon, "11:00", "12:00", 50, 18},
	{"Stay and play", "Play sessions for under-fives and their parents or carers.", association, []string{"children_families", "social_connection"}, free, []string{"step_free_access", "accessible_toilet"}, []string{"en"}, tue, "09:30", "11:00", 0, 20},
	{"Volunteer centre", "Find local volunteering that fits your time and interests.", institution, []string{"volunteering", "employment"}, free, []string{"step_free_access", "public_transport"}, []string{"en"}, wed, "10:00", "16:00", 16, 0},
	{"Art for wellbeing", "Relaxed painting and crafts group; materials provided.", association, []string{"arts_creativity", "mental_wellbeing"}, low, []string{"quiet_space"}, []string{"en"}, fri, "10:00", "12:00", 18, 12},
	{"Community garden", "A green space to relax, volunteer and learn about plants.", space, []string{"nature_green_space", "volunteering"}, free, []string{"step_free_access"}, []string{"en"}, 0, "", "", 0, 0},
	{"Job club", "CVs, applications and interview practice with a friendly coach.", institution, []string{"employment", "learning_skills", "digital_inclusion"}, free, []string{"step_free_access"}, []string{"en"}, tue, "13:00", "15:00", 16, 12},
	{"Local history society", "Talks, walks and archive projects about the area's past.", culture, []string{"learning_skills", "social_connection"}, low, []string{"hearing_loop"}, []string{"en"}, thu, "19:00", "21:00", 0, 30},
	{"Mosque community lunch", "Free hot lunch; all faiths and none welcome.", association, []string{"food", "faith", "social_connection"}, free, []string{"step_free_access"}, []string{"en", "ur", "bn"}, fri, "13:30", "15:00", 0, 50},
	{"Parkrun volunteer team", "Marshal, time-keep or scan at the Saturday 5k.", association, []string{"physical_activity", "volunteering"}, free, nil, []string{"en"}, sat, "08:30", "10:00", 11, 0},
	{"Befriending volunteer", "A local volunteer who visits or phones for a weekly chat.", individual, []string{"social_connection", "mental_wellbeing"}, free, nil, []string{"en"}, 0, "", "", 18, 0},
	{"Yoga for beginners", "Gentle yoga with a qualified teacher; mats provided.", economy, []string{"physical_activity", "mental_wellbeing"}, paid, []string{"quiet_space"}, []string{"en"}, mon, "18:30", "19:30", 16, 16},
	{"Housing advice surgery", "Help with tenancy problems, repairs and homelessness prevention.", institution, []string{"housing", "money_debt_advice"}, free, []string{"step_free_access", "wheelchair_accessible"}, []string{"en"}, wed, "10:00", "12:00", 18, 8},
}

var templatesNL = []template{
	{"Wandelgroep", "Samen wandelen in een rustig tempo; iedereen welkom.", association, []string{"physical_activity", "social_connection", "nature_green_space"}, free, []string{"step_free_access"}, []string{"nl"}, tue, "10:00", "11:30", 0, 25},
	{"Buurtkoor", "Samen zingen, geen ervaring nodig.", association, []string{"arts_creativity", "social_connection"}, low, []string{"step_free_access", "hearing_loop"}, []string{"nl"}, wed, "19:30", "21:30", 16, 40},
	{"Taalcafé", "Nederlands oefenen in een ontspannen sfeer.", association, []string{"learning_skills", "social_connection"}, free, []string{"step_free_access"}, []string{"nl", "en", "ar", "tr"}, thu, "14:00", "16:00", 16, 20},
	{"Moestuin", "Samen groenten kweken in de buurttuin.", space, []string{"nature_green_space", "food", "volunteering"}, free, nil, []string{"nl"}, sat, "10:00", "13:00", 0, 15},
	{"Schuldhulp spreekuur", "Gratis hulp bij geldzaken, schulden en formulieren.", institution, []string{"money_debt_advice"}, free, []string{"step_free_access", "wheelchair_accessible"}, []string{"nl", "en"}, mon, "09:00", "12:00", 18, 10},
	{"Repair Café", "Samen spullen repareren onder begeleiding van vrijwilligers.", economy, []string{"volunteering", "learning_skills", "social_connection"}, free, []string{"step_free_access"}, []string{"nl"}, sat, "13:00", "16:00", 0, 0},
	{"Buurthuis koffieochtend", "Koffie, een praatje en de krant in het buurthuis.", space, []string{"social_connection", "mental_wellbeing"}, free, []string{"step_free_access", "accessible_toilet", "dementia_friendly"}, []string{"nl"}, fri, "10:00", "12:00", 0, 30},
	{"Mantelzorgcafé", "Ontmoeting en steun voor mantelzorgers.", association, []string{"carers", "mental_wellbeing"}, free, []string{"step_free_access"}, []string{"nl"}, wed, "13:30", "15:30", 18, 15},
	{"Digitaal spreekuur", "Hulp met DigiD, e-mail en uw telefoon.", institution, []string{"digital_inclusion"}, free, []string{"step_free_access", "large_print"}, []string{"nl"}, tue, "13:00", "15:00", 16, 8},
	{"Beweegles 55+", "Beweegles op de stoel en staand voor ouderen.", institution, []string{"physical_activity", "long_term_condition"}, low, []string{"step_free_access", "accessible_toilet"}, []string{"nl"}, thu, "10:00", "11:00", 55, 20},
}
