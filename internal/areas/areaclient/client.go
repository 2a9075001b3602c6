package areaclient

import (
	"context"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// batchBytes bounds one streamed message well below the server's 4 MiB
// request limit; batchItems keeps batches of tiny features reasonable.
const (
	batchBytes = 1 << 20
	batchItems = 500
)

// ImportGeoJSON streams a GeoJSON FeatureCollection to the server as areas
// of kind. A file that cannot be read (broken JSON) cancels the stream, so
// the server writes nothing.
func ImportGeoJSON(ctx context.Context, c sparcv1.AreaServiceClient, r io.Reader, source, kind string, fields GeoJSONFields) (*sparcv1.ImportAreasResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.ImportAreas(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&sparcv1.ImportAreasRequest{Part: &sparcv1.ImportAreasRequest_Header{
		Header: &sparcv1.ImportAreasHeader{Kind: kind, SourceName: source}}}); err != nil {
		return nil, recvErr(stream.CloseAndRecv, err)
	}
	var batch []*sparcv1.AreaFeature
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := stream.Send(&sparcv1.ImportAreasRequest{Part: &sparcv1.ImportAreasRequest_Batch{
			Batch: &sparcv1.AreaFeatureBatch{Features: batch}}})
		batch, size = nil, 0
		return err
	}
	err = ReadGeoJSON(r, fields, func(f *sparcv1.AreaFeature) error {
		batch = append(batch, f)
		size += proto.Size(f)
		if size >= batchBytes || len(batch) >= batchItems {
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

// ImportCSV streams the rows of a CSV attributes file to the server.
func ImportCSV(ctx context.Context, c sparcv1.AreaServiceClient, r io.Reader, source string, cols CSVColumns, skipUnknown bool) (*sparcv1.ImportAreaAttributesResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.ImportAreaAttributes(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&sparcv1.ImportAreaAttributesRequest{Part: &sparcv1.ImportAreaAttributesRequest_Header{
		Header: &sparcv1.ImportAttributesHeader{SourceName: source, SkipUnknownCodes: skipUnknown}}}); err != nil {
		return nil, recvErr(stream.CloseAndRecv, err)
	}
	var batch []*sparcv1.AttributeRow
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := stream.Send(&sparcv1.ImportAreaAttributesRequest{Part: &sparcv1.ImportAreaAttributesRequest_Batch{
			Batch: &sparcv1.AttributeRowBatch{Rows: batch}}})
		batch = nil
		return err
	}
	err = ReadAttributesCSV(r, cols, func(row *sparcv1.AttributeRow) error {
		batch = append(batch, row)
		if len(batch) >= 2*batchItems {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		if err == io.EOF {
			_, rerr := stream.CloseAndRecv()
			return nil, rerr
		}
		cancel()
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
