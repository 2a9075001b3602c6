package demo

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/postcodes"
)

// The demo's referral history (issue 19): a year of plausible referrals
// ending at the moment the demo is loaded, so that the referral network,
// its change between quarters and the outcome evidence have something to
// show. It is drawn from a fixed seed, so the same referrals, people,
// statuses and scores come out every time; only the dates move with the
// day the demo is loaded (the year always ends then).
//
// Who refers: the demo's link-worker services and GP practices of the
// three British demo regions, and some community groups, which also refer
// to each other (the reciprocity a network meeting looks for). Where to:
// the demo directory's assets (owned by the demo's community groups
// organisation) and a few assets of the history's own group organisations,
// so the network has more than one provider. Each tie between a referrer
// and a provider follows a pattern over the four quarters (steady,
// forming, strengthening, fading), so consecutive windows show ties that
// form, strengthen and fade.
//
// The service only ever stamps the present (clock_timestamp()), so
// history cannot go through its RPCs: the loader writes each referral
// with the timeline the service would have written (its events with
// their times, the status moves of the referral state machine in
// internal/referrals/status.go, coded reasons, outcome entries), as the
// referring organisation under row-level security, and gives people
// their home areas through the same postcode lookup as the person
// service. It writes no outbox rows (no watcher was there to be told) and
// no audit events (no API call was made).

// HistorySeed seeds the history's draws.
const HistorySeed = 2019

// HistoryOrgs are the organisations the history adds: the referrers (a
// link-worker service and two GP practices in each British demo region,
// the Birmingham service being the demo's Ladywood one, which is in Orgs)
// and community groups that provide, and refer, alongside the demo
// directory's owner. All names are invented and marked (demo).
var HistoryOrgs = []HistoryOrg{
	{ID: "0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000101", Name: "Foundry Lane surgery (demo)", Kind: "gp_practice", Region: "Birmingham", PerMonth: 9},
	{ID: "0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000102", Name: "Canal Side medical practice (demo)", Kind: "gp_practice", Region: "Birmingham", PerMonth: 6},
	{ID: "0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000103", Name: "Wirral social prescribing service (demo)", Kind: "link_worker_service", Region: "Wirral", PerMonth: 16},
	{ID: "0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000104", Name: "Park Road surgery, Birkenhead (demo)", Kind: "gp_practice", Region: "Wirral", PerMonth: 6},
	{ID: "0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000105", Name: "Shore Road practice (demo)", Kind: "gp_practice", Region: "Wirral", PerMonth: 4},
	{ID: "0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000106", Name: "Gwent community connectors (demo)", Kind: "link_worker_service", Region: "Gwent", PerMonth: 16},
	{ID: "0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000107", Name: "Valley Bridge surgery (demo)", Kind: "gp_practice", Region: "Gwent", PerMonth: 5},
	{ID: "0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000108", Name: "Dockside medical centre (demo)", Kind: "gp_practice", Region: "Gwent", PerMonth: 5},

	{ID: "0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000201", Name: "Foundry Walk community hub (demo)", Kind: "voluntary_organisation", Region: "Birmingham", PerMonth: 2, Templates: []int{3, 4, 6}},
	{ID: "0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000202", Name: "Reservoir wellbeing collective (demo)", Kind: "community_group", Region: "Birmingham", PerMonth: 2, Templates: []int{1, 11, 18}},
	{ID: "0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000203", Name: "Birkenhead friendship network (demo)", Kind: "community_group", Region: "Wirral", PerMonth: 2, Templates: []int{17, 7}},
	{ID: "0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000204", Name: "Estuary walkers and growers (demo)", Kind: "community_group", Region: "Wirral", PerMonth: 1, Templates: []int{0, 12}},
	{ID: "0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000205", Name: "Riverside men's shed (demo)", Kind: "community_group", Region: "Gwent", PerMonth: 1, Templates: []int{2, 5}},
	{ID: "0d3e0c9a-5b1f-4b8e-9c61-2a7a1f000206", Name: "Gwent carers and families (demo)", Kind: "voluntary_organisation", Region: "Gwent", PerMonth: 2, Templates: []int{7, 9}},
}

// HistoryOrg is an organisation of the history: how many referrals it
// makes a month, and, for a group, the templates of the assets it runs.
type HistoryOrg struct {
	ID, Name, Kind, Region string
	PerMonth               float64
	Templates              []int // indices into the British templates; none for a referrer only
}

// ladywood is the demo's link-worker service (Orgs[1]), Birmingham's referrer.
var ladywood = HistoryOrg{ID: Orgs[1].ID, Name: Orgs[1].Name, Kind: "link_worker_service", Region: "Birmingham", PerMonth: 30}

// historyReferrers are all the organisations that refer, in a fixed order.
func historyReferrers() []HistoryOrg {
	return append([]HistoryOrg{ladywood}, HistoryOrgs...)
}

// HistoryAssets are the assets of the history's group organisations: two
// or three each, in their region's neighbourhoods, taking referrals.
func HistoryAssets() ([]*sparcv1.Asset, error) {
	rng := rand.New(rand.NewPCG(HistorySeed, 1))
	regions := map[string][]Area{}
	for _, r := range Regions {
		a, err := LoadAreas(r)
		if err != nil {
			return nil, err
		}
		regions[r.Name] = a
	}
	var out []*sparcv1.Asset
	for _, o := range HistoryOrgs {
		for i, ti := range o.Templates {
			area := regions[o.Region][rng.IntN(len(regions[o.Region]))]
			lng, lat := PointIn(area.Rings, rng)
			t := templatesGB[ti]
			a := t.asset(rng, fmt.Sprintf("%s, %s", t.Name, area.Name), area.Locality, "GB", "Europe/London", lat, lng)
			key := fmt.Sprintf("History/%s/%d", o.ID, i)
			a.Name = aip.Name(aip.Assets, uuid.NewSHA1(namespace, []byte(key)))
			a.OwnerOrganisation = aip.NameOf(aip.Organisations, o.ID)
			a.AcceptingReferrals = true
			a.Contact = &sparcv1.Contact{Name: "Demo contact", Email: "demo@example.org"}
			placeGB(a, o.Region, area, key)
			out = append(out, a)
		}
	}
	return out, nil
}

// tiePatterns are how a tie's volume moves over the four quarters.
var tiePatterns = [][4]float64{
	{1, 1, 1, 1},         // steady
	{0, 0.4, 1, 1.6},     // forming
	{0.4, 0.8, 1.2, 1.6}, // strengthening
	{1.6, 1, 0.4, 0},     // fading
}

// histTarget is an asset a referral can go to.
type histTarget struct {
	id       uuid.UUID
	provider string // owner organisation id
	minAge   int32
	capacity int32
	reason   string
}

// histPerson is a person of the history, held by the referring organisation.
type histPerson struct {
	id                  uuid.UUID
	org, name, ageBand  string
	ageLo, ageHi        int
	postcode, home      string
	decile              int // the home area's deprivation decile (1 most deprived)
	wellbeing, response float64
}

// histEvent is a timeline entry as the service writes it.
type histEvent struct {
	at       time.Time
	from, to string
	reason   string
}

// histReferral is one referral of the history.
type histReferral struct {
	id                         uuid.UUID
	person                     *histPerson
	referrer, provider         string
	asset                      histTarget
	requestID                  string
	status, reason             string
	created, updated           time.Time
	accepted, attended, closed *time.Time
	baselineAt, followupAt     *time.Time
	sessions                   int32
	bOns4, bSwem, fOns4, fSwem []int16
	holdsPlace                 bool
	events                     []histEvent
}

// ageBands are the people's age bands and their ages.
var ageBands = []struct {
	band   string
	lo, hi int
	weight float64
}{
	{"18-24", 18, 24, 0.6}, {"25-34", 25, 34, 1}, {"35-44", 35, 44, 1.2}, {"45-54", 45, 54, 1.4},
	{"55-64", 55, 64, 1.5}, {"65-74", 65, 74, 1.6}, {"75-84", 75, 84, 1.2}, {"85+", 85, 110, 0.4},
}

// homePool is where the people of a region live: postcodes the demo's
// postcode data holds, by LSOA, with the LSOA's deprivation decile.
type homePool struct {
	lsoas   []string
	deciles []int
	codes   map[string][]string
	weights []float64
	total   float64
}

// pick draws a postcode, more often in more deprived areas (social
// prescribing's referrals concentrate there), but from every decile.
func (h *homePool) pick(rng *rand.Rand) (postcode string, decile int) {
	x := rng.Float64() * h.total
	for i, w := range h.weights {
		if x -= w; x < 0 || i == len(h.weights)-1 {
			codes := h.codes[h.lsoas[i]]
			return codes[rng.IntN(len(codes))], h.deciles[i]
		}
	}
	return "", 0
}

// historyStart is the first moment of the history ending at now.
func historyStart(now time.Time) time.Time { return now.AddDate(-1, 0, 0) }

// planHistory draws the history ending at now over the targets by region
// and the home postcodes by region. It is deterministic for the same
// inputs.
func planHistory(now time.Time, targets map[string]map[string][]histTarget, homes map[string]*homePool) []*histReferral {
	rng := rand.New(rand.NewPCG(HistorySeed, 2))
	start := historyStart(now)
	referrers := historyReferrers()
	var out []*histReferral
	people := map[string][]*histPerson{}
	nPeople := 0
	for ri, r := range referrers {
		// The providers this referrer sends to, each with its pattern:
		// the directory's owner steadily, the region's groups (not
		// itself) in turn forming, strengthening, fading or steady.
		var providers []string
		for p := range targets[r.Region] {
			if p != r.ID {
				providers = append(providers, p)
			}
		}
		sort.Strings(providers)
		patterns := make([][4]float64, len(providers))
		for pi, p := range providers {
			switch {
			case p == Owner && r.Templates == nil:
				patterns[pi] = [4]float64{2.5, 2.5, 2.5, 2.5}
			case p == Owner:
				patterns[pi] = tiePatterns[0]
			default:
				patterns[pi] = tiePatterns[(ri+pi)%len(tiePatterns)]
			}
		}
		for m := range 12 {
			from, to := start.AddDate(0, m, 0), start.AddDate(0, m+1, 0)
			q := m / 3
			n := poisson(rng, r.PerMonth)
			var weights []float64
			total := 0.0
			for pi := range providers {
				weights = append(weights, patterns[pi][q])
				total += patterns[pi][q]
			}
			for range n {
				if total == 0 {
					break
				}
				x, pi := rng.Float64()*total, 0
				for pi < len(weights)-1 {
					if x -= weights[pi]; x < 0 {
						break
					}
					pi++
				}
				cands := targets[r.Region][providers[pi]]
				t := cands[rng.IntN(len(cands))]
				// A referrer sees a new person three times in four;
				// the others come back for something else.
				var p *histPerson
				if held := people[r.ID]; len(held) > 0 && rng.IntN(4) == 0 {
					p = held[rng.IntN(len(held))]
				} else {
					nPeople++
					p = newHistPerson(rng, r, nPeople, homes[r.Region])
					people[r.ID] = append(people[r.ID], p)
				}
				if int(t.minAge) > p.ageHi {
					continue // the link worker picks another asset next time: no override in the history
				}
				at := from.Add(time.Duration(rng.Int64N(int64(to.Sub(from)))))
				at = workingHours(at, rng)
				if !at.Before(now) || at.Before(start) {
					continue
				}
				ref := &histReferral{
					id:     uuid.NewSHA1(namespace, []byte(fmt.Sprintf("History/referral/%d", len(out)))),
					person: p, referrer: r.ID, provider: t.provider, asset: t,
					requestID: fmt.Sprintf("demo-history-%d", len(out)),
				}
				ref.play(rng, at, now)
				out = append(out, ref)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].created.Before(out[j].created) })
	return out
}

func newHistPerson(rng *rand.Rand, r HistoryOrg, n int, homes *homePool) *histPerson {
	x, total := rng.Float64(), 0.0
	for _, b := range ageBands {
		total += b.weight
	}
	x *= total
	band := ageBands[len(ageBands)-1]
	for _, b := range ageBands {
		if x -= b.weight; x < 0 {
			band = b
			break
		}
	}
	p := &histPerson{
		id:  uuid.NewSHA1(namespace, []byte(fmt.Sprintf("History/person/%d", n))),
		org: r.ID, name: fmt.Sprintf("Demo person %04d", n), ageBand: band.band, ageLo: band.lo, ageHi: band.hi,
		// Wellbeing at referral is lower where deprivation is higher;
		// how much a person gains varies from person to person.
		response: rng.NormFloat64()*0.35 + 0.3,
	}
	if homes != nil {
		p.postcode, p.decile = homes.pick(rng)
	}
	p.wellbeing = 2.35 + 0.06*float64(p.decile) + rng.NormFloat64()*0.35
	return p
}

// workingHours moves t into 09:00-17:00 on a weekday, same day or next.
func workingHours(t time.Time, rng *rand.Rand) time.Time {
	d := time.Date(t.Year(), t.Month(), t.Day(), 9, 0, 0, 0, time.UTC)
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, 1)
	}
	return d.Add(time.Duration(rng.Int64N(int64(8 * time.Hour)))).Truncate(time.Second)
}

func days(rng *rand.Rand, lo, hi int) time.Duration {
	return time.Duration(lo)*24*time.Hour + time.Duration(rng.Int64N(int64(hi-lo+1)*int64(24*time.Hour)))
}

// play walks the referral through the state machine from its sending at
// at, as far as now allows: the provider accepts or declines (with a
// coded reason) within days, the person attends within weeks, and the
// referral completes, fails or is cancelled months later; measures are
// taken at the first session and at the end.
func (r *histReferral) play(rng *rand.Rand, at, now time.Time) {
	r.created = at
	r.status = "requested"
	r.events = []histEvent{{at: at, to: "requested"}}
	t := at
	move := func(after time.Duration, to, reason string) bool {
		next := t.Add(after)
		if !next.Before(now) {
			return false
		}
		r.events = append(r.events, histEvent{at: next, from: r.status, to: to, reason: reason})
		r.status, r.reason, t = to, reason, next
		if terminal := to == "rejected" || to == "cancelled" || to == "completed" || to == "failed"; terminal {
			r.closed = &next
			r.holdsPlace = false
		}
		return true
	}
	outcome := func(after time.Duration) bool {
		next := t.Add(after)
		if !next.Before(now) {
			return false
		}
		r.events = append(r.events, histEvent{at: next, from: r.status, to: r.status})
		t = next
		return true
	}
	defer func() { r.updated = t }()

	x := rng.Float64()
	switch {
	case x < 0.12:
		reasons := []string{"no_capacity", "not_eligible", "not_suitable", "unable_to_contact"}
		move(days(rng, 1, 8), "rejected", reasons[rng.IntN(len(reasons))])
		return
	case x < 0.17:
		move(days(rng, 1, 10), "cancelled", "person_declined")
		return
	}
	if !move(days(rng, 1, 9), "accepted", "") {
		return
	}
	accepted := t
	r.accepted = &accepted
	r.holdsPlace = r.asset.capacity > 0
	y := rng.Float64()
	switch {
	case y < 0.06:
		move(days(rng, 3, 20), "cancelled", "person_unreachable")
		return
	case y < 0.16:
		move(days(rng, 14, 35), "failed", "did_not_attend")
		return
	}
	// The first session: attendance and the baseline measures.
	if !outcome(days(rng, 4, 21)) {
		return
	}
	first := t
	r.attended, r.sessions = &first, 1
	r.baselineAt = &first
	r.bOns4, r.bSwem = r.person.measures(rng, 0)
	if !move(time.Hour, "in_progress", "") {
		return
	}
	z := rng.Float64()
	if z < 0.08 {
		r.sessions = int32(1 + rng.IntN(3))
		move(days(rng, 10, 40), "failed", []string{"needs_not_met", "person_moved"}[rng.IntN(2)])
		return
	}
	// The follow-up at the last session, six to twelve weeks on; one in
	// eight is never followed up.
	end := days(rng, 42, 84)
	if t.Add(end).Before(now) {
		r.sessions = int32(4 + rng.IntN(9))
		if rng.IntN(8) != 0 && outcome(end) {
			f := t
			r.followupAt = &f
			r.fOns4, r.fSwem = r.person.measures(rng, 1)
		} else {
			t = t.Add(end)
		}
		move(time.Hour, "completed", "")
		return
	}
	r.sessions = int32(1 + rng.IntN(4))
}

// measures draws ONS4 (life satisfaction, worthwhile, happiness: 0-10,
// higher is better; anxiety: 0-10, lower is better) and SWEMWBS (seven
// items, 1-5) at the baseline (phase 0) or follow-up (1): plausible gains
// with noise, some people gaining nothing or getting worse.
func (p *histPerson) measures(rng *rand.Rand, phase float64) (ons4, swem []int16) {
	level := p.wellbeing + phase*p.response // on the 1-5 item scale
	clamp := func(v, lo, hi float64) int16 { return int16(math.Max(lo, math.Min(hi, math.Round(v)))) }
	ons := (level-1)/4*10 + rng.NormFloat64()*0.8
	ons4 = []int16{
		clamp(ons+rng.NormFloat64()*0.9, 0, 10),
		clamp(ons+0.5+rng.NormFloat64()*0.9, 0, 10),
		clamp(ons+rng.NormFloat64()*1.1, 0, 10),
		clamp(10-ons-0.5+rng.NormFloat64()*1.2, 0, 10),
	}
	for range 7 {
		swem = append(swem, clamp(level+rng.NormFloat64()*0.6, 1, 5))
	}
	return ons4, swem
}

// poisson draws a count with mean lambda (Knuth; lambda is small).
func poisson(rng *rand.Rand, lambda float64) int {
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// readDeciles reads the demo LSOAs' deprivation deciles (the composite UK
// decile, the demo's deprivation measure, AreaMeasure).
func readDeciles() (map[string]int, error) {
	b, err := ReadAreaData(AreaAttributes.Path)
	if err != nil {
		return nil, err
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("%s: %v", AreaAttributes.Path, err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	out := map[string]int{}
	for _, r := range rows[1:] {
		if d, err := strconv.Atoi(r[col["uk_composite_imd_decile"]]); err == nil {
			out[r[col["lsoa_code"]]] = d
		}
	}
	return out, nil
}

// homePostcodesSQL reads up to four postcodes of each LSOA the data holds
// exactly (reference data: every caller reads it).
const homePostcodesSQL = `SELECT lsoa_code, (array_agg(postcode ORDER BY postcode))[1:4] FROM postcodes
	WHERE country = 'GB' AND lsoa_code = ANY($1) AND quality BETWEEN 1 AND 30 GROUP BY lsoa_code ORDER BY lsoa_code`

func loadHomes(ctx context.Context, pool *pgxpool.Pool) (map[string]*homePool, error) {
	deciles, err := readDeciles()
	if err != nil {
		return nil, err
	}
	out := map[string]*homePool{}
	for _, r := range Regions {
		as, err := LoadAreas(r)
		if err != nil {
			return nil, err
		}
		codes := make([]string, len(as))
		for i, a := range as {
			codes[i] = a.Code
		}
		h := &homePool{codes: map[string][]string{}}
		err = db.InTx(ctx, pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, homePostcodesSQL, codes)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var lsoa string
				var pcs []string
				if err := rows.Scan(&lsoa, &pcs); err != nil {
					return err
				}
				d, ok := deciles[lsoa]
				if !ok || len(pcs) == 0 {
					continue
				}
				h.lsoas, h.deciles, h.codes[lsoa] = append(h.lsoas, lsoa), append(h.deciles, d), pcs
				w := float64(11 - d)
				h.weights, h.total = append(h.weights, w), h.total+w
			}
			return rows.Err()
		})
		if err != nil {
			return nil, fmt.Errorf("reading the demo's home postcodes: %w", err)
		}
		if len(h.lsoas) == 0 {
			return nil, fmt.Errorf("no postcodes of %s's LSOAs: load the demo postcodes (LoadPostcodes) before the history", r.Name)
		}
		out[r.Name] = h
	}
	return out, nil
}

// historyTargets are the assets referrals go to, by region and provider:
// the demo directory's British assets that take referrals (not the hand
// placed ones, whose figures the documentation shows) and the history's
// group assets.
func historyTargets() (map[string]map[string][]histTarget, error) {
	drawn, err := Assets()
	if err != nil {
		return nil, err
	}
	out := map[string]map[string][]histTarget{}
	add := func(region string, a *sparcv1.Asset) {
		if !a.GetAcceptingReferrals() {
			return
		}
		owner := strings.TrimPrefix(a.GetOwnerOrganisation(), "organisations/")
		if out[region] == nil {
			out[region] = map[string][]histTarget{}
		}
		reason := ""
		if len(a.GetCategories()) > 0 {
			reason = a.GetCategories()[0]
		}
		out[region][owner] = append(out[region][owner], histTarget{id: assets.ID(a), provider: owner,
			minAge: a.GetAgeRange().GetMinAge(), capacity: a.GetCapacity(), reason: reason})
	}
	i := 0
	for _, r := range Regions {
		for range r.Count {
			add(r.Name, drawn[i])
			i++
		}
	}
	group, err := HistoryAssets()
	if err != nil {
		return nil, err
	}
	region := map[string]string{}
	for _, o := range HistoryOrgs {
		region[o.ID] = o.Region
	}
	for _, a := range group {
		add(region[strings.TrimPrefix(a.GetOwnerOrganisation(), "organisations/")], a)
	}
	return out, nil
}

// LoadHistory writes the demo's referral history ending at now unless it
// is there already (checked by its first referral), and returns how many
// referrals it wrote. It needs the demo directory (Load) and postcodes
// (LoadPostcodes, for people's home areas; the areas, ImportAreas, for
// postcodes the data places only by point) loaded first.
func LoadHistory(ctx context.Context, pool *pgxpool.Pool, store *assets.Store, now time.Time) (int, error) {
	now = now.UTC().Truncate(time.Second)
	if err := createOrgs(ctx, pool, HistoryOrgs); err != nil {
		return 0, err
	}
	// The first referral drawn is Ladywood's: ask as its admin (row-level
	// security shows a referral only to its parties).
	firstID := uuid.NewSHA1(namespace, []byte("History/referral/0"))
	var exists bool
	err := db.InTx(asAdmin(ctx, ladywood.ID), pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM referrals WHERE id = $1)`, firstID).Scan(&exists)
	})
	if err != nil {
		return 0, err
	}
	if exists {
		return 0, nil
	}
	if err := loadHistoryAssets(ctx, store); err != nil {
		return 0, err
	}
	homes, err := loadHomes(ctx, pool)
	if err != nil {
		return 0, err
	}
	targets, err := historyTargets()
	if err != nil {
		return 0, err
	}
	plan := planHistory(now, targets, homes)
	if err := placeHomes(ctx, pool, plan); err != nil {
		return 0, err
	}
	if err := writeHistory(ctx, pool, plan); err != nil {
		return 0, err
	}
	return len(plan), nil
}

func asAdmin(ctx context.Context, org string) context.Context {
	return auth.WithPrincipal(ctx, &auth.Principal{Name: "system:demo", Org: org, Role: auth.RoleAdmin})
}

// loadHistoryAssets creates the history's group assets that are missing,
// as each group's admin.
func loadHistoryAssets(ctx context.Context, store *assets.Store) error {
	all, err := HistoryAssets()
	if err != nil {
		return err
	}
	byOrg := map[string][]*sparcv1.Asset{}
	for _, a := range all {
		o := strings.TrimPrefix(a.GetOwnerOrganisation(), "organisations/")
		if _, err := store.Get(ctx, assets.ID(a)); err == nil {
			continue
		}
		byOrg[o] = append(byOrg[o], a)
	}
	for _, o := range HistoryOrgs {
		if len(byOrg[o.ID]) == 0 {
			continue
		}
		if _, err := store.BulkInsert(asAdmin(ctx, o.ID), byOrg[o.ID]); err != nil {
			return fmt.Errorf("creating the assets of %s: %w", o.Name, err)
		}
	}
	return nil
}

// placeHomes gives each person the home area the person service would:
// the area of their postcode, through the same lookup.
func placeHomes(ctx context.Context, pool *pgxpool.Pool, plan []*histReferral) error {
	finder := postcodes.NewHomeAreas(postcodes.NewStore(pool), areas.NewStore(pool))
	known := map[string]string{}
	for _, r := range plan {
		p := r.person
		if p.postcode == "" || p.home != "" {
			continue
		}
		code, ok := known[p.postcode]
		if !ok {
			var err error
			if code, err = finder.HomeArea(ctx, p.postcode); err != nil {
				return fmt.Errorf("finding a demo person's home area: %w", err)
			}
			known[p.postcode] = code
		}
		p.home = code
	}
	return nil
}

// Statements of the history's writes, each for one referring
// organisation's rows as arrays (one round trip each).
const (
	historyPeopleSQL = `INSERT INTO people (id, organisation_id, display_name, age_band, postcode, postcode_outward,
			needs, consent_share, consent_scopes, consent_time, home_area, created_at, updated_at)
		SELECT p.id, $2, p.name, p.band, p.postcode, split_part(p.postcode, ' ', 1), ARRAY[p.need], false, '{}',
			NULL, p.home, p.at, p.at
		FROM unnest($1::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::text[])
			AS p (id, name, band, postcode, need, at, home)
		ON CONFLICT (id) DO NOTHING`
	historyReferralsSQL = `INSERT INTO referrals (id, person_id, referring_org, link_worker, asset_id, provider_org, reasons,
			status, status_reason, holds_place, request_id, request_hash, sessions_attended, first_attended_at,
			baseline_ons4, baseline_swemwbs, baseline_at, followup_ons4, followup_swemwbs, followup_at,
			requested_at, accepted_at, closed_at, created_at, updated_at, version)
		SELECT r.id, r.person, $2, $3, r.asset, r.provider, ARRAY[r.reason], r.status, r.status_reason, r.holds,
			r.request_id, sha256(convert_to(r.request_id, 'UTF8')), r.sessions, r.attended,
			NULLIF(r.b_ons4, '{}'), NULLIF(r.b_swem, '{}'), r.b_at, NULLIF(r.f_ons4, '{}'), NULLIF(r.f_swem, '{}'), r.f_at,
			r.created, r.accepted, r.closed, r.created, r.updated, r.version
		FROM jsonb_to_recordset($1) AS r (id uuid, person uuid, asset uuid, provider uuid, reason text, status text,
			status_reason text, holds boolean, request_id text, sessions integer, attended timestamptz,
			b_ons4 smallint[], b_swem smallint[], b_at timestamptz, f_ons4 smallint[], f_swem smallint[], f_at timestamptz,
			created timestamptz, accepted timestamptz, closed timestamptz, updated timestamptz, version bigint)`
	historyEventsSQL = `INSERT INTO referral_events (referral_id, referring_org, provider_org, time, actor, actor_org,
			from_status, to_status, reason)
		SELECT e.referral, $2, e.provider, e.at, CASE WHEN e.by_referrer THEN $3 ELSE 'Demo group coordinator' END,
			CASE WHEN e.by_referrer THEN $2 ELSE e.provider END, e.from_status, e.to_status, e.reason
		FROM jsonb_to_recordset($1) AS e (referral uuid, provider uuid, at timestamptz, by_referrer boolean,
			from_status text, to_status text, reason text)
		ORDER BY e.at`
	historyPlacesSQL = `INSERT INTO asset_places AS p (asset_id, taken) SELECT * FROM unnest($1::uuid[], $2::int[])
		ON CONFLICT (asset_id) DO UPDATE SET taken = p.taken + excluded.taken`
)

// writeHistory writes the people, referrals and timelines, one
// transaction per referring organisation acting as its admin (row-level
// security checks each row is that organisation's), and the places the
// open referrals hold.
func writeHistory(ctx context.Context, pool *pgxpool.Pool, plan []*histReferral) error {
	byOrg := map[string][]*histReferral{}
	for _, r := range plan {
		byOrg[r.referrer] = append(byOrg[r.referrer], r)
	}
	places := map[uuid.UUID]int32{}
	for _, org := range historyReferrers() {
		refs := byOrg[org.ID]
		if len(refs) == 0 {
			continue
		}
		linkWorker := "Demo link worker"
		if org.Templates != nil {
			linkWorker = "Demo group coordinator"
		}
		var pid []uuid.UUID
		var name, band, pc, need, home []string
		var at []time.Time
		seen := map[uuid.UUID]bool{}
		var rows, events []map[string]any
		for _, r := range refs {
			if p := r.person; !seen[p.id] {
				seen[p.id] = true
				pid, name, band, pc, need, home = append(pid, p.id), append(name, p.name), append(band, p.ageBand),
					append(pc, p.postcode), append(need, r.asset.reason), append(home, p.home)
				at = append(at, r.created.Add(-24*time.Hour)) // recorded the day before their first referral
			}
			if r.holdsPlace {
				if places[r.asset.id] >= r.asset.capacity {
					r.holdsPlace = false // full: the history's open referrals hold places while there are any
				} else {
					places[r.asset.id]++
				}
			}
			rows = append(rows, r.row())
			for _, e := range r.events {
				events = append(events, map[string]any{"referral": r.id, "provider": r.provider, "at": e.at,
					"by_referrer": e.to == "requested" || (e.to == "cancelled" && e.reason != "person_unreachable"),
					"from_status": e.from, "to_status": e.to, "reason": e.reason})
			}
		}
		err := db.InTx(asAdmin(ctx, org.ID), pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, historyPeopleSQL, pid, org.ID, name, band, pc, need, at, home); err != nil {
				return fmt.Errorf("people: %w", err)
			}
			if _, err := tx.Exec(ctx, historyReferralsSQL, rows, org.ID, linkWorker); err != nil {
				return fmt.Errorf("referrals: %w", err)
			}
			if _, err := tx.Exec(ctx, historyEventsSQL, events, org.ID, linkWorker); err != nil {
				return fmt.Errorf("timelines: %w", err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("writing the referral history of %s: %w", org.Name, err)
		}
	}
	var ids []uuid.UUID
	var taken []int32
	for id, n := range places {
		ids, taken = append(ids, id), append(taken, n)
	}
	if len(ids) == 0 {
		return nil
	}
	return db.InTx(OwnerContext(ctx), pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, historyPlacesSQL, ids, taken)
		return err
	})
}

// row is the referral as historyReferralsSQL reads it.
func (r *histReferral) row() map[string]any {
	ints := func(v []int16) []int16 {
		if v == nil {
			return []int16{}
		}
		return v
	}
	return map[string]any{
		"id": r.id, "person": r.person.id, "asset": r.asset.id, "provider": r.provider, "reason": r.asset.reason,
		"status": r.status, "status_reason": r.reason, "holds": r.holdsPlace, "request_id": r.requestID,
		"sessions": r.sessions, "attended": r.attended, "b_ons4": ints(r.bOns4), "b_swem": ints(r.bSwem), "b_at": r.baselineAt,
		"f_ons4": ints(r.fOns4), "f_swem": ints(r.fSwem), "f_at": r.followupAt, "created": r.created,
		"accepted": r.accepted, "closed": r.closed, "updated": r.updated, "version": len(r.events),
	}
}

// createOrgs creates the organisations when missing (LoadOrgs's way).
func createOrgs(ctx context.Context, pool *pgxpool.Pool, list []HistoryOrg) error {
	var orgs []Org
	for _, o := range list {
		orgs = append(orgs, Org{ID: o.ID, Name: o.Name, Kind: o.Kind})
	}
	return loadOrgs(ctx, pool, orgs)
}
