package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/orgs"
	"github.com/sparc-network/sparc/internal/vocab"
)

// syntheticDomain marks synthetic assets (their contact email), so a run
// against DATABASE_URL can find and replace those of an earlier run without
// touching real ones.
const syntheticDomain = "@bench.sparc.invalid"

// runLoad loads cfg.assets synthetic assets through Store.BulkInsert in
// batches, several batches in flight, while the next batches are
// generated; the rate is assets over the wall time of the whole load.
func runLoad(ctx context.Context, b *bench) error {
	pool := b.raw
	var have int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM assets WHERE contact_email LIKE $1`, "%"+syntheticDomain).Scan(&have); err != nil {
		return fmt.Errorf("counting synthetic assets: %w", err)
	}
	if b.cfg.reuse && have == int64(b.cfg.assets) {
		b.printf("reusing %d synthetic assets already loaded (-reuse)\n", have)
		return nil
	}
	if have > 0 {
		b.printf("removing %d synthetic assets of an earlier run ...\n", have)
		if _, err := pool.Exec(ctx, `DELETE FROM assets WHERE contact_email LIKE $1`, "%"+syntheticDomain); err != nil {
			return fmt.Errorf("removing synthetic assets: %w", err)
		}
		if _, err := pool.Exec(ctx, `VACUUM assets`); err != nil {
			return fmt.Errorf("vacuuming assets: %w", err)
		}
	}
	pl, err := newPlaces()
	if err != nil {
		return err
	}
	if err := checkSynthetic(ctx, b, pl); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []*sparcv1.Asset, b.cfg.loadWorkers)
	go func() {
		defer close(batches)
		rng := rand.New(rand.NewPCG(b.cfg.seed, 1))
		for done := 0; done < b.cfg.assets; {
			n := min(b.cfg.batch, b.cfg.assets-done)
			batch := make([]*sparcv1.Asset, n)
			for i := range batch {
				batch[i] = syntheticAsset(rng, pl, done+i)
			}
			done += n
			select {
			case batches <- batch:
			case <-ctx.Done():
				return
			}
		}
	}()

	store := assets.NewStore(b.raw)
	cpu0 := b.cpu.sample()
	start := time.Now()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		loaded   int64
		firstErr error
	)
	for range b.cfg.loadWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range batches {
				n, err := store.BulkInsert(ctx, batch)
				mu.Lock()
				loaded += n
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	loadTime := time.Since(start)
	cpu := b.cpu.sample().sub(cpu0)
	rate := float64(loaded) / loadTime.Seconds()

	start = time.Now()
	if _, err := pool.Exec(ctx, `ANALYZE assets`); err != nil {
		return fmt.Errorf("analyzing assets: %w", err)
	}
	analyzeTime := time.Since(start)
	// VACUUM sets hint bits and the visibility map now, so the searches
	// that follow measure the steady state rather than the first reads
	// of new pages and an autovacuum of the new rows running beside them.
	start = time.Now()
	if _, err := pool.Exec(ctx, `VACUUM assets`); err != nil {
		return fmt.Errorf("vacuuming assets: %w", err)
	}
	vacuumTime := time.Since(start)

	var total int64
	var tableBytes, indexBytes int64
	if err := pool.QueryRow(ctx, `SELECT count(*), pg_table_size('assets'), pg_indexes_size('assets') FROM assets`).Scan(&total, &tableBytes, &indexBytes); err != nil {
		return fmt.Errorf("sizing assets: %w", err)
	}

	perAsset := func(d time.Duration) string {
		if d <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", float64(d)/float64(time.Microsecond)/float64(loaded))
	}
	pg := "-"
	if cpu.pgKnown {
		pg = perAsset(cpu.pg)
	}
	w := b.table()
	fmt.Fprintln(w, "assets loaded\tbatch\tin flight\ttime s\tassets/s\tCPU/asset Go µs\tPG µs\tother cores\tANALYZE s\tVACUUM s\tassets in table\ttable MB\tindexes MB\t")
	fmt.Fprintf(w, "%d\t%d\t%d\t%.1f\t%.0f\t%s\t%s\t%.2f\t%.2f\t%.2f\t%d\t%.0f\t%.0f\t\n", loaded, b.cfg.batch, b.cfg.loadWorkers,
		loadTime.Seconds(), rate, perAsset(cpu.self), pg, max(0, (cpu.machine-cpu.self-cpu.pg).Seconds()/loadTime.Seconds()),
		analyzeTime.Seconds(), vacuumTime.Seconds(), total, float64(tableBytes)/1e6, float64(indexBytes)/1e6)
	w.Flush()
	b.printf("(BulkInsert = one COPY per batch in one transaction, with every index and the generated\n full-text column maintained; asset generation runs alongside on the same CPUs.)\n")
	b.check(target{what: "bulk load", measured: rate, unit: "assets/s", op: ">=", goal: 50_000,
		scale: "1M assets", atScale: b.cfg.assets >= 1_000_000})
	return nil
}

// checkSynthetic sends a few synthetic assets through CreateAsset (and
// deletes them again): BulkInsert trusts its input, so this is where an
// invalid generator would show.
func checkSynthetic(ctx context.Context, b *bench, pl *places) error {
	// Bootstrap gives the network admin, who writes no assets: the assets
	// are written by the admin of its organisation.
	_, org, err := orgs.Bootstrap(ctx, b.raw, "sparcbench")
	if err != nil {
		return fmt.Errorf("creating the benchmark's organisation: %w", err)
	}
	_, key, err := auth.NewKeyStore(b.raw).Create(ctx, uuid.MustParse(org), auth.RoleAdmin, "sparcbench synthetic check")
	if err != nil {
		return fmt.Errorf("creating the benchmark's admin key: %w", err)
	}
	conn, err := grpc.NewClient(b.srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(apiKey(key)))
	if err != nil {
		return fmt.Errorf("dialling gRPC: %w", err)
	}
	defer conn.Close()
	client := sparcv1.NewAssetServiceClient(conn)
	rng := rand.New(rand.NewPCG(b.cfg.seed, 99))
	for i := range 15 { // 30 calls: within an admin key's rate limit burst
		a, err := client.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: syntheticAsset(rng, pl, i)})
		if err != nil {
			return fmt.Errorf("synthetic asset rejected by CreateAsset: %w", err)
		}
		if _, err := client.DeleteAsset(ctx, &sparcv1.DeleteAssetRequest{Name: a.GetName()}); err != nil {
			return fmt.Errorf("deleting checked synthetic asset: %w", err)
		}
	}
	return nil
}

// apiKey sends an API key with every call (loopback only, so no TLS).
type apiKey string

func (k apiKey) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(k)}, nil
}

func (apiKey) RequireTransportSecurity() bool { return false }

// Words that synthetic names and descriptions are made of.
var (
	activities = []string{"Walking group", "Community choir", "Men's shed", "Food club", "Debt advice drop-in",
		"Allotment project", "Digital skills café", "Carers' group", "Chair-based exercise", "Stay and play",
		"Volunteer centre", "Art for wellbeing", "Community garden", "Job club", "History society",
		"Community lunch", "Parkrun team", "Befriending service", "Yoga class", "Housing advice",
		"Wandelgroep", "Buurtkoor", "Taalcafé", "Moestuin", "Repair Café", "Mantelzorgcafé"}
	sentences = []string{
		"A friendly, gentle-paced session; everyone welcome.",
		"No experience needed and the first visit is free.",
		"Run by local volunteers who know the area well.",
		"Tea, coffee and a chat afterwards.",
		"Help with forms, phones and online services.",
		"Suitable for people living with long-term conditions.",
		"Samen met buren, in een ontspannen sfeer.",
		"Iedereen is welkom, ook zonder ervaring.",
		"Materials and equipment are provided.",
		"Bring a friend or come on your own.",
	}
	streets = []string{"High Street", "Church Road", "Station Road", "Park Lane", "Victoria Road", "Mill Lane",
		"Coolsingel", "Nieuwe Binnenweg", "Beukelsdijk", "Oude Binnenweg"}
	otherLanguages = map[string][]string{"GB": {"pl", "ur", "pa", "bn", "ar", "cy"}, "NL": {"en", "tr", "ar", "pl"}}
	kinds          = []struct {
		k sparcv1.AssetKind
		w int
	}{{sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, 35}, {sparcv1.AssetKind_ASSET_KIND_INSTITUTION, 20},
		{sparcv1.AssetKind_ASSET_KIND_PHYSICAL_SPACE, 15}, {sparcv1.AssetKind_ASSET_KIND_LOCAL_ECONOMY, 15},
		{sparcv1.AssetKind_ASSET_KIND_CULTURE, 8}, {sparcv1.AssetKind_ASSET_KIND_INDIVIDUAL, 7}}
)

// syntheticAsset makes a plausible, valid asset: one to three categories,
// a cost mix, some accessibility features and languages, sessions in the
// place's time zone, a full contact, mostly active.
func syntheticAsset(rng *rand.Rand, pl *places, i int) *sparcv1.Asset {
	p := pl.draw(rng)
	act := activities[rng.IntN(len(activities))]
	a := &sparcv1.Asset{
		DisplayName: fmt.Sprintf("%s, %s #%d", act, p.neighbourhd, i),
		Description: sentences[rng.IntN(len(sentences))] + " " + sentences[rng.IntN(len(sentences))],
		Location: &sparcv1.Location{Latitude: p.lat, Longitude: p.lng, Locality: p.locality, Country: p.country,
			Address: fmt.Sprintf("%d %s", 1+rng.IntN(300), streets[rng.IntN(len(streets))])},
		AcceptingReferrals: rng.IntN(10) < 7,
		Contact: &sparcv1.Contact{Name: "Coordinator", Email: fmt.Sprintf("hello%d%s", i, syntheticDomain),
			Phone: fmt.Sprintf("+44 121 %03d %04d", rng.IntN(1000), rng.IntN(10000)), Website: fmt.Sprintf("https://example.org/a/%d", i)},
	}
	if p.country == "GB" {
		// The inward code's letters are never C, I, K, M, O or V: assets' postcodes are validated.
		const inward = "ABDEFGHJLNPQRSTUWXYZ"
		a.Location.Postcode = fmt.Sprintf("B%d %d%c%c", 1+rng.IntN(99), rng.IntN(10), inward[rng.IntN(len(inward))], inward[rng.IntN(len(inward))])
	} else {
		a.Location.Postcode = fmt.Sprintf("30%02d %c%c", rng.IntN(100), 'A'+rune(rng.IntN(26)), 'A'+rune(rng.IntN(26)))
	}
	w := rng.IntN(100)
	for _, k := range kinds {
		if w < k.w {
			a.Kind = k.k
			break
		}
		w -= k.w
	}
	for _, j := range rng.Perm(len(vocab.Categories))[:1+rng.IntN(3)] {
		a.Categories = append(a.Categories, vocab.Categories[j].Code)
	}
	switch c := rng.IntN(100); {
	case c < 50:
		a.Cost = &sparcv1.Cost{Kind: sparcv1.CostKind_COST_KIND_FREE}
	case c < 80:
		a.Cost = &sparcv1.Cost{Kind: sparcv1.CostKind_COST_KIND_LOW_COST, Note: "£2 a session, pay what you can"}
	case c < 95:
		a.Cost = &sparcv1.Cost{Kind: sparcv1.CostKind_COST_KIND_PAID, Note: "£6 per class"}
	default:
		a.Cost = &sparcv1.Cost{}
	}
	for _, t := range vocab.Accessibility {
		if rng.IntN(10) < 3 {
			a.Accessibility = append(a.Accessibility, t.Code)
		}
	}
	if p.country == "GB" {
		a.Languages = []string{"en"}
	} else {
		a.Languages = []string{"nl"}
	}
	if rng.IntN(5) == 0 {
		others := otherLanguages[p.country]
		a.Languages = append(a.Languages, others[rng.IntN(len(others))])
	}
	switch r := rng.IntN(10); {
	case r < 2:
		a.AgeRange = &sparcv1.AgeRange{MinAge: proto.Int32([]int32{16, 18, 50, 55}[rng.IntN(4)])}
	case r < 3:
		a.AgeRange = &sparcv1.AgeRange{MinAge: proto.Int32(0), MaxAge: proto.Int32([]int32{5, 11, 17, 25}[rng.IntN(4)])}
	}
	if rng.IntN(10) < 6 {
		a.Capacity = proto.Int32(int32(5 + rng.IntN(56)))
	}
	for range rng.IntN(4) {
		h := 8 + rng.IntN(12)
		s := &sparcv1.Session{Day: sparcv1.Weekday(1 + rng.IntN(7)), StartTime: fmt.Sprintf("%02d:%02d", h, 30*rng.IntN(2)),
			EndTime: fmt.Sprintf("%02d:00", h+1+rng.IntN(3)), Timezone: p.tz}
		if rng.IntN(5) == 0 {
			s.ValidFrom, s.ValidUntil = "2026-01-01", "2027-06-30"
		}
		a.Sessions = append(a.Sessions, s)
	}
	switch s := rng.IntN(100); {
	case s < 90:
		a.Status = sparcv1.AssetStatus_ASSET_STATUS_ACTIVE
	case s < 97:
		a.Status = sparcv1.AssetStatus_ASSET_STATUS_PAUSED
	default:
		a.Status = sparcv1.AssetStatus_ASSET_STATUS_CLOSED
	}
	if rng.IntN(5) != 0 {
		a.LastVerifiedTime = timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(300*24)) * time.Hour))
	}
	return a
}
