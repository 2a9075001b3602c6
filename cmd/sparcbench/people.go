package main

// The people section (issue 14, point 2): SearchPeople by NHS number and
// by name prefix over 100k people of one organisation, at concurrency 16,
// through the server (gRPC: key check, audit event, row-level security)
// against the raw statements it runs on the application role (with the
// same audit insert, in one round trip). Loading seals every NHS number
// with the data key of a server started for this section, leaves the
// blind index empty as a release before it would, and the server's
// start-up indexes them: the backfill is measured too.

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/people"
	"github.com/sparc-network/sparc/internal/seal"
	"github.com/sparc-network/sparc/internal/webhooks"
)

func init() {
	sections = append(sections, section{
		name: "people",
		doc:  "SearchPeople over 100k people at concurrency 16 (NHS number, name prefix, with a year of birth): gRPC vs raw SQL; blind index backfill",
		run:  runPeople,
	})
}

const (
	peopleCount = 100_000
	peopleConc  = 16
)

var (
	benchFirst = []string{"Amira", "Amelia", "Aaron", "Bilal", "Bethan", "Carys", "Chidi", "Daniel", "Deepa", "Elin",
		"Fatima", "Gareth", "Hannah", "Imran", "Jack", "Kiran", "Leah", "Mohammed", "Nia", "Olu", "Priya", "Rhys",
		"Sana", "Tomasz", "Usman", "Vera", "Wen", "Yusuf", "Zara", "Owain"}
	benchSurname = []string{"Khan", "Jones", "Smith", "Patel", "Williams", "Ahmed", "Evans", "Hussain", "Davies", "Begum",
		"Thomas", "Ali", "Roberts", "Singh", "Hughes", "Lewis", "Nowak", "Okafor", "Price", "Morgan"}
)

// nhsNumberFor is a valid NHS number (modulus 11) made from n, distinct
// for distinct n below 10⁸; ok is false when n has no valid check digit.
func nhsNumberFor(n int) (string, bool) {
	base := fmt.Sprintf("%09d", 400_000_000+n)
	sum := 0
	for i := range 9 {
		sum += int(base[i]-'0') * (10 - i)
	}
	check := (11 - sum%11) % 11
	if check == 10 {
		return "", false
	}
	return base + strconv.Itoa(check), true
}

func runPeople(ctx context.Context, b *bench) error {
	key := make([]byte, 32)
	if _, err := crand.Read(key); err != nil {
		return err
	}
	sealer, err := seal.New(key)
	if err != nil {
		return err
	}
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	var org string
	if err := b.raw.QueryRow(ctx, `INSERT INTO organisations (id, kind, name) VALUES (gen_random_uuid(), 'link_worker_service', $1)
		RETURNING id::text`, "sparcbench people "+stamp).Scan(&org); err != nil {
		return err
	}
	orgID := uuid.MustParse(org)

	// Load: COPY, sealing in Go; the index is left to the server.
	t0 := time.Now()
	rng := rand.New(rand.NewPCG(14, 2))
	rows := make([][]any, 0, peopleCount)
	var sample []string // NHS numbers to search for
	for n := 0; len(rows) < peopleCount; n++ {
		nhs, ok := nhsNumberFor(n)
		if !ok {
			continue
		}
		id := uuid.New()
		sealed, err := sealer.Seal([]byte(nhs), id[:])
		if err != nil {
			return err
		}
		name := benchFirst[rng.IntN(len(benchFirst))] + " " + benchSurname[rng.IntN(len(benchSurname))]
		yob := int32(1930 + rng.IntN(78))
		district := "B" + strconv.Itoa(1+rng.IntN(40))
		postcode := district + " " + strconv.Itoa(rng.IntN(10)) + string(rune('A'+rng.IntN(26))) + string(rune('A'+rng.IntN(26)))
		rows = append(rows, []any{id, orgID, name, "", yob, postcode, district, sealed})
		if len(rows)%97 == 0 {
			sample = append(sample, nhs)
		}
	}
	if _, err := b.raw.CopyFrom(ctx, pgx.Identifier{"people"},
		[]string{"id", "organisation_id", "display_name", "age_band", "year_of_birth", "postcode", "postcode_outward", "nhs_number_sealed"},
		pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("loading people: %w", err)
	}
	if _, err := b.raw.Exec(ctx, `ANALYZE people`); err != nil {
		return err
	}
	loaded := time.Since(t0)

	// A server with the data key the numbers are sealed with: its start-up
	// indexes them.
	pool, err := db.OpenApp(ctx, b.url, int32(b.cfg.maxConns))
	if err != nil {
		return err
	}
	defer pool.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sctx, stop := context.WithCancel(context.Background())
	t1 := time.Now()
	a, err := app.New(sctx, pool, app.Config{DataKey: key, Auth: benchAuth, Webhooks: webhooks.Config{Disabled: true}, Server: benchServer(quiet)})
	if err != nil {
		stop()
		return err
	}
	started := time.Since(t1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx) }()
	defer func() { stop(); <-done }()
	if _, err := b.raw.Exec(ctx, `ANALYZE people`); err != nil {
		return err
	}

	_, lwKey, err := auth.NewKeyStore(b.raw).Create(ctx, orgID, auth.RoleLinkWorker, "sparcbench people")
	if err != nil {
		return err
	}
	conn, err := dial(a.Server().GRPCAddr(), lwKey)
	if err != nil {
		return err
	}
	defer conn.Close()
	client := sparcv1.NewPersonServiceClient(conn)

	// The raw path searches by the index the server computed.
	indexes := make([][]byte, len(sample))
	for i, nhs := range sample {
		got, err := client.SearchPeople(ctx, &sparcv1.SearchPeopleRequest{NhsNumber: nhs})
		if err != nil || len(got.GetPeople()) != 1 {
			return fmt.Errorf("searching %s after the backfill: %d people, %v", nhs, len(got.GetPeople()), err)
		}
		id := uuid.MustParse(got.GetPeople()[0].GetName()[len("people/"):])
		if err := b.raw.QueryRow(ctx, `SELECT nhs_number_index FROM people WHERE id = $1`, id).Scan(&indexes[i]); err != nil {
			return err
		}
	}
	prefixes := []string{}
	for _, f := range benchFirst {
		prefixes = append(prefixes, f[:2], f[:3]+" ", f)
	}
	// Years of birth that every first name has (people are spread over 78
	// years, about 40 of each name per year).
	yearFor := func(i int) int32 { return int32(1940 + (i*7)%60) }
	byNHS, byName, byNameYear := people.BenchSearchStatements()
	principal := "key:" + lwKey[:14]
	raw := func(method, q string, args func(i int) []any) func(ctx context.Context, i int) error {
		return func(ctx context.Context, i int) error {
			bt := db.IdentityBatch(db.Identity{Org: org, Role: auth.RoleLinkWorker})
			ev := a.Audit.Statement(auth.AuditEvent{Principal: principal, Org: org, Role: auth.RoleLinkWorker,
				Method: "/sparc.v1.PersonService/" + method, Resource: "persons", Outcome: "ok", Code: "OK", Peer: "127.0.0.1"})
			bt.Queue(ev.SQL, ev.Args...)
			n := 0
			bt.Queue(q, append([]any{orgID, uuid.Nil, 21}, args(i)...)...).Query(func(rows pgx.Rows) error {
				for rows.Next() {
					if _, err := rows.Values(); err != nil {
						return err
					}
					n++
				}
				return rows.Err()
			})
			if err := pool.SendBatch(ctx, bt).Close(); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("raw %s found nobody", method)
			}
			return nil
		}
	}
	grpcSearch := func(req func(i int) *sparcv1.SearchPeopleRequest) func(ctx context.Context, i int) error {
		return func(ctx context.Context, i int) error {
			got, err := client.SearchPeople(ctx, req(i))
			if err == nil && len(got.GetPeople()) == 0 {
				err = fmt.Errorf("search %v found nobody", req(i))
			}
			return err
		}
	}
	cells := []struct {
		what  string
		paths []contender
	}{
		{"NHS number", []contender{
			{"raw SQL", raw("SearchPeople", byNHS, func(i int) []any { return []any{indexes[i%len(indexes)]} })},
			{"gRPC", grpcSearch(func(i int) *sparcv1.SearchPeopleRequest {
				return &sparcv1.SearchPeopleRequest{NhsNumber: sample[i%len(sample)]}
			})},
		}},
		{"name prefix", []contender{
			{"raw SQL", raw("SearchPeople", byName, func(i int) []any {
				lo, hi := people.BenchNameRange(prefixes[i%len(prefixes)])
				return []any{lo, hi}
			})},
			{"gRPC", grpcSearch(func(i int) *sparcv1.SearchPeopleRequest {
				return &sparcv1.SearchPeopleRequest{DisplayNamePrefix: prefixes[i%len(prefixes)]}
			})},
		}},
		{"name prefix + year of birth", []contender{
			{"raw SQL", raw("SearchPeople", byNameYear, func(i int) []any {
				lo, hi := people.BenchNameRange(prefixes[i%len(prefixes)])
				y := yearFor(i)
				return []any{lo, hi, y, people.BenchYearBands(y)}
			})},
			{"gRPC", grpcSearch(func(i int) *sparcv1.SearchPeopleRequest {
				return &sparcv1.SearchPeopleRequest{DisplayNamePrefix: prefixes[i%len(prefixes)], YearOfBirth: yearFor(i)}
			})},
		}},
	}
	b.printf("SearchPeople over %d people of one organisation (load: %.1f s by COPY, sealing in Go; server start-up with\n"+
		"the blind index backfill of all of them: %.1f s). Concurrency %d, pages of 20; raw SQL = the same search and audit\n"+
		"insert as one pipelined batch on the application role; %d rounds taking turns\n",
		peopleCount, loaded.Seconds(), started.Seconds(), peopleConc, b.cfg.rounds)
	w := b.table()
	fmt.Fprintln(w, "search\tpath\tp50 ms\tp99 ms\tsearches/s\tCPU/req Go ms\tPG ms\tgRPC/raw CPU\tother cores\t")
	for _, c := range cells {
		res, err := b.compare(ctx, "people "+c.what, peopleConc, 1_000_000, c.paths)
		if err != nil {
			return err
		}
		for _, p := range c.paths {
			s := res[p.name]
			ratio := ""
			if p.name == "gRPC" && s.perCPU() > 0 && res["raw SQL"].perCPU() > 0 {
				ratio = fmt.Sprintf("%.2f", res["raw SQL"].perCPU()/s.perCPU())
			}
			fmt.Fprintf(w, "%s\t%s\t%.2f\t%.2f\t%.0f\t%.3f\t%.3f\t%s\t%.2f\t\n", c.what, p.name, ms(s.p50), ms(s.p99), s.qps,
				ms(s.goCPU), ms(s.pgCPU), ratio, s.otherCores)
		}
		b.check(target{what: "SearchPeople by " + c.what + " gRPC p99, conc 16", measured: ms(res["gRPC"].p99), unit: "ms", op: "<=", goal: 5,
			scale: "100k people", atScale: true})
	}
	w.Flush()
	return nil
}
