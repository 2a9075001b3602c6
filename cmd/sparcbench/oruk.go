package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/oruk"
	"github.com/sparc-network/sparc/internal/oruk/orukclient"
)

// The Open Referral UK section (issue 7): the ORUK read API against the
// native search it is built on, and the import rate from a local file.
func init() {
	sections = append(sections, section{
		name:  "oruk",
		doc:   "Open Referral UK: /openreferral/services pages and proximity vs native search; import rate",
		needs: []string{"load"},
		run:   runORUK,
	})
}

const (
	orukImportServices = 20_000
	orukImportSource   = "bench:oruk-import"
)

// orukCase is one proximity question in both APIs' words.
type orukCase struct {
	native, oruk, orukFull string
}

func runORUK(ctx context.Context, b *bench) error {
	pl, err := newPlaces()
	if err != nil {
		return err
	}
	var total int
	if err := b.raw.QueryRow(ctx, `SELECT count(*) FROM assets`).Scan(&total); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(b.cfg.seed, 700))
	cases := make([]orukCase, b.cfg.queries)
	for i := range cases {
		p := pl.draw(rng)
		lat, lng := strconv.FormatFloat(p.lat, 'f', -1, 64), strconv.FormatFloat(p.lng, 'f', -1, 64)
		nv := url.Values{"latitude": {lat}, "longitude": {lng}, "radius_meters": {strconv.FormatFloat(searchRadius, 'f', -1, 64)},
			"page_size": {strconv.Itoa(searchSize)}, "statuses": {"ASSET_STATUS_ACTIVE", "ASSET_STATUS_PAUSED", "ASSET_STATUS_CLOSED"}}
		ov := url.Values{"latitude": {lat}, "longitude": {lng}, "proximity": {strconv.FormatFloat(searchRadius, 'f', -1, 64)},
			"per_page": {strconv.Itoa(searchSize)}}
		cases[i].native = b.httpBase + "/v1/assets:search?" + nv.Encode()
		cases[i].oruk = b.httpBase + "/openreferral/services?" + ov.Encode()
		ov.Set("full", "true")
		cases[i].orukFull = b.httpBase + "/openreferral/services?" + ov.Encode()
	}
	if err := b.orukAgree(ctx, cases[:min(len(cases), 100)]); err != nil {
		return err
	}
	pages := max(1, total/50)
	listURL := func(i int, full bool) string {
		u := fmt.Sprintf("%s/openreferral/services?per_page=50&page=%d", b.httpBase, 1+(i*7919)%pages)
		if full {
			u += "&full=true"
		}
		return u
	}
	type orukPath struct {
		name string
		url  func(i int) string
	}
	paths := []orukPath{
		{"native search (HTTP)", func(i int) string { return cases[i%len(cases)].native }},
		{"ORUK proximity", func(i int) string { return cases[i%len(cases)].oruk }},
		{"ORUK proximity, full", func(i int) string { return cases[i%len(cases)].orukFull }},
		{"ORUK services page of 50", func(i int) string { return listURL(i, false) }},
		{"ORUK services page of 50, full", func(i int) string { return listURL(i, true) }},
		// The same question both ways: the first page of 50 of the whole
		// directory, natively (ListAssets) and as ORUK services.
		{"native list, first 50 (HTTP)", func(int) string { return b.httpBase + "/v1/assets?page_size=50" }},
		{"ORUK services, first 50", func(int) string { return b.httpBase + "/openreferral/services?per_page=50&page=1" }},
	}
	b.printf("%d assets; proximity: the search section's points and radius (%.0f m), %d per page, every status;\n"+
		"services pages: random page numbers of 50 (of %d)\n", total, searchRadius, searchSize, pages)
	w := b.table()
	fmt.Fprintln(w, "request\tconc\tp50 ms\tp99 ms\tQPS\tvs native\t")
	for _, conc := range b.cfg.concurrency {
		runs := map[string][]stretch{}
		for r := range b.cfg.rounds {
			for _, p := range paths {
				fmt.Fprintf(os.Stderr, "measuring %s, concurrency %d, round %d/%d\n", p.name, conc, r+1, b.cfg.rounds)
				res, err := measure(ctx, b.cpu, nil, conc, r*len(cases)/b.cfg.rounds, b.cfg.warmup/time.Duration(b.cfg.rounds),
					b.cfg.duration/time.Duration(b.cfg.rounds), b.cfg.requests/b.cfg.rounds,
					func(ctx context.Context, i int) error { _, err := b.fetch(ctx, p.url(i)); return err })
				if err != nil {
					return fmt.Errorf("%s, concurrency %d: %w", p.name, conc, err)
				}
				runs[p.name] = append(runs[p.name], res)
			}
		}
		res := map[string]stats{}
		for _, p := range paths {
			s, err := summarise(runs[p.name])
			if err != nil {
				return err
			}
			res[p.name] = s
			vs := ""
			switch p.name {
			case paths[0].name, "native list, first 50 (HTTP)":
			case "ORUK services, first 50":
				vs = fmt.Sprintf("%.0f%% of list", 100*s.qps/res["native list, first 50 (HTTP)"].qps)
			default:
				vs = fmt.Sprintf("%.0f%%", 100*s.qps/res[paths[0].name].qps)
			}
			fmt.Fprintf(w, "%s\t%d\t%.2f\t%.2f\t%.0f\t%s\t\n", p.name, conc, ms(s.p50), ms(s.p99), s.qps, vs)
		}
		b.check(target{what: "ORUK proximity / native search QPS, conc " + strconv.Itoa(conc),
			measured: 100 * res["ORUK proximity"].qps / res[paths[0].name].qps, unit: "%", op: ">=", goal: 70,
			scale: "any size", atScale: true})
		b.check(target{what: "ORUK services page of 50 / native list of 50 QPS, conc " + strconv.Itoa(conc),
			measured: 100 * res["ORUK services, first 50"].qps / res["native list, first 50 (HTTP)"].qps, unit: "%", op: ">=", goal: 70,
			scale: "any size", atScale: true})
	}
	w.Flush()
	return b.orukImport(ctx, pl)
}

// fetch GETs u and returns the body, failing on any status but 200.
func (b *bench) fetch(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d: %s", u, resp.StatusCode, body)
	}
	return body, nil
}

// orukAgree checks that ORUK proximity returns the native search's
// assets in the native order, so the comparison is like with like.
func (b *bench) orukAgree(ctx context.Context, cases []orukCase) error {
	for _, c := range cases {
		nb, err := b.fetch(ctx, c.native)
		if err != nil {
			return err
		}
		ob, err := b.fetch(ctx, c.oruk)
		if err != nil {
			return err
		}
		var n struct {
			Results []struct {
				Asset struct{ ID string } `json:"asset"`
			} `json:"results"`
		}
		var o struct {
			Contents []struct{ ID string } `json:"contents"`
		}
		if err := json.Unmarshal(nb, &n); err != nil {
			return err
		}
		if err := json.Unmarshal(ob, &o); err != nil {
			return err
		}
		var want, got []string
		for _, r := range n.Results {
			want = append(want, r.Asset.ID)
		}
		for _, s := range o.Contents {
			got = append(got, s.ID)
		}
		if !slices.Equal(want, got) {
			return fmt.Errorf("ORUK and native search disagree on %s: %v vs %v", c.oruk, got, want)
		}
	}
	b.printf("checked: ORUK proximity returns the native search's ids in the same order (%d points)\n", len(cases))
	return nil
}

// orukImport writes a dump of synthetic services to a file, then times
// `sparc import oruk --file`'s work: read, parse, map, and upsert through
// DirectoryImportService over gRPC as an admin; then the same file again
// (every record unchanged). The imported assets are removed afterwards.
func (b *bench) orukImport(ctx context.Context, pl *places) error {
	if _, err := b.raw.Exec(ctx, `DELETE FROM assets WHERE source = $1`, orukImportSource); err != nil {
		return fmt.Errorf("removing an earlier run's imported assets: %w", err)
	}
	defer b.raw.Exec(context.Background(), `DELETE FROM assets WHERE source = $1`, orukImportSource) //nolint:errcheck

	dir, err := os.MkdirTemp("", "sparcbench-oruk-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "dump.json")
	rng := rand.New(rand.NewPCG(b.cfg.seed, 701))
	page := oruk.Page[oruk.Service]{TotalItems: orukImportServices, TotalPages: 1, PageNumber: 1, Size: orukImportServices,
		FirstPage: true, LastPage: true}
	for i := range orukImportServices {
		a := proto.Clone(syntheticAsset(rng, pl, i)).(*sparcv1.Asset)
		a.Name = "assets/" + uuid.NewSHA1(uuid.NameSpaceURL, []byte("sparcbench/oruk/"+strconv.Itoa(i))).String()
		a.OwnerOrganisation = ""
		page.Contents = append(page.Contents, oruk.ServiceOf(a, nil))
	}
	dump, err := json.Marshal(page)
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, dump, 0o600); err != nil {
		return err
	}

	conn, err := b.adminConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	client := sparcv1.NewDirectoryImportServiceClient(conn)
	run := func() (*orukclient.Report, time.Duration, cpuUse, error) {
		cpu0 := b.cpu.sample()
		start := time.Now()
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, 0, cpuUse{}, err
		}
		recs, err := orukclient.ParseDump(raw)
		if err != nil {
			return nil, 0, cpuUse{}, err
		}
		rep, err := orukclient.Import(ctx, recs, nil, orukclient.MapOptions{Source: orukImportSource}, false,
			func(ctx context.Context, req *sparcv1.UpsertSourcedAssetsRequest) (*sparcv1.UpsertSourcedAssetsResponse, error) {
				return client.UpsertSourcedAssets(ctx, req)
			})
		took := time.Since(start)
		return rep, took, b.cpu.sample().sub(cpu0), err
	}
	b.printf("\nimport: %d synthetic services in a %.1f MB dump file, read, parsed, mapped and upserted over gRPC in batches of %d\n",
		orukImportServices, float64(len(dump))/1e6, orukclient.BatchSize)
	w := b.table()
	fmt.Fprintln(w, "import\tservices\tcreated\tunchanged\trejected\tseconds\tservices/s\tGo CPU µs/service\tPG CPU µs/service\tother cores\t")
	for _, name := range []string{"first import (all new)", "re-import (all unchanged)"} {
		rep, took, cpu, err := run()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if rep.Rejected > 0 {
			return fmt.Errorf("%s: %d records rejected: %v", name, rep.Rejected, rep.Problems[:min(3, len(rep.Problems))])
		}
		rate := float64(rep.Services) / took.Seconds()
		per := func(d time.Duration) string {
			if d <= 0 {
				return "-"
			}
			return fmt.Sprintf("%.0f", float64(d.Microseconds())/float64(rep.Services))
		}
		other := max(0, (cpu.machine-cpu.self-cpu.pg).Seconds()/took.Seconds())
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%.2f\t%.0f\t%s\t%s\t%.2f\t\n", name, rep.Services, rep.Created, rep.Unchanged,
			rep.Rejected, took.Seconds(), rate, per(cpu.self), per(cpu.pg), other)
		b.check(target{what: "ORUK import rate, " + name, measured: rate, unit: "services/s", op: ">=", goal: 2000,
			scale: "any size", atScale: true})
	}
	if err := w.Flush(); err != nil {
		return err
	}
	b.printf("Go CPU = this process (the CLI's parsing and mapping and the server), PG = the benchmark's PostgreSQL;\n" +
		"other cores = CPU used meanwhile by everything else on the machine.\n")
	return nil
}

// adminConn dials the gRPC server with a fresh admin key of a benchmark
// organisation (imports are an admin's job).
func (b *bench) adminConn(ctx context.Context) (*grpc.ClientConn, error) {
	org := uuid.NewSHA1(uuid.NameSpaceURL, []byte("sparcbench/oruk/org"))
	if _, err := b.raw.Exec(ctx, `INSERT INTO organisations (id, kind, name) VALUES ($1, 'other', 'Benchmark importer')
		ON CONFLICT (id) DO NOTHING`, org); err != nil {
		return nil, fmt.Errorf("creating the benchmark organisation: %w", err)
	}
	_, key, err := auth.NewKeyStore(b.raw).Create(ctx, org, auth.RoleAdmin, "sparcbench oruk import")
	if err != nil {
		return nil, fmt.Errorf("creating an admin key: %w", err)
	}
	return grpc.NewClient(b.srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(bearerKey(key)))
}

type bearerKey string

func (k bearerKey) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(k)}, nil
}
func (bearerKey) RequireTransportSecurity() bool { return false }
