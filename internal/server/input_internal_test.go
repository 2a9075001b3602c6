package server

import (
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Any error the server sends is bounded, whatever made it: a status of
// megabytes (here not from apierr, which bounds its own) is cut to its
// code and the start of its message.
func TestBoundStatusCutsHugeErrors(t *testing.T) {
	st, err := status.New(codes.FailedPrecondition, strings.Repeat("é", 1<<20)+"\xff").WithDetails(
		&errdetails.DebugInfo{Detail: strings.Repeat("x", 1<<20)})
	if err != nil {
		t.Fatal(err)
	}
	got := boundStatus(st)
	b, err := proto.Marshal(got.Proto())
	if err != nil || len(b) > maxStatusBytes || got.Code() != codes.FailedPrecondition {
		t.Fatalf("bounded status: %v, %d bytes, code %v; want at most %d bytes and the same code", err, len(b), got.Code(), maxStatusBytes)
	}
	small := status.New(codes.NotFound, "asset x: not found")
	if boundStatus(small) != small {
		t.Fatal("a small status must pass unchanged")
	}
}
