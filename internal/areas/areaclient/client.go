package areaclient

import (
	"context"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// batchBytes bounds one streamed message well below the server's 4 MiB
// request limit; batchItems keeps batches of tiny features reasonable
// (twice as many attribute rows, which are smaller still).
const (
	batchBytes = 1 << 20
	batchItems = 500
)

// ImportGeoJSON streams a GeoJSON FeatureCollection to the server as areas
// of kind. A file that cannot be read (broken JSON) cancels the stream, so
// the server writes nothing.
func ImportGeoJSON(ctx context.Context, c sparcv1.AreaServiceClient, r io.Reader, source, kind string, fields GeoJSONFields) (*sparcv1.ImportAreasResponse, error) {
	return upload(ctx, c.ImportAreas, source, batchItems,
		&sparcv1.ImportAreasRequest{Part: &sparcv1.ImportAreasRequest_Header{
			Header: &sparcv1.ImportAreasHeader{Kind: kind, SourceName: source}}},
		func(batch []*sparcv1.AreaFeature) *sparcv1.ImportAreasRequest {
			return &sparcv1.ImportAreasRequest{Part: &sparcv1.ImportAreasRequest_Batch{
				Batch: &sparcv1.AreaFeatureBatch{Features: batch}}}
		},
		func(emit func(*sparcv1.AreaFeature) error) error { return ReadGeoJSON(r, fields, emit) })
}

// ImportCSV streams the rows of a CSV attributes file to the server.
func ImportCSV(ctx context.Context, c sparcv1.AreaServiceClient, r io.Reader, source string, cols CSVColumns, skipUnknown bool) (*sparcv1.ImportAreaAttributesResponse, error) {
	return upload(ctx, c.ImportAreaAttributes, source, 2*batchItems,
		&sparcv1.ImportAreaAttributesRequest{Part: &sparcv1.ImportAreaAttributesRequest_Header{
			Header: &sparcv1.ImportAttributesHeader{SourceName: source, SkipUnknownCodes: skipUnknown}}},
		func(batch []*sparcv1.AttributeRow) *sparcv1.ImportAreaAttributesRequest {
			return &sparcv1.ImportAreaAttributesRequest{Part: &sparcv1.ImportAreaAttributesRequest_Batch{
				Batch: &sparcv1.AttributeRowBatch{Rows: batch}}}
		},
		func(emit func(*sparcv1.AttributeRow) error) error { return ReadAttributesCSV(r, cols, emit) })
}

// upload streams an import: the header, then the items read emits, in
// batches of at most maxItems and about batchBytes, and returns the
// server's answer. An item that cannot be read cancels the stream, so the
// server rolls back and writes nothing.
func upload[Req, Resp any, Item proto.Message](ctx context.Context,
	open func(context.Context, ...grpc.CallOption) (grpc.ClientStreamingClient[Req, Resp], error),
	source string, maxItems int, header *Req, batchOf func([]Item) *Req, read func(emit func(Item) error) error) (*Resp, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := open(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(header); err != nil {
		return nil, recvErr(stream.CloseAndRecv, err)
	}
	var batch []Item
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := stream.Send(batchOf(batch))
		batch, size = nil, 0
		return err
	}
	err = read(func(item Item) error {
		batch = append(batch, item)
		size += proto.Size(item)
		if size >= batchBytes || len(batch) >= maxItems {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		if err == io.EOF { // the server ended the stream early: its answer says why
			_, rerr := stream.CloseAndRecv()
			return nil, rerr
		}
		cancel() // abandon the stream: the server rolls back
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return stream.CloseAndRecv()
}

// recvErr returns the server's status when Send failed with io.EOF (the
// server already answered), else the send error.
func recvErr[T any](closeAndRecv func() (T, error), sendErr error) error {
	if sendErr == io.EOF {
		_, err := closeAndRecv()
		return err
	}
	return sendErr
}
