package oruk

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/auth"
)

// ImportService implements sparcv1.DirectoryImportServiceServer over the
// asset store.
type ImportService struct {
	sparcv1.UnimplementedDirectoryImportServiceServer
	store *assets.Store
}

// NewImportService returns the import service.
func NewImportService(store *assets.Store) *ImportService { return &ImportService{store: store} }

// MaxBatch is the most records one UpsertSourcedAssets call takes.
const MaxBatch = 1000

const maxSourceLen = 500

// UpsertSourcedAssets validates the request's envelope, then lets the
// store validate and write each record on its own.
func (s *ImportService) UpsertSourcedAssets(ctx context.Context, req *sparcv1.UpsertSourcedAssetsRequest) (*sparcv1.UpsertSourcedAssetsResponse, error) {
	var v apierr.InvalidArgument
	switch n := utf8.RuneCountInString(req.GetSource()); {
	case n == 0:
		v.Add("source", "is required (the feed's URL or file name)")
	case n > maxSourceLen:
		v.Add("source", "is %d characters, more than the maximum of %d", n, maxSourceLen)
	}
	if n := len(req.GetRecords()); n > MaxBatch {
		v.Add("records", "has %d entries, more than the maximum of %d per call", n, MaxBatch)
	}
	recs := make([]assets.SourcedAsset, len(req.GetRecords()))
	seen := map[uuid.UUID]int{}
	for i, r := range req.GetRecords() {
		p := "records[" + strconv.Itoa(i) + "]"
		id, err := uuid.Parse(r.GetAssetId())
		if err != nil || len(r.GetAssetId()) != 36 {
			v.Add(p+".asset_id", "%q is not a UUID", r.GetAssetId())
		} else if j, dup := seen[id]; dup {
			v.Add(p+".asset_id", "%s is also records[%d]; each asset once per call", id, j)
		}
		seen[id] = i
		switch n := utf8.RuneCountInString(r.GetSourceId()); {
		case n == 0:
			v.Add(p+".source_id", "is required")
		case n > maxSourceLen:
			v.Add(p+".source_id", "is %d characters, more than the maximum of %d", n, maxSourceLen)
		}
		recs[i] = assets.SourcedAsset{ID: id, Source: req.GetSource(), SourceID: r.GetSourceId(),
			Asset: r.GetAsset(), SetOwner: req.GetSetOwner()}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	// An import writes assets of the importing admin's organisation only:
	// a record without an owner gets the caller's, a record owned by
	// another organisation is refused as if that organisation did not
	// exist (row-level security would refuse it too, as the second wall).
	p := auth.FromContext(ctx)
	results := make([]assets.UpsertResult, len(recs))
	var allowed []assets.SourcedAsset
	var at []int
	for i, r := range recs {
		if a := r.Asset; a != nil {
			if a.GetOwnerOrganisation() == "" && p != nil {
				a = proto.Clone(a).(*sparcv1.Asset)
				a.OwnerOrganisation = aip.NameOf(aip.Organisations, p.Org)
				r.Asset = a
			}
			if !p.CanWriteOwnedBy(assets.OwnerID(a)) {
				results[i] = assets.UpsertResult{Outcome: assets.OutcomeRejected,
					Err: fmt.Errorf("%s: %w", a.GetOwnerOrganisation(), apierr.ErrNotFound)}
				continue
			}
		}
		allowed, at = append(allowed, r), append(at, i)
	}
	written, err := s.store.UpsertSourced(ctx, allowed)
	if err != nil {
		return nil, err
	}
	for j, r := range written {
		results[at[j]] = r
	}
	resp := &sparcv1.UpsertSourcedAssetsResponse{Results: make([]*sparcv1.UpsertResult, len(results))}
	for i, r := range results {
		out := &sparcv1.UpsertResult{SourceId: recs[i].SourceID, AssetId: recs[i].ID.String()}
		switch r.Outcome {
		case assets.OutcomeCreated:
			out.Outcome = sparcv1.UpsertOutcome_UPSERT_OUTCOME_CREATED
		case assets.OutcomeUpdated:
			out.Outcome = sparcv1.UpsertOutcome_UPSERT_OUTCOME_UPDATED
		case assets.OutcomeUnchanged:
			out.Outcome = sparcv1.UpsertOutcome_UPSERT_OUTCOME_UNCHANGED
		default:
			out.Outcome = sparcv1.UpsertOutcome_UPSERT_OUTCOME_REJECTED
			out.Error = r.Err.Error()
			var ia *apierr.InvalidArgument
			if errors.As(r.Err, &ia) {
				for _, fv := range ia.Violations {
					out.Violations = append(out.Violations, &sparcv1.RecordViolation{Field: fv.Field, Description: fv.Description})
				}
			}
		}
		resp.Results[i] = out
	}
	return resp, nil
}
