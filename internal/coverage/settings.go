package coverage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
)

// The stored coverage's settings (migration 0066) and state, as the API
// shows them. The walking distance is a row of coverage_settings, not a
// flag only, so that it changes without a restart and every server's
// maintainer reads the same value at its rebuild check; the flag
// (--coverage-walk-meters) is the value while no row exists.

// settingsName is the singleton's name (AIP-156).
const settingsName = "coverageSettings"

// settingsFields: what an update may change.
var settingsFields = aip.NewFields(&sparcv1.CoverageSettings{}, []string{"walking_distance_meters"}, "name", "status")

// walkSetting returns the walking distance set through the API, or
// fallback when none is.
func walkSetting(ctx context.Context, q pgx.Tx, fallback float64) (float64, error) {
	var w float64
	err := q.QueryRow(ctx, `SELECT walk_meters FROM coverage_settings`).Scan(&w)
	if errors.Is(err, pgx.ErrNoRows) {
		return fallback, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading the coverage settings: %w", err)
	}
	return w, nil
}

// desiredWalk is the walking distance the stored results should have.
func (m *Maintainer) desiredWalk(ctx context.Context) (float64, error) {
	var w float64
	err := pgx.BeginFunc(ctx, m.store.db, func(tx pgx.Tx) (err error) {
		w, err = walkSetting(ctx, tx, m.cfg.WalkMeters)
		return err
	})
	return w, err
}

// StoredStatus is the state of the stored results as the database holds
// it (so any server reports the rebuild another one runs).
type StoredStatus struct {
	Serving    *generation // nil: none yet
	Building   *generation // nil: no rebuild under way
	BuiltAt    time.Time
	BuildStart time.Time
}

// storedStatus reads the current generation and the one being built.
func storedStatus(ctx context.Context, pool *pgxpool.Pool) (StoredStatus, error) {
	var st StoredStatus
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		if st.Serving, err = readGeneration(ctx, tx, `state = 'current'`); err != nil {
			return err
		}
		if st.Serving != nil {
			if err := tx.QueryRow(ctx, `SELECT coalesce(built_at, started_at) FROM coverage_generations WHERE id = $1`,
				st.Serving.ID).Scan(&st.BuiltAt); err != nil {
				return err
			}
		}
		if st.Building, err = readGeneration(ctx, tx, `state = 'building' ORDER BY id DESC LIMIT 1`); err != nil {
			return err
		}
		if st.Building != nil {
			return tx.QueryRow(ctx, `SELECT started_at FROM coverage_generations WHERE id = $1`, st.Building.ID).Scan(&st.BuildStart)
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("reading the stored coverage's state: %w", err)
	}
	return st, nil
}

// settingsConfig is what the service needs to answer for the settings.
type settingsConfig struct {
	primary     *pgxpool.Pool // the settings and the state are read and written here, not on a replica
	maintained  bool
	defaultWalk float64
}

// WithSettings enables GetCoverageSettings and UpdateCoverageSettings
// over the primary pool; maintained says whether this server keeps stored
// results (sparcd), defaultWalk is --coverage-walk-meters (0: the
// default). Without it the calls are UNIMPLEMENTED.
func (s *Service) WithSettings(primary *pgxpool.Pool, maintained bool, defaultWalk float64) *Service {
	if defaultWalk <= 0 {
		defaultWalk = DefaultWalkMeters
	}
	s.settings = &settingsConfig{primary: primary, maintained: maintained, defaultWalk: defaultWalk}
	return s
}

func checkSettingsName(v *apierr.InvalidArgument, field, name string) {
	switch name {
	case settingsName:
	case "":
		v.Add(field, "is required")
	default:
		v.Add(field, "must be %s", settingsName)
	}
}

// GetCoverageSettings returns the walking distance and the stored
// results' state.
func (s *Service) GetCoverageSettings(ctx context.Context, req *sparcv1.GetCoverageSettingsRequest) (*sparcv1.CoverageSettings, error) {
	if s.settings == nil {
		return s.UnimplementedCoverageServiceServer.GetCoverageSettings(ctx, req)
	}
	var v apierr.InvalidArgument
	checkSettingsName(&v, "name", req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.readSettings(ctx)
}

// UpdateCoverageSettings changes the walking distance; the maintainers
// rebuild in the background (reads keep the previous results until done).
func (s *Service) UpdateCoverageSettings(ctx context.Context, req *sparcv1.UpdateCoverageSettingsRequest) (*sparcv1.CoverageSettings, error) {
	if s.settings == nil {
		return s.UnimplementedCoverageServiceServer.UpdateCoverageSettings(ctx, req)
	}
	var v apierr.InvalidArgument
	in := req.GetSettings()
	if in == nil {
		v.Add("settings", "is required")
		return nil, v.Err()
	}
	checkSettingsName(&v, "settings.name", in.GetName())
	mask := settingsFields.Parse(&v, "update_mask", req.GetUpdateMask(), in)
	w := in.GetWalkingDistanceMeters()
	if mask.Has("walking_distance_meters") && (math.IsNaN(w) || w <= 0 || w > maxWalkMeters) {
		v.Add("settings.walking_distance_meters", "must be greater than 0 and at most %d", maxWalkMeters)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if mask.Has("walking_distance_meters") {
		if _, err := s.settings.primary.Exec(ctx, `INSERT INTO coverage_settings (walk_meters) VALUES ($1)
			ON CONFLICT (one) DO UPDATE SET walk_meters = excluded.walk_meters, updated_at = now()`, w); err != nil {
			return nil, fmt.Errorf("writing the coverage settings: %w", err)
		}
	}
	return s.readSettings(ctx)
}

// readSettings is the settings resource as it stands.
func (s *Service) readSettings(ctx context.Context) (*sparcv1.CoverageSettings, error) {
	var walk float64
	if err := pgx.BeginFunc(ctx, s.settings.primary, func(tx pgx.Tx) (err error) {
		walk, err = walkSetting(ctx, tx, s.settings.defaultWalk)
		return err
	}); err != nil {
		return nil, err
	}
	st, err := storedStatus(ctx, s.settings.primary)
	if err != nil {
		return nil, err
	}
	return &sparcv1.CoverageSettings{Name: settingsName, WalkingDistanceMeters: walk, Status: st.proto(s.settings.maintained)}, nil
}

func (st StoredStatus) proto(maintained bool) *sparcv1.StoredCoverageStatus {
	out := &sparcv1.StoredCoverageStatus{Maintained: maintained}
	if g := st.Serving; g != nil {
		out.ServingWalkingDistanceMeters = g.Walk
		out.BuiltTime = timestamppb.New(st.BuiltAt)
	}
	if g := st.Building; g != nil {
		out.Rebuilding = true
		out.RebuildWalkingDistanceMeters = g.Walk
		out.RebuildAreasDone, out.RebuildAreasTotal = g.Done, g.Total
		out.RebuildStartTime = timestamppb.New(st.BuildStart)
	}
	return out
}
