package network_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/network"
	"github.com/sparc-network/sparc/internal/testenv"
)

// BenchmarkCouncilYear answers the network of one council-year (issue 19's
// size: 200 organisations, 2,000 assets, 100,000 referrals over 100 LSOAs
// of one council) with its history by quarter: the read, the graphs of
// the year, the year before and each quarter, the measures and the
// release. The target is 1 s.
func BenchmarkCouncilYear(b *testing.B) {
	env := testenv.NewServer(b)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		b.Helper()
		if _, err := env.Pool.Exec(ctx, sql, args...); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
	const council = "E08999001"
	env.ImportAreas(b, "local_authority", 300000, &sparcv1.AreaFeature{Code: council, DisplayName: "Council", GeometryGeojson: testenv.Box(-2.0, 52.4, -1.9, 52.5)})
	var lsoas []*sparcv1.AreaFeature
	for i := range 100 {
		x, y := -2.0+float64(i%10)*0.01, 52.4+float64(i/10)*0.01
		lsoas = append(lsoas, &sparcv1.AreaFeature{Code: fmt.Sprintf("E01%06d", i), DisplayName: "L", GeometryGeojson: testenv.Box(x, y, x+0.01, y+0.01)})
	}
	env.ImportAreas(b, "lsoa", 1500, lsoas...)
	exec(`UPDATE areas SET council_code = $1, attributes = jsonb_build_object('imd_decile', 1 + abs(hashtext(code)) % 10) WHERE kind = 'lsoa'`, council)
	exec(`INSERT INTO area_kinds (kind, deprivation_attribute, deprivation_scale) VALUES ('lsoa', 'imd_decile', 'decile')
		ON CONFLICT (kind) DO UPDATE SET deprivation_attribute = 'imd_decile', deprivation_scale = 'decile'`)
	// 150 referring organisations, 50 groups with 40 assets each.
	exec(`INSERT INTO organisations (id, kind, name) SELECT gen_random_uuid(), CASE WHEN g <= 150 THEN 'link_worker_service' ELSE 'community_group' END,
		'Org ' || g FROM generate_series(1, 200) g`)
	exec(`INSERT INTO assets (id, kind, name, location, country, status, owner_organisation)
		SELECT gen_random_uuid(), 'association', 'Asset ' || g,
		       ST_SetSRID(ST_MakePoint(-2.0 + random() * 0.1, 52.4 + random() * 0.1), 4326)::geography, 'GB', 'active',
		       (SELECT id FROM organisations WHERE kind = 'community_group' ORDER BY name OFFSET g % 50 LIMIT 1)
		FROM generate_series(1, 2000) g`)
	exec(`INSERT INTO people (id, organisation_id, display_name, postcode, home_area)
		SELECT gen_random_uuid(), o.id, 'P', 'B1 1AA', 'E01' || lpad((g % 100)::text, 6, '0')
		FROM generate_series(1, 20000) g
		JOIN LATERAL (SELECT id FROM organisations WHERE kind = 'link_worker_service' ORDER BY name OFFSET g % 150 LIMIT 1) o ON true`)
	exec(`WITH p AS (SELECT id, organisation_id, row_number() OVER (ORDER BY id) AS i FROM people),
		a AS (SELECT id, owner_organisation, row_number() OVER (ORDER BY id) AS i FROM assets)
		INSERT INTO referrals (id, person_id, referring_org, link_worker, asset_id, provider_org, status, status_reason,
			request_id, request_hash, accepted_at, created_at, updated_at)
		SELECT gen_random_uuid(), p.id, p.organisation_id, 'lw', a.id, a.owner_organisation,
		       (ARRAY['requested', 'accepted', 'rejected', 'completed', 'in_progress'])[1 + g % 5],
		       CASE WHEN g % 5 = 2 THEN (ARRAY['no_capacity', 'not_eligible', 'not_suitable'])[1 + g % 3] ELSE '' END,
		       'r' || g, '\x00', CASE WHEN g % 5 IN (1, 3, 4) THEN t + interval '1 day' END, t, t
		FROM generate_series(1::bigint, 100000) g
		JOIN p ON p.i = 1 + (g * 7919) % 20000
		JOIN a ON a.i = 1 + ((g * 104729) % 2000 + (g % 3) * (p.i % 40)) % 2000
		CROSS JOIN LATERAL (SELECT timestamptz '2025-01-01' + (g % 730) * interval '1 day' + interval '10 hours' AS t) tt`)
	exec(`ANALYZE`)
	key, err := network.LoadSecret(ctx, env.AppPool)
	if err != nil {
		b.Fatal(err)
	}
	svc := network.NewService(network.NewStore(env.AppPool), key).WithClock(func() time.Time { return time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC) })
	req := &sparcv1.GetReferralNetworkRequest{Window: "2026", Area: council, Period: sparcv1.NetworkPeriod_NETWORK_PERIOD_QUARTER}
	b.ResetTimer()
	for b.Loop() {
		res, err := svc.GetReferralNetwork(asAnalyst(), req)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.GetEdges()) == 0 {
			b.Fatal("no edges")
		}
		b.ReportMetric(float64(len(res.GetEdges())), "edges")
	}
}
