package main

// The remote services section (issue 14, point 6): what listing remote
// services after the in-person results costs a point search.

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/assets"
)

func init() {
	sections = append(sections, section{
		name:  "remote",
		doc:   "point search with remote services: remote=exclude (the search of before) vs include vs only, gRPC; raw SQL of the in-person statement",
		needs: []string{"load"},
		run:   runRemote,
	})
}

const (
	remoteServices = 1000 // 1% of the default directory
	remoteEmail    = "remote" + syntheticDomain
)

// runRemote adds remoteServices remote services (drawn areas of 2 to 30 km
// across around the demo regions' places, and ten whole-country ones),
// then measures point searches of 2 km (pages full of in-person results:
// the remote statement is not sent) and of 300 m (in-person results run
// out: it is).
func runRemote(ctx context.Context, b *bench) error {
	pl, err := newPlaces()
	if err != nil {
		return err
	}
	if _, err := b.raw.Exec(ctx, `DELETE FROM assets WHERE contact_email = $1`, remoteEmail); err != nil {
		return fmt.Errorf("removing remote services of an earlier run: %w", err)
	}
	store := assets.NewStore(b.raw)
	rng := rand.New(rand.NewPCG(b.cfg.seed, 6))
	for i := range remoteServices {
		p := pl.draw(rng)
		a := &sparcv1.Asset{Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: fmt.Sprintf("Remote service %d", i),
			DeliveryMode: sparcv1.DeliveryMode_DELIVERY_MODE_TELEPHONE, Location: &sparcv1.Location{Country: p.country},
			Contact: &sparcv1.Contact{Email: remoteEmail}, Status: sparcv1.AssetStatus_ASSET_STATUS_ACTIVE}
		if i < 10 {
			a.ServiceArea = &sparcv1.ServiceArea{Country: p.country}
		} else {
			h := (1 + rng.Float64()*14) / 111 // half the side, in degrees of latitude
			w := h * 1.6
			a.ServiceAreaGeojson = fmt.Sprintf(`{"type":"Polygon","coordinates":[[[%f,%f],[%f,%f],[%f,%f],[%f,%f],[%f,%f]]]}`,
				p.lng-w, p.lat-h, p.lng+w, p.lat-h, p.lng+w, p.lat+h, p.lng-w, p.lat+h, p.lng-w, p.lat-h)
		}
		if _, err := store.Create(ctx, uuid.New(), a); err != nil {
			return fmt.Errorf("creating remote service: %w", err)
		}
	}
	if _, err := b.raw.Exec(ctx, `ANALYZE assets`); err != nil {
		return err
	}
	svc := assets.NewService(b.app.Assets, b.app.Tokens)
	b.printf("%d remote services added (10 whole-country, the rest drawn areas of 2-30 km); page_size %d\n", remoteServices, searchSize)
	w := b.table()
	fmt.Fprintln(w, "workload\tconc\tpath\tp50 ms\tp99 ms\tQPS\tCPU/req Go ms\tPG ms\treq/CPU-s\tvs exclude\tresults (remote)\t")
	for wi, radius := range []float64{2000, 300} {
		cases := make([]*sparcv1.SearchAssetsRequest, b.cfg.queries)
		rng := rand.New(rand.NewPCG(b.cfg.seed+uint64(wi), 7))
		for i := range cases {
			p := pl.draw(rng)
			cases[i] = &sparcv1.SearchAssetsRequest{Latitude: proto.Float64(p.lat), Longitude: proto.Float64(p.lng),
				RadiusMeters: proto.Float64(radius), PageSize: searchSize}
		}
		modes := []struct {
			name string
			m    sparcv1.RemoteFilter
		}{{"exclude", sparcv1.RemoteFilter_REMOTE_FILTER_EXCLUDE}, {"include", sparcv1.RemoteFilter_REMOTE_FILTER_INCLUDE},
			{"only", sparcv1.RemoteFilter_REMOTE_FILTER_ONLY}}
		counts := map[string]string{}
		var cs []contender
		for _, md := range modes {
			reqs := make([]*sparcv1.SearchAssetsRequest, len(cases))
			total, remote := 0, 0
			for i, c := range cases {
				reqs[i] = proto.Clone(c).(*sparcv1.SearchAssetsRequest)
				reqs[i].Remote = md.m
				if i < 100 {
					resp, err := b.grpc.SearchAssets(ctx, reqs[i])
					if err != nil {
						return err
					}
					for _, r := range resp.GetResults() {
						total++
						if r.GetRemote() {
							remote++
						}
					}
				}
			}
			counts["gRPC "+md.name] = fmt.Sprintf("%.1f (%.1f)", float64(total)/float64(min(100, len(cases))), float64(remote)/float64(min(100, len(cases))))
			cs = append(cs, contender{"gRPC " + md.name, func(ctx context.Context, i int) error {
				_, err := b.grpc.SearchAssets(ctx, reqs[i%len(reqs)])
				return err
			}})
		}
		counts["raw SQL in-person"] = counts["gRPC exclude"]
		queries := make([]assets.SearchQuery, len(cases))
		for i, c := range cases {
			if queries[i], err = svc.SearchQuery(c); err != nil {
				return err
			}
		}
		cs = append(cs, contender{"raw SQL in-person", func(ctx context.Context, i int) error {
			_, err := b.rawSearch(ctx, &searchCase{query: queries[i%len(queries)]})
			return err
		}})
		name := fmt.Sprintf("near %.0f m", radius)
		for _, conc := range b.cfg.concurrency {
			res, err := b.compare(ctx, name, conc, len(cases)/b.cfg.rounds, cs)
			if err != nil {
				return err
			}
			base := res["gRPC exclude"]
			for _, c := range cs {
				s := res[c.name]
				ratio := "-"
				if base.perCPU() > 0 && s.perCPU() > 0 {
					ratio = fmt.Sprintf("%.2f", base.perCPU()/s.perCPU())
				}
				pg := "-"
				if s.pgCPU > 0 {
					pg = fmt.Sprintf("%.3f", ms(s.pgCPU))
				}
				n := counts[c.name]
				fmt.Fprintf(w, "%s\t%d\t%s\t%.2f\t%.2f\t%.0f\t%.3f\t%s\t%.0f\t%s\t%s\t\n", name, conc, c.name,
					ms(s.p50), ms(s.p99), s.qps, ms(s.goCPU), pg, s.perCPU(), ratio, n)
			}
		}
	}
	w.Flush()
	b.printf("vs exclude = CPU per request (Go + PG) relative to remote=exclude, whose statement is the point search of before\n" +
		"(plus the three new columns); include sends the remote statement only when the in-person results do not fill the page.\n")
	return nil
}
