package demo

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// Demo listings get fictional but well-formed addresses, postcodes and
// phone numbers, so that what a reader sees looks like a real directory
// and every field passes the same checks as real data (postcode formats,
// the ORUK schemas), without pointing at anyone's real door or phone:
//
//   - UK postcodes are a real postcode sector of the asset's own LSOA (the
//     sector most of its postcodes are in, from OS Code-Point Open; see
//     data/README.md) with invented unit letters, so the district and
//     sector are right for the place and geocode to it, while the full
//     postcode is, at most by chance, someone's.
//   - Rotterdam postcodes are the asset's nearest real PC4 with invented
//     letters (PC6 format "3011 AB").
//   - UK phone numbers come from Ofcom's ranges reserved for drama, which
//     are never allocated: 0121 496 0000–0999 (Birmingham), 0151 496
//     0000–0999 (Liverpool, which Wirral shares), 029 2018 0000–0999
//     (Cardiff, for Gwent). The Netherlands reserves no such range; the
//     Rotterdam numbers are valid in form (010 plus seven digits) and the
//     listings say DEMO in their descriptions.
//   - Streets are invented names with plausible house numbers.

//go:embed data/lsoa-postcode-sectors.csv
var lsoaSectorsCSV []byte

//go:embed data/rotterdam-pc4-centroids.csv
var rotterdamPC4CSV []byte

var (
	placesOnce  sync.Once
	lsoaSectors map[string]string
	pc4s        []pc4
)

type pc4 struct {
	code     string
	lat, lng float64
}

func loadPlaces() {
	lsoaSectors = map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(lsoaSectorsCSV))
	for sc.Scan() {
		code, sector, ok := strings.Cut(sc.Text(), ",")
		if ok && code != "lsoa11" {
			lsoaSectors[code] = sector
		}
	}
	sc = bufio.NewScanner(bytes.NewReader(rotterdamPC4CSV))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) != 3 || f[0] == "postcode" {
			continue
		}
		lat, err1 := strconv.ParseFloat(f[1], 64)
		lng, err2 := strconv.ParseFloat(f[2], 64)
		if err1 == nil && err2 == nil {
			pc4s = append(pc4s, pc4{f[0], lat, lng})
		}
	}
}

// Unit letters of a UK inward code never include C, I, K, M, O or V.
const ukUnitLetters = "ABDEFGHJLNPQRSTUWXYZ"

// Dutch PC6 letters: F, I, O, Q, U and Y are not used; the first letter
// is not S here, which keeps clear of the combinations not issued (SA,
// SD, SS).
const (
	nlFirstLetters  = "ABCDEGHJKLMNPRTVWXZ"
	nlSecondLetters = "ABCDEGHJKLMNPRSTVWXZ"
)

var streetsGB = []string{
	"Acorn Street", "Beacon Road", "Chapel Row", "Dovecote Lane", "Elmfield Avenue", "Foundry Walk",
	"Gasworks Lane", "Hawthorn Close", "Ironbridge Road", "Jubilee Terrace", "Kiln Street", "Larkspur Way",
	"Mill Pond Road", "Nursery Lane", "Orchard Grove", "Paddock Row", "Quarry Hill", "Rookery Road",
	"Saddlers Walk", "Tannery Close", "Union Yard", "Viaduct Street", "Weavers Lane", "Yew Tree Road",
}

var streetsNL = []string{
	"Voorbeeldstraat", "Lindelaan", "Kade van de Brug", "Molensingel", "Tuinderspad", "Schippersweg",
	"Rozenhof", "Havenplein", "Beukendreef", "Klokkenstraat", "Waterpoort", "Zeilmakerslaan",
}

// ukPhonePrefix is each region's Ofcom drama range, without its last
// three digits.
var ukPhonePrefix = map[string]string{
	"Birmingham": "0121 496 0",
	"Wirral":     "0151 496 0",
	"Gwent":      "029 2018 0",
}

// seededRand is a generator of its own for one asset, from its key, so
// that adding these fields leaves the rest of the demo (which draws from
// one shared sequence) exactly as it was.
func seededRand(key string) *rand.Rand {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * 1099511628211
	}
	return rand.New(rand.NewPCG(h, 2026))
}

// placeGB fills a UK asset's address, postcode and phone.
func placeGB(a *sparcv1.Asset, region string, area Area, key string) {
	placesOnce.Do(loadPlaces)
	rng := seededRand(key)
	loc := a.Location
	loc.Address = fmt.Sprintf("%d %s", 1+rng.IntN(180), streetsGB[rng.IntN(len(streetsGB))])
	if sector, ok := lsoaSectors[area.Code]; ok {
		loc.Postcode = sector + string(ukUnitLetters[rng.IntN(len(ukUnitLetters))]) + string(ukUnitLetters[rng.IntN(len(ukUnitLetters))])
	}
	if p, ok := ukPhonePrefix[region]; ok {
		setPhone(a, fmt.Sprintf("%s%03d", p, rng.IntN(1000)))
	}
}

// placeNL fills a Rotterdam asset's address, postcode and phone.
func placeNL(a *sparcv1.Asset, key string) {
	placesOnce.Do(loadPlaces)
	rng := seededRand(key)
	loc := a.Location
	loc.Address = fmt.Sprintf("%s %d", streetsNL[rng.IntN(len(streetsNL))], 1+rng.IntN(180))
	best, bestD := "", math.Inf(1)
	for _, p := range pc4s {
		dy, dx := p.lat-loc.Latitude, (p.lng-loc.Longitude)*math.Cos(loc.Latitude*math.Pi/180)
		if d := dy*dy + dx*dx; d < bestD {
			best, bestD = p.code, d
		}
	}
	if best != "" {
		loc.Postcode = best + " " + string(nlFirstLetters[rng.IntN(len(nlFirstLetters))]) + string(nlSecondLetters[rng.IntN(len(nlSecondLetters))])
	}
	setPhone(a, fmt.Sprintf("010 %03d %04d", 200+rng.IntN(700), rng.IntN(10000)))
}

func setPhone(a *sparcv1.Asset, phone string) {
	if a.Contact == nil {
		a.Contact = &sparcv1.Contact{}
	}
	a.Contact.Phone = phone
}
