package coverage_test

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/coverage"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The stored coverage's settings and state (issue 18): the walking
// distance changes through the API, without a restart, and a rebuild
// reports its progress in the API and in Prometheus.

// settingsOf reads the settings as an anonymous caller (they are public).
func settingsOf(t *testing.T, env *demoEnv) *sparcv1.CoverageSettings {
	t.Helper()
	s, err := sparcv1.NewCoverageServiceClient(env.Anonymous()).GetCoverageSettings(context.Background(),
		&sparcv1.GetCoverageSettingsRequest{Name: "coverageSettings"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// gauges reads the maintainer's metrics, by name.
func gauges(t *testing.T, m *coverage.Maintainer) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			switch {
			case mt.GetGauge() != nil:
				out[f.GetName()] = mt.GetGauge().GetValue()
			case mt.GetCounter() != nil:
				out[f.GetName()] = mt.GetCounter().GetValue()
			case mt.GetHistogram() != nil:
				out[f.GetName()+"_count"] = float64(mt.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// TestRebuildReportsProgress: half-way through a rebuild, the API's
// status, the maintainer's Status and the Prometheus gauges all say
// rebuilding, with the same areas done of the same total; once done,
// nothing is rebuilding and the new results serve.
func TestRebuildReportsProgress(t *testing.T) {
	env := newDemoEnv(t)
	ctx := context.Background()
	var total int32
	if err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM areas`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	m := coverage.NewMaintainer(env.AppPool, coverage.Config{WalkMeters: 650}, nil)
	type step struct{ done, total int32 }
	half, resume := make(chan step), make(chan struct{})
	var once sync.Once
	coverage.SetBuildSteps(m, 200, func(done, total int32) {
		if done > 0 && done < total {
			once.Do(func() { half <- step{done, total}; <-resume })
		}
	})
	if st := settingsOf(t, env).GetStatus(); st.GetRebuilding() || st.GetServingWalkingDistanceMeters() != 0 || st.GetMaintained() {
		t.Fatalf("before any build: %v", st)
	}
	built := make(chan error, 1)
	go func() { _, err := m.RebuildNow(ctx); built <- err }()
	var at step
	select {
	case at = <-half:
	case err := <-built:
		t.Fatalf("the rebuild ended without reporting progress half-way: %v", err)
	}
	if at.total != total {
		t.Errorf("progress total %d, want every area (%d)", at.total, total)
	}
	st := settingsOf(t, env).GetStatus()
	if !st.GetRebuilding() || st.GetRebuildAreasDone() != at.done || st.GetRebuildAreasTotal() != total ||
		st.GetRebuildWalkingDistanceMeters() != 650 || st.GetRebuildStartTime() == nil || st.GetServingWalkingDistanceMeters() != 0 {
		t.Errorf("API status half-way (%d of %d): %v", at.done, total, st)
	}
	if s := m.Status(); !s.Rebuilding || s.Done != at.done || s.Total != total {
		t.Errorf("maintainer status half-way: %+v", s)
	}
	g := gauges(t, m)
	if g["sparc_coverage_rebuilding"] != 1 || g["sparc_coverage_rebuild_areas_done"] != float64(at.done) ||
		g["sparc_coverage_rebuild_areas_total"] != float64(total) || g["sparc_coverage_status_up"] != 1 {
		t.Errorf("metrics half-way (%d of %d): %v", at.done, total, g)
	}
	close(resume)
	if err := <-built; err != nil {
		t.Fatal(err)
	}
	st = settingsOf(t, env).GetStatus()
	if st.GetRebuilding() || st.GetServingWalkingDistanceMeters() != 650 || st.GetBuiltTime() == nil {
		t.Errorf("API status after the rebuild: %v", st)
	}
	g = gauges(t, m)
	if g["sparc_coverage_rebuilding"] != 0 || g["sparc_coverage_rebuild_areas_done"] != 0 || g["sparc_coverage_serving_walking_distance_meters"] != 650 {
		t.Errorf("metrics after the rebuild: %v", g)
	}
}

// TestWalkingDistanceChangesWithoutRestart: on a server keeping stored
// results (as sparcd does), the network admin changes the walking
// distance through the API; the server's own maintainer rebuilds in the
// background, reads keep the previous distance until it is done, then
// requests without a distance get the new one, from the stored results,
// equal to the from-scratch answer.
func TestWalkingDistanceChangesWithoutRestart(t *testing.T) {
	env := newDemoEnv(t, testenv.Options{Coverage: coverage.Config{Maintain: true, Poll: 20 * time.Millisecond}})
	ctx := context.Background()
	waitApplied(t, env, coverage.DefaultWalkMeters)
	if s := settingsOf(t, env); s.GetName() != "coverageSettings" || s.GetWalkingDistanceMeters() != 800 ||
		!s.GetStatus().GetMaintained() || s.GetStatus().GetServingWalkingDistanceMeters() != 800 || s.GetStatus().GetRebuilding() {
		t.Fatalf("settings before the change: %v", s)
	}
	admin := sparcv1.NewCoverageServiceClient(env.Network(t))
	got, err := admin.UpdateCoverageSettings(ctx, &sparcv1.UpdateCoverageSettingsRequest{
		Settings: &sparcv1.CoverageSettings{Name: "coverageSettings", WalkingDistanceMeters: 500}})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetWalkingDistanceMeters() != 500 || got.GetStatus().GetServingWalkingDistanceMeters() != 800 {
		t.Errorf("update's answer: %v; want 500 m set, 800 m still serving", got)
	}
	// Until the rebuild is done, a request without a distance gets the
	// previous results (the maintainer notices within 2 s and the
	// rebuild takes longer than this read).
	if res, err := env.Coverage.ComputeCoverage(ctx, &sparcv1.ComputeCoverageRequest{Kind: "lsoa"}); err != nil ||
		res.GetWalkingDistanceMeters() != 800 {
		t.Errorf("read right after the change: %v m, %v; want the previous 800 m", res.GetWalkingDistanceMeters(), err)
	}
	waitApplied(t, env, 500)
	if s := settingsOf(t, env); s.GetWalkingDistanceMeters() != 500 || s.GetStatus().GetServingWalkingDistanceMeters() != 500 ||
		s.GetStatus().GetRebuilding() {
		t.Errorf("settings after the rebuild: %v", s)
	}
	q, err := coverage.ParseRequest(&sparcv1.ComputeCoverageRequest{Kind: "lsoa", Categories: []string{"food"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := env.App.Coverage.Compute(ctx, q)
	if err != nil || !res.Stored || res.Query.WalkMeters != 500 {
		t.Fatalf("a request without a distance after the rebuild: stored %v, %v m, %v; want the stored 500 m", res.Stored, res.Query.WalkMeters, err)
	}
	compareStored(t, env.App.Coverage, env.App.Coverage, "after the change through the API", 500)
	// An explicit distance is still answered, from scratch.
	if res, err := env.Coverage.ComputeCoverage(ctx, &sparcv1.ComputeCoverageRequest{Kind: "lsoa", WalkingDistanceMeters: new(800.0)}); err != nil ||
		res.GetWalkingDistanceMeters() != 800 {
		t.Errorf("an explicit 800 m: %v, %v", res.GetWalkingDistanceMeters(), err)
	}

	// Bad settings are refused with the field named; nothing changes.
	for _, c := range []struct {
		req   *sparcv1.UpdateCoverageSettingsRequest
		field string
	}{
		{&sparcv1.UpdateCoverageSettingsRequest{}, "settings"},
		{&sparcv1.UpdateCoverageSettingsRequest{Settings: &sparcv1.CoverageSettings{Name: "coverageSettings", WalkingDistanceMeters: 5001}}, "settings.walking_distance_meters"},
		{&sparcv1.UpdateCoverageSettingsRequest{Settings: &sparcv1.CoverageSettings{Name: "coverageSettings", WalkingDistanceMeters: -3}}, "settings.walking_distance_meters"},
		{&sparcv1.UpdateCoverageSettingsRequest{Settings: &sparcv1.CoverageSettings{Name: "coverageSettings", WalkingDistanceMeters: math.NaN()}}, "settings.walking_distance_meters"},
		{&sparcv1.UpdateCoverageSettingsRequest{Settings: &sparcv1.CoverageSettings{Name: "coverageSettings"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"walking_distance_meters"}}}, "settings.walking_distance_meters"},
		{&sparcv1.UpdateCoverageSettingsRequest{Settings: &sparcv1.CoverageSettings{Name: "settings", WalkingDistanceMeters: 700}}, "settings.name"},
		{&sparcv1.UpdateCoverageSettingsRequest{Settings: &sparcv1.CoverageSettings{Name: "coverageSettings", WalkingDistanceMeters: 700},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"walking"}}}, "update_mask.paths[0]"},
	} {
		_, err := admin.UpdateCoverageSettings(ctx, c.req)
		if status.Code(err) != codes.InvalidArgument || !slices.Contains(testenv.Fields(err), c.field) {
			t.Errorf("%v: %v (fields %v), want InvalidArgument on %s", c.req, err, testenv.Fields(err), c.field)
		}
	}
	if _, err := admin.GetCoverageSettings(ctx, &sparcv1.GetCoverageSettingsRequest{Name: "settings"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("GetCoverageSettings of another name: %v", err)
	}
	if s := settingsOf(t, env); s.GetWalkingDistanceMeters() != 500 {
		t.Errorf("after refused updates: %v m, want 500", s.GetWalkingDistanceMeters())
	}
}
