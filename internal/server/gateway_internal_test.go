package server

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// recordingAuth notes, per call, whether it came through the gateway.
type recordingAuth struct {
	mu  sync.Mutex
	via []bool
}

func (a *recordingAuth) Unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	a.mu.Lock()
	a.via = append(a.via, ViaGateway(ctx))
	a.mu.Unlock()
	return h(ctx, req)
}

func (a *recordingAuth) Stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, ss)
}

func (a *recordingAuth) GuardHTTP(_ string, next http.Handler, _ func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return next
}
func (a *recordingAuth) Flush(context.Context) {}

func (a *recordingAuth) calls() []bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]bool(nil), a.via...)
}

// Calls through the HTTP gateway are told apart from network calls, even
// network calls from loopback: the gateway's connection is in-process.
func TestViaGatewayOnlyForTheGateway(t *testing.T) {
	t.Parallel()
	auth := &recordingAuth{}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := New(ctx, Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second},
		nil, Services{Assets: sparcv1.UnimplementedAssetServiceServer{}, Auth: auth})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})

	resp, err := http.Get("http://" + srv.HTTPAddr() + "/v1/vocabulary")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = sparcv1.NewAssetServiceClient(conn).ListVocabulary(ctx, &sparcv1.ListVocabularyRequest{})

	if got := auth.calls(); len(got) != 2 || !got[0] || got[1] {
		t.Fatalf("ViaGateway for (HTTP call, loopback gRPC call) = %v, want [true false]", got)
	}
}
