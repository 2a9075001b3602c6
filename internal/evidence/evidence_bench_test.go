package evidence_test

import (
	"context"
	"testing"
	"time"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// A council-year: the fixture's areas and organisations, and 100,000
// completed referrals with both measures spread over them and over 2025
// (go test -bench OutcomeEvidence -run ^$ ./internal/evidence/).
func BenchmarkOutcomeEvidenceCouncilYear(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	if _, err := f.owner.Exec(ctx, `
		WITH p AS (
			INSERT INTO people (id, organisation_id, display_name, postcode, home_area)
			SELECT gen_random_uuid(), $1, 'P', 'B1 1AA', (ARRAY['L1','L2','L3','L5','L4'])[1 + i % 5]
			FROM generate_series(1, 20000) i RETURNING id)
		INSERT INTO referrals (id, person_id, referring_org, link_worker, asset_id, provider_org, status, request_id, request_hash,
			baseline_swemwbs, baseline_ons4, baseline_at, followup_swemwbs, followup_ons4, followup_at, requested_at, closed_at, created_at)
		SELECT gen_random_uuid(), p.id, $1, 'lw', o.id, o.id, 'completed', gen_random_uuid()::text, '\x00',
			ARRAY[1 + k % 5, 2, 3, 2, 3, 1 + k % 3, 2]::smallint[], ARRAY[5, 6, 5, k % 10]::smallint[], c - interval '60 days',
			ARRAY[2 + k % 4, 3, 3, 2, 4, 1 + k % 5, 2]::smallint[], ARRAY[6, 6, 7, k % 7]::smallint[], c, c - interval '60 days', c, c
		FROM (SELECT id, row_number() OVER () AS rn FROM p) p
		CROSS JOIN generate_series(1, 5) k
		CROSS JOIN LATERAL (SELECT timestamptz '2025-01-01' + (p.rn * 5 + k) * interval '150 seconds' AS c) cc
		JOIN LATERAL (SELECT x.id FROM organisations x WHERE x.id = ANY($2) ORDER BY x.id OFFSET (p.rn + k) % 4 LIMIT 1) o ON true`,
		f.orgs["R"], []string{f.orgs["P1"], f.orgs["P2"], f.orgs["P3"], f.orgs["P4"]}); err != nil {
		b.Fatal(err)
	}
	if _, err := f.owner.Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	actx := analyst(b, f)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		got, err := f.svc.GetOutcomeEvidence(actx, &sparcv1.GetOutcomeEvidenceRequest{Window: "2025", Area: "C1"})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/answer")
		if got.GetOverall().GetN().GetValue() < 50000 {
			b.Fatalf("overall n %v", got.GetOverall().GetN())
		}
	}
}
