package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// change is what a change is compared by: the outbox row it came from.
type change struct{ referral, kind, to string }

func of(c *sparcv1.ReferralChange) change {
	return change{c.GetReferral(), c.GetType(), c.GetToStatus().String()}
}

// stream is a WatchReferrals stream on one replica that, when it breaks,
// resumes from the last cursor it received, as a client should.
type stream struct {
	mu      sync.Mutex
	got     []*sparcv1.ReferralChange
	resumes int
	errs    map[string]int
}

func watchStream(ctx context.Context, conn *grpc.ClientConn) *stream {
	s := &stream{errs: map[string]int{}}
	go func() {
		cursor := ""
		for first := true; ctx.Err() == nil; first = false {
			if !first {
				s.mu.Lock()
				s.resumes++
				s.mu.Unlock()
				time.Sleep(200 * time.Millisecond)
			}
			w, err := sparcv1.NewReferralServiceClient(conn).WatchReferrals(ctx, &sparcv1.WatchReferralsRequest{Cursor: cursor})
			for err == nil {
				var c *sparcv1.ReferralChange
				if c, err = w.Recv(); err == nil {
					cursor = c.GetCursor()
					s.mu.Lock()
					s.got = append(s.got, c)
					s.mu.Unlock()
				}
			}
			if ctx.Err() == nil {
				st := status.Convert(err)
				s.mu.Lock()
				s.errs[st.Code().String()+": "+st.Message()]++
				s.mu.Unlock()
			}
		}
	}()
	return s
}

func (s *stream) changes() []*sparcv1.ReferralChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*sparcv1.ReferralChange(nil), s.got...)
}

// hookSink receives webhook deliveries and counts them by delivery id
// (SPARC-Delivery-Id, the change's cursor).
type hookSink struct {
	mu    sync.Mutex
	order []*sparcv1.ReferralChange // first delivery of each change
	count map[string]int
	seq   []string // every delivery's id, repeats included
	srv   *http.Server
	url   string
}

func startHookSink() (*hookSink, error) {
	h := &hookSink{count: map[string]int{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h.url = "http://" + l.Addr().String() + "/hook"
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = h.srv.Serve(l) }()
	return h, nil
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	c := &sparcv1.ReferralChange{}
	if err == nil {
		err = protojson.Unmarshal(body, c)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := r.Header.Get("SPARC-Delivery-Id")
	h.mu.Lock()
	if h.count[id] == 0 {
		h.order = append(h.order, c)
	}
	h.count[id]++
	h.seq = append(h.seq, id)
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookSink) changes() []*sparcv1.ReferralChange {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*sparcv1.ReferralChange(nil), h.order...)
}

// repeats counts deliveries of a change already delivered, and of those
// the ones at-least-once delivery allows: the change acknowledged just
// before, sent again because its acknowledgement was not stored.
func (h *hookSink) repeats() (all, documented int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[string]bool{}
	for i, id := range h.seq {
		if seen[id] {
			all++
			if i > 0 && h.seq[i-1] == id {
				documented++
			}
		}
		seen[id] = true
	}
	return all, documented
}

// compare checks got against the outbox's changes want: how many of want
// are missing, received more than once (by cursor), or out of order.
func compare(got []*sparcv1.ReferralChange, want []change) (missing, doubled, disordered int) {
	seen := map[string]bool{}
	var uniq []change
	for _, c := range got {
		if seen[c.GetCursor()] {
			doubled++
			continue
		}
		seen[c.GetCursor()] = true
		uniq = append(uniq, of(c))
	}
	pos := map[change]int{}
	for i, c := range uniq {
		pos[c] = i
	}
	last := -1
	for _, w := range want {
		p, ok := pos[w]
		if !ok {
			missing++
			continue
		}
		if p < last {
			disordered++
		}
		last = p
	}
	return missing, doubled, disordered
}
