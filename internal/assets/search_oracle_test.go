package assets_test

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/geo"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The search oracle: a few thousand random assets around Birmingham, 200
// random searches, and the expected results computed here by brute force.
// Names and descriptions are made of invented words that the English and
// Dutch stemmers leave alone (checked against the database first), so
// word-prefix matching can be decided in Go.

const (
	oracleAssets   = 3000
	oracleQueries  = 200
	oracleSeed     = 2026
	minLat, maxLat = 52.40, 52.60
	minLng, maxLng = -2.05, -1.75
)

var inventedWords = []string{"brimbo", "kalto", "zumbo", "gorlo", "fandro", "quimbo", "velko", "darvo", "trondo", "mipko", "jorvo", "plenko"}

// accented spellings the search must match without accents.
var accents = strings.NewReplacer("i", "ï", "a", "ä", "o", "ö", "e", "é", "u", "ü")

var unaccent = strings.NewReplacer("ï", "i", "ä", "a", "ö", "o", "é", "e", "ü", "u")

var zones = []string{"Europe/London", "Europe/Amsterdam"}

type oracleAsset struct {
	a        *sparcv1.Asset
	id       string
	lat, lng float64
	words    []string // unaccented lower-case words of name and description
}

// stableTerms returns the candidates that both text search configurations
// keep as they are, as document words (prefix=false) or prefix queries.
func stableTerms(t *testing.T, env *testenv.Env, candidates []string, prefix bool) []string {
	t.Helper()
	var out []string
	for _, c := range candidates {
		var en, nl string
		q := `SELECT to_tsvector('sparc_en', $1)::text, to_tsvector('sparc_nl', $1)::text`
		want := "'" + c + "':1"
		if prefix {
			q = `SELECT to_tsquery('sparc_en', $1 || ':*')::text, to_tsquery('sparc_nl', $1 || ':*')::text`
			want = "'" + c + "':*"
		}
		if err := env.Pool.QueryRow(context.Background(), q, c).Scan(&en, &nl); err != nil {
			t.Fatal(err)
		}
		if en == want && nl == want {
			out = append(out, c)
		}
	}
	return out
}

func randomSessions(r *rand.Rand) []*sparcv1.Session {
	n := []int{0, 0, 1, 1, 2, 3}[r.IntN(6)]
	var out []*sparcv1.Session
	for i := 0; i < n; i++ {
		start := 6*60 + 15*r.IntN(60) // 06:00 .. 20:45
		end := start + 15*(1+r.IntN(12))
		if end > 23*60+45 {
			end = 23*60 + 45
		}
		s := &sparcv1.Session{Day: sparcv1.Weekday(1 + r.IntN(7)), StartTime: hm(start), EndTime: hm(end), Timezone: zones[r.IntN(2)]}
		if r.IntN(4) == 0 {
			s.ValidFrom = time.Date(2026, time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
		}
		if r.IntN(4) == 0 {
			s.ValidUntil = time.Date(2026, time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
			if s.ValidFrom > s.ValidUntil {
				s.ValidFrom, s.ValidUntil = s.ValidUntil, s.ValidFrom
			}
		}
		out = append(out, s)
	}
	return out
}

func hm(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

func subset(r *rand.Rand, from []string, max int) []string {
	n := r.IntN(max + 1)
	perm := r.Perm(len(from))
	out := make([]string, 0, n)
	for _, i := range perm[:n] {
		out = append(out, from[i])
	}
	return out
}

func randomDirectory(r *rand.Rand, words []string) []*oracleAsset {
	phrase := func(n int) (string, []string) {
		var shown, plain []string
		for i := 0; i < n; i++ {
			w := words[r.IntN(len(words))]
			plain = append(plain, w)
			switch r.IntN(5) {
			case 0:
				w = accents.Replace(w)
			case 1:
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			shown = append(shown, w)
		}
		return strings.Join(shown, " "), plain
	}
	var out []*oracleAsset
	for i := 0; i < oracleAssets; i++ {
		lat, lng := minLat+r.Float64()*(maxLat-minLat), minLng+r.Float64()*(maxLng-minLng)
		if i > 0 && r.IntN(20) == 0 { // same place as another asset: a distance tie
			o := out[r.IntN(len(out))]
			lat, lng = o.lat, o.lng
		}
		name, nameWords := phrase(1 + r.IntN(3))
		if i > 0 && r.IntN(15) == 0 { // same name as another asset: a name tie
			o := out[r.IntN(len(out))]
			name, nameWords = o.a.GetDisplayName(), slices.Clone(o.words[:len(strings.Fields(o.a.GetDisplayName()))])
		}
		desc, descWords := phrase(r.IntN(4))
		a := &sparcv1.Asset{
			Name: "assets/" + uuid.UUID(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, r.Uint64()), r.Uint64())).String(),
			Kind: sparcv1.AssetKind(1 + r.IntN(6)), DisplayName: name, Description: desc,
			Categories:         subset(r, vocabCategories, 3),
			Location:           &sparcv1.Location{Latitude: lat, Longitude: lng, Country: "GB"},
			Sessions:           randomSessions(r),
			Cost:               &sparcv1.Cost{Kind: sparcv1.CostKind(r.IntN(4))},
			Accessibility:      subset(r, vocabAccessibility, 3),
			Languages:          subset(r, []string{"en", "nl", "pl", "pa", "ur"}, 2),
			AcceptingReferrals: r.IntN(2) == 0,
			Status:             []sparcv1.AssetStatus{1, 1, 1, 1, 1, 1, 1, 1, 2, 3}[r.IntN(10)],
		}
		if r.IntN(2) == 0 {
			a.Capacity = ptr(int32(r.IntN(3))) // 0 means full
		}
		if r.IntN(2) == 0 {
			ar := &sparcv1.AgeRange{}
			if r.IntN(2) == 0 {
				ar.MinAge = ptr(int32(r.IntN(40)))
			}
			if r.IntN(2) == 0 {
				ar.MaxAge = ptr(int32(40 + r.IntN(81)))
			}
			a.AgeRange = ar
		}
		out = append(out, &oracleAsset{a: a, id: a.GetName(), lat: lat, lng: lng, words: append(nameWords, descWords...)})
	}
	return out
}

// place is where a search looks: a point, a box or a polygon.
type place struct {
	lat, lng, radius float64
	bbox             *[4]float64
	polys            [][][][2]float64 // polygons, each a list of rings
}

func (p place) contains(o *oracleAsset) (bool, float64) {
	switch {
	case p.bbox != nil:
		b := p.bbox
		return o.lng >= b[0] && o.lng <= b[2] && o.lat >= b[1] && o.lat <= b[3], 0
	case p.polys != nil:
		for _, poly := range p.polys {
			if inPolygon(poly, o.lng, o.lat) {
				return true, 0
			}
		}
		return false, 0
	case p.radius > 0:
		d := geo.SphereDistance(p.lat, p.lng, o.lat, o.lng)
		return d <= p.radius, d
	}
	return true, 0
}

// inPolygon is the even-odd rule over all rings (holes flip it back).
func inPolygon(rings [][][2]float64, x, y float64) bool {
	in := false
	for _, ring := range rings {
		for i, j := 0, len(ring)-1; i < len(ring); j, i = i, i+1 {
			xi, yi, xj, yj := ring[i][0], ring[i][1], ring[j][0], ring[j][1]
			if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
				in = !in
			}
		}
	}
	return in
}

// star is a simple polygon: one vertex in each of n equal sectors around
// a centre, so each edge stays inside its own sector and none can cross.
func star(r *rand.Rand, lng, lat, maxR, minR float64, n int) [][2]float64 {
	angles := make([]float64, n)
	for i := range angles {
		angles[i] = (float64(i) + 0.1 + 0.8*r.Float64()) / float64(n) * 2 * math.Pi
	}
	ring := make([][2]float64, 0, n+1)
	for _, a := range angles {
		d := minR + r.Float64()*(maxR-minR)
		ring = append(ring, [2]float64{lng + d*math.Cos(a)*1.6, lat + d*math.Sin(a)})
	}
	ring = append(ring, ring[0])
	if r.IntN(2) == 0 { // clockwise, as real boundary files are
		slices.Reverse(ring)
	}
	return ring
}

func randomPolygons(r *rand.Rand) [][][][2]float64 {
	var polys [][][][2]float64
	centres := [][2]float64{}
	for k := 0; k < 1+r.IntN(2); k++ {
		lng, lat := minLng+0.05+r.Float64()*(maxLng-minLng-0.1), minLat+0.04+r.Float64()*(maxLat-minLat-0.08)
		if k == 1 && math.Hypot((lng-centres[0][0])/1.6, lat-centres[0][1]) < 0.1 {
			break // would overlap the first part
		}
		centres = append(centres, [2]float64{lng, lat})
		size := 0.01 + r.Float64()*0.035
		rings := [][][2]float64{star(r, lng, lat, size, size*0.5, 5+r.IntN(30))}
		if r.IntN(3) == 0 {
			rings = append(rings, star(r, lng, lat, size*0.3, size*0.1, 4+r.IntN(10)))
		}
		polys = append(polys, rings)
	}
	return polys
}

func randomQuery(r *rand.Rand, dir []*oracleAsset, prefixes []string) (*sparcv1.SearchAssetsRequest, place) {
	req := &sparcv1.SearchAssetsRequest{}
	var p place
	switch k := r.IntN(10); {
	case k < 6:
		p.lat, p.lng = minLat+r.Float64()*(maxLat-minLat), minLng+r.Float64()*(maxLng-minLng)
		if r.IntN(8) == 0 { // exactly at an asset: distance 0
			o := dir[r.IntN(len(dir))]
			p.lat, p.lng = o.lat, o.lng
		}
		p.radius = math.Exp(math.Log(100) + r.Float64()*(math.Log(8000)-math.Log(100)))
		if r.IntN(20) == 0 {
			p.radius = 100000
		}
		// Keep every asset clear of the circle's edge, where a rounding
		// difference could decide membership either way.
		for again := true; again; {
			again = false
			for _, o := range dir {
				if math.Abs(geo.SphereDistance(p.lat, p.lng, o.lat, o.lng)-p.radius) < 1e-3 {
					p.radius += 0.5
					again = true
				}
			}
		}
		req.Latitude, req.Longitude, req.RadiusMeters = &p.lat, &p.lng, &p.radius
	case k < 8:
		lo, la := minLng+r.Float64()*(maxLng-minLng), minLat+r.Float64()*(maxLat-minLat)
		b := [4]float64{lo, la, lo + r.Float64()*0.1, la + r.Float64()*0.06}
		p.bbox = &b
		req.Bbox = strings.Join([]string{ff(b[0]), ff(b[1]), ff(b[2]), ff(b[3])}, ",")
	default:
		p.polys = randomPolygons(r)
		if len(p.polys) == 1 {
			req.WithinGeojson = string(mustJSON(map[string]any{"type": "Polygon", "coordinates": p.polys[0]}))
		} else {
			req.WithinGeojson = string(mustJSON(map[string]any{"type": "MultiPolygon", "coordinates": p.polys}))
		}
	}
	filters := r.IntN(3) > 0 // a third of the queries have no filter at all
	if filters && r.IntN(3) == 0 {
		req.Categories = subset(r, vocabCategories, 3)
	}
	if filters && r.IntN(4) == 0 {
		req.Kinds = []sparcv1.AssetKind{sparcv1.AssetKind(1 + r.IntN(6)), sparcv1.AssetKind(1 + r.IntN(6))}
		req.Kinds = slices.Compact(req.Kinds)
	}
	req.FreeOnly = filters && r.IntN(5) == 0
	if filters && r.IntN(4) == 0 {
		req.Accessibility = subset(r, vocabAccessibility, 2)
	}
	if filters && r.IntN(5) == 0 {
		req.Language = []string{"en", "nl", "pl", "pa", "ur"}[r.IntN(5)]
	}
	if filters && r.IntN(5) == 0 {
		req.Age = ptr(int32(r.IntN(100)))
	}
	if filters && r.IntN(5) == 0 {
		req.AcceptingReferrals = ptr(r.IntN(2) == 0)
	}
	if filters && r.IntN(3) == 0 {
		// A quarter hour of 2026, so session starts and ends are hit exactly.
		t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(365*96)) * 15 * time.Minute)
		o := dir[r.IntN(len(dir))]
		for try := 0; try < 100; try++ { // preferably one the place holds
			if in, _ := p.contains(o); in && len(o.a.GetSessions()) > 0 {
				break
			}
			o = dir[r.IntN(len(dir))]
		}
		if len(o.a.GetSessions()) > 0 && r.IntN(4) > 0 {
			// At the start, in the middle or at the end of some session.
			s := o.a.GetSessions()[r.IntN(len(o.a.GetSessions()))]
			loc, _ := time.LoadLocation(s.GetTimezone())
			day := time.Date(2026, 1, 5+r.IntN(51)*7+int(s.GetDay())-1, 0, 0, 0, 0, loc) // 5 Jan 2026 is a Monday
			at := []time.Duration{clockOf(s.GetStartTime()), (clockOf(s.GetStartTime()) + clockOf(s.GetEndTime())) / 2, clockOf(s.GetEndTime())}[r.IntN(3)]
			t = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc).Add(at)
		}
		req.OpenAt = timestamppb.New(t)
	}
	// Without referrals in this directory, a place is free unless the
	// capacity is 0.
	req.HasPlaces = filters && r.IntN(6) == 0
	if filters && r.IntN(6) == 0 {
		req.Statuses = []sparcv1.AssetStatus{sparcv1.AssetStatus(1 + r.IntN(3)), sparcv1.AssetStatus(1 + r.IntN(3))}
		req.Statuses = slices.Compact(req.Statuses)
	}
	if r.IntN(4) == 0 {
		terms := []string{prefixes[r.IntN(len(prefixes))]}
		if r.IntN(3) == 0 {
			terms = append(terms, prefixes[r.IntN(len(prefixes))])
		}
		for i := range terms {
			switch r.IntN(4) {
			case 0:
				terms[i] = strings.ToUpper(terms[i])
			case 1:
				terms[i] = accents.Replace(terms[i])
			}
		}
		req.Query = strings.Join(terms, " ")
	}
	return req, p
}

func ff(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// openAt reports whether a session runs at instant t, judged in the
// session's own zone and validity dates.
func openAt(sessions []*sparcv1.Session, t time.Time) bool {
	for _, s := range sessions {
		loc, err := time.LoadLocation(s.GetTimezone())
		if err != nil {
			panic(err)
		}
		l := t.In(loc)
		iso := int(l.Weekday())
		if iso == 0 {
			iso = 7
		}
		if iso != int(s.GetDay()) {
			continue
		}
		clock := time.Duration(l.Hour())*time.Hour + time.Duration(l.Minute())*time.Minute +
			time.Duration(l.Second())*time.Second + time.Duration(l.Nanosecond())
		if clock < clockOf(s.GetStartTime()) || clock >= clockOf(s.GetEndTime()) {
			continue
		}
		day := l.Format(time.DateOnly)
		if s.GetValidFrom() != "" && day < s.GetValidFrom() || s.GetValidUntil() != "" && day > s.GetValidUntil() {
			continue
		}
		return true
	}
	return false
}

func clockOf(hhmm string) time.Duration {
	h, _ := strconv.Atoi(hhmm[:2])
	m, _ := strconv.Atoi(hhmm[3:])
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
}

func matches(o *oracleAsset, req *sparcv1.SearchAssetsRequest) bool {
	a := o.a
	anyOf := func(have, want []string) bool {
		return len(want) == 0 || slices.ContainsFunc(have, func(c string) bool { return slices.Contains(want, c) })
	}
	statuses := req.GetStatuses()
	if len(statuses) == 0 {
		statuses = []sparcv1.AssetStatus{sparcv1.AssetStatus_ASSET_STATUS_ACTIVE}
	}
	switch {
	case !anyOf(a.GetCategories(), req.GetCategories()),
		len(req.GetKinds()) > 0 && !slices.Contains(req.GetKinds(), a.GetKind()),
		req.GetFreeOnly() && a.GetCost().GetKind() != sparcv1.CostKind_COST_KIND_FREE,
		slices.ContainsFunc(req.GetAccessibility(), func(f string) bool { return !slices.Contains(a.GetAccessibility(), f) }),
		req.GetLanguage() != "" && !slices.Contains(a.GetLanguages(), req.GetLanguage()),
		req.AcceptingReferrals != nil && a.GetAcceptingReferrals() != req.GetAcceptingReferrals(),
		!slices.Contains(statuses, a.GetStatus()),
		req.GetOpenAt() != nil && !openAt(a.GetSessions(), req.GetOpenAt().AsTime()),
		req.GetHasPlaces() && a.Capacity != nil && a.GetCapacity() == 0:
		return false
	}
	if req.Age != nil {
		ar := a.GetAgeRange()
		if ar != nil && (ar.MinAge != nil && ar.GetMinAge() > req.GetAge() || ar.MaxAge != nil && ar.GetMaxAge() < req.GetAge()) {
			return false
		}
	}
	for _, term := range strings.Fields(req.GetQuery()) {
		term = unaccent.Replace(strings.ToLower(term))
		if !slices.ContainsFunc(o.words, func(w string) bool { return strings.HasPrefix(w, term) }) {
			return false
		}
	}
	return true
}

type hit struct {
	id   string
	name string
	dist float64
}

func TestSearchMatchesBruteForceOracle(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	words := stableTerms(t, env, inventedWords, false)
	if len(words) < 8 {
		t.Fatalf("only %v of the invented words are left alone by the stemmers", words)
	}
	var candidates []string
	for _, w := range words {
		for n := 3; n <= len(w); n++ {
			candidates = append(candidates, w[:n])
		}
	}
	prefixes := stableTerms(t, env, slices.Compact(slices.Sorted(slices.Values(candidates))), true)
	if len(prefixes) < 20 {
		t.Fatalf("only %d usable prefixes: %v", len(prefixes), prefixes)
	}

	r := rand.New(rand.NewPCG(oracleSeed, 3))
	dir := randomDirectory(r, words)
	batch := make([]*sparcv1.Asset, len(dir))
	byID := map[string]*oracleAsset{}
	for i, o := range dir {
		batch[i] = o.a
		byID[o.id] = o
	}
	if n, err := assets.NewStore(env.Pool).BulkInsert(ctx, batch); err != nil || n != int64(len(batch)) {
		t.Fatalf("bulk insert: %d, %v", n, err)
	}

	api := transports(t, env)
	var maxErr float64
	exercised := map[string]int{} // queries with a non-empty answer, by feature
	var totalResults, totalPages int
	for qi := 0; qi < oracleQueries; qi++ {
		req, p := randomQuery(r, dir, prefixes)
		var want []hit
		for _, o := range dir {
			in, d := p.contains(o)
			if in && matches(o, req) {
				want = append(want, hit{o.id, o.a.GetDisplayName(), d})
			}
		}
		if len(want) > 0 {
			for name, used := range map[string]bool{
				"point": p.radius > 0, "bbox": p.bbox != nil, "polygon": p.polys != nil, "categories": len(req.GetCategories()) > 0,
				"kinds": len(req.GetKinds()) > 0, "free_only": req.GetFreeOnly(), "accessibility": len(req.GetAccessibility()) > 0,
				"language": req.GetLanguage() != "", "age": req.Age != nil, "accepting_referrals": req.AcceptingReferrals != nil,
				"open_at": req.GetOpenAt() != nil, "has_places": req.GetHasPlaces(), "statuses": len(req.GetStatuses()) > 0, "query": req.GetQuery() != "",
			} {
				if used {
					exercised[name]++
				}
			}
		}
		point := p.radius > 0
		switch {
		case point:
			slices.SortFunc(want, func(a, b hit) int { return cmp.Or(cmp.Compare(a.dist, b.dist), strings.Compare(a.id, b.id)) })
		case req.GetQuery() == "":
			slices.SortFunc(want, func(a, b hit) int { return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.id, b.id)) })
		}
		// Small pages, but no more than about 40 of them.
		size := int32([]int{1, 2, 3, 5, 7, 10}[r.IntN(6)])
		if n := int32(len(want)/40 + 1); n > size {
			size = n
		}
		req.PageSize = size
		tr := api[qi%2]
		var got []hit
		seen := map[string]bool{}
		for page := 0; ; page++ {
			resp, err := tr.api.SearchAssets(ctx, req)
			if err != nil {
				t.Fatalf("query %d (%s) %v page %d: %v", qi, tr.name, req, page, err)
			}
			totalPages++
			if len(resp.GetResults()) > int(size) {
				t.Fatalf("query %d: page of %d results for page size %d", qi, len(resp.GetResults()), size)
			}
			for _, res := range resp.GetResults() {
				id := res.GetAsset().GetName()
				if seen[id] {
					t.Fatalf("query %d (%s): asset %s returned twice while paging", qi, tr.name, id)
				}
				seen[id] = true
				got = append(got, hit{id, res.GetAsset().GetDisplayName(), res.GetDistanceMeters()})
			}
			if resp.GetNextPageToken() == "" {
				break
			}
			req.PageToken = resp.GetNextPageToken()
		}
		req.PageToken = ""
		totalResults += len(got)
		describe := func() string { return fmt.Sprintf("query %d over %s: %v", qi, tr.name, req) }

		if missing, extra := difference(want, got), difference(got, want); len(missing)+len(extra) > 0 || len(got) != len(want) {
			t.Fatalf("%s\nreturned %d assets, oracle expects %d\nmissing: %v\nextra: %v", describe(), len(got), len(want), where(byID, missing), where(byID, extra))
		}
		if !point && req.GetQuery() != "" {
			continue // ordered by text rank, which only PostgreSQL computes
		}
		for i := range got {
			if point {
				o := byID[got[i].id]
				if e := math.Abs(got[i].dist - geo.SphereDistance(p.lat, p.lng, o.lat, o.lng)); e > 1 {
					t.Fatalf("%s\nasset %s at %.3f m, oracle says %.3f m", describe(), got[i].id, got[i].dist, want[i].dist)
				} else if e > maxErr {
					maxErr = e
				}
			}
			if got[i].id == want[i].id {
				continue
			}
			// Only a tie at well below a millimetre may swap two results.
			if !point || math.Abs(byIDDist(byID, p, got[i].id)-want[i].dist) > 1e-6 {
				t.Fatalf("%s\nposition %d is %+v, oracle expects %+v", describe(), i, got[i], want[i])
			}
		}
	}
	t.Logf("%d queries, %d results over %d pages; largest distance difference from the oracle %.2g m", oracleQueries, totalResults, totalPages, maxErr)
	for _, f := range []string{"point", "bbox", "polygon", "categories", "kinds", "free_only", "accessibility", "language", "age", "accepting_referrals", "open_at", "has_places", "statuses", "query"} {
		if exercised[f] < 3 {
			t.Errorf("only %d queries using %s had any expected result: the oracle barely tests it", exercised[f], f)
		}
	}
	t.Logf("queries with results, by feature: %v", exercised)
	if totalResults < oracleQueries {
		t.Fatalf("only %d results over %d queries: the random queries are too narrow to test anything", totalResults, oracleQueries)
	}
}

func byIDDist(byID map[string]*oracleAsset, p place, id string) float64 {
	o := byID[id]
	return geo.SphereDistance(p.lat, p.lng, o.lat, o.lng)
}

// difference lists the ids in a that are not in b.
func difference(a, b []hit) []string {
	in := map[string]bool{}
	for _, h := range b {
		in[h.id] = true
	}
	var out []string
	for _, h := range a {
		if !in[h.id] {
			out = append(out, h.id)
		}
	}
	return out
}

func where(byID map[string]*oracleAsset, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		o := byID[id]
		out[i] = fmt.Sprintf("%s at lat %v lng %v named %q described %q", id, o.lat, o.lng, o.a.GetDisplayName(), o.a.GetDescription())
	}
	return out
}
