package assets

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// ConsistencyHeader is the metadata key of consistency tokens (see
// index.go): set on the response of every call that changes what a
// search answers, read from the request of a search. Over HTTP the
// gateway carries it as Grpc-Metadata-Sparc-Consistency both ways.
const ConsistencyHeader = "sparc-consistency"

// changesSearch lists the calls whose success may change a search's
// answer: asset writes, and the referral calls that take or free places
// (has_places, places_left).
var changesSearch = map[string]bool{
	"/sparc.v1.AssetService/CreateAsset":           true,
	"/sparc.v1.AssetService/UpdateAsset":           true,
	"/sparc.v1.AssetService/DeleteAsset":           true,
	"/sparc.v1.ReferralService/CreateReferral":     true,
	"/sparc.v1.ReferralService/TransitionReferral": true,
}

// ConsistencyInterceptor hands consistency tokens out and takes them in:
// a search's token goes into its context (Store.Search waits for the
// index to reach it); a write's response carries the token of the feed
// position after it, and returns once this server's index reflects it
// (bounded by IndexConfig.Wait), so that the writer's next search sees
// its write here without the token, and on any replica with it.
func ConsistencyInterceptor(s *Store) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if strings.HasSuffix(info.FullMethod, "/SearchAssets") {
			if md, ok := metadata.FromIncomingContext(ctx); ok {
				if v := md.Get(ConsistencyHeader); len(v) > 0 {
					ctx = WithConsistency(ctx, v[0])
				}
			}
		}
		resp, err := h(ctx, req)
		if err != nil || !changesSearch[info.FullMethod] {
			return resp, err
		}
		// The write has committed: a failure to read the token costs the
		// caller its freshness guarantee, not its answer.
		if tok, terr := s.ConsistencyToken(ctx); terr == nil {
			_ = grpc.SetHeader(ctx, metadata.Pairs(ConsistencyHeader, tok))
		}
		return resp, nil
	}
}
