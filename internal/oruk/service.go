package oruk

import (
	"context"
	"errors"
	"fmt"
	"strconv"

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
	recs, err := checkRecords(req)
	if err != nil {
		return nil, err
	}
	results, err := s.upsertOwn(ctx, recs)
	if err != nil {
		return nil, err
	}
	resp := &sparcv1.UpsertSourcedAssetsResponse{Results: make([]*sparcv1.UpsertResult, len(results))}
	for i, r := range results {
		resp.Results[i] = resultOf(recs[i], r)
	}
	return resp, nil
}

// checkRecords checks the envelope: the source, the batch size, and each
// record's names. The asset itself is the store's to check, record by
// record.
func checkRecords(req *sparcv1.UpsertSourcedAssetsRequest) ([]assets.SourcedAsset, error) {
	var v apierr.InvalidArgument
	aip.Text(&v, "source", req.GetSource(), true, maxSourceLen)
	if n := len(req.GetRecords()); n > MaxBatch {
		v.Add("records", "has %d entries, more than the maximum of %d per call", n, MaxBatch)
	}
	recs := make([]assets.SourcedAsset, len(req.GetRecords()))
	seen := map[uuid.UUID]int{}
	for i, r := range req.GetRecords() {
		p := "records[" + strconv.Itoa(i) + "]"
		id := aip.ParseName(&v, p+".asset_name", aip.Assets, r.GetAssetName())
		if j, dup := seen[id]; dup {
			v.Add(p+".asset_name", "%s is also records[%d]; each asset once per call", r.GetAssetName(), j)
		} else if id != uuid.Nil {
			seen[id] = i
		}
		aip.Text(&v, p+".source_id", r.GetSourceId(), true, maxSourceLen)
		recs[i] = assets.SourcedAsset{ID: id, Source: req.GetSource(), SourceID: r.GetSourceId(),
			Asset: r.GetAsset(), SetOwner: req.GetSetOwner()}
	}
	return recs, v.Err()
}

// upsertOwn writes the records the caller may write and rejects the
// others. An import writes assets of the importing admin's organisation
// only: a record without an owner gets the caller's, a record owned by
// another organisation is refused as if that organisation did not exist
// (row-level security would refuse it too, as the second wall).
func (s *ImportService) upsertOwn(ctx context.Context, recs []assets.SourcedAsset) ([]assets.UpsertResult, error) {
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
	return results, nil
}

// resultOf reports what happened to one record, with the violations of a
// rejected one.
func resultOf(rec assets.SourcedAsset, r assets.UpsertResult) *sparcv1.UpsertResult {
	out := &sparcv1.UpsertResult{SourceId: rec.SourceID, Asset: aip.Name(aip.Assets, rec.ID)}
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
	return out
}
