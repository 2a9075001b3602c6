package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// write is one CreateReferral, keyed by its request id, however many
// attempts it took.
type write struct {
	requestID, person, asset string
	name                     string // the referral acknowledged, once OK
	attempts                 int
	started, acked           time.Time
}

// tally counts what clients saw: successes by time, failures by code and
// message.
type tally struct {
	mu     sync.Mutex
	ok     []time.Time
	failed int
	errs   map[string]int
	first  map[string]time.Time // first time each error was seen
}

func newTally() *tally { return &tally{errs: map[string]int{}, first: map[string]time.Time{}} }

func (t *tally) record(err error) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil {
		t.ok = append(t.ok, now)
		return
	}
	t.failed++
	s := status.Convert(err)
	msg := s.Message()
	if len(msg) > 90 {
		msg = msg[:90] + "…"
	}
	k := s.Code().String() + ": " + msg
	if t.errs[k] == 0 {
		t.first[k] = now
	}
	t.errs[k]++
}

// longestGap is the longest time between successive successes (and from
// from to the first, and the last to to): the time without service.
func (t *tally) longestGap(from, to time.Time) (gap time.Duration, start time.Time) {
	t.mu.Lock()
	ts := append([]time.Time{from}, t.ok...)
	t.mu.Unlock()
	ts = append(ts, to)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	for i := 1; i < len(ts); i++ {
		if d := ts[i].Sub(ts[i-1]); d > gap {
			gap, start = d, ts[i-1]
		}
	}
	return gap, start
}

// load runs the writers and searchers until stop is closed; each writer
// then finishes its current create (retrying it with the same request id
// until it succeeds or ctx ends).
type load struct {
	conns                []*grpc.ClientConn
	people, assets       []string
	writes               tally
	searches             tally
	mu                   sync.Mutex
	all                  []*write
	wg                   sync.WaitGroup
	stop                 chan struct{}
	once                 sync.Once
	searchLat, searchLng float64
}

func (l *load) start(ctx context.Context, writers, searchers int) {
	l.stop = make(chan struct{})
	l.writes, l.searches = *newTally(), *newTally()
	for i := range writers {
		l.wg.Add(1)
		go func() { defer l.wg.Done(); l.writer(ctx, i) }()
	}
	for i := range searchers {
		l.wg.Add(1)
		go func() { defer l.wg.Done(); l.searcher(ctx, i) }()
	}
}

// finish stops the load and waits for it; it may be called again.
func (l *load) finish() {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
}

func (l *load) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *load) writer(ctx context.Context, id int) {
	for n := 0; !l.stopped() && ctx.Err() == nil; n++ {
		w := &write{requestID: uuid.NewString(), person: l.people[(id*7919+n)%len(l.people)], asset: l.assets[n%len(l.assets)], started: time.Now()}
		l.mu.Lock()
		l.all = append(l.all, w)
		l.mu.Unlock()
		for ctx.Err() == nil {
			// Each attempt goes to the next replica, as a client of a load
			// balancer would; the request id makes the retry safe.
			conn := l.conns[(id+n+w.attempts)%len(l.conns)]
			w.attempts++
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			r, err := sparcv1.NewReferralServiceClient(conn).CreateReferral(cctx, &sparcv1.CreateReferralRequest{
				RequestId: w.requestID, Person: w.person, Asset: w.asset, Reasons: []string{"social_connection"}})
			cancel()
			l.writes.record(err)
			if err == nil {
				l.mu.Lock()
				w.name, w.acked = r.GetName(), time.Now()
				l.mu.Unlock()
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (l *load) searcher(ctx context.Context, id int) {
	for n := 0; !l.stopped() && ctx.Err() == nil; n++ {
		conn := l.conns[(id+n)%len(l.conns)]
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := sparcv1.NewAssetServiceClient(conn).SearchAssets(cctx, &sparcv1.SearchAssetsRequest{
			Latitude: proto.Float64(l.searchLat + float64(n%20)*0.002), Longitude: proto.Float64(l.searchLng),
			RadiusMeters: proto.Float64(3000), PageSize: 10})
		cancel()
		l.searches.record(err)
		time.Sleep(50 * time.Millisecond)
	}
}

// writesSnapshot returns the writes made, safe to read once the load stopped.
func (l *load) writesSnapshot() []*write {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*write(nil), l.all...)
}

// probe polls each replica's /readyz and records the time it said not
// ready (or did not answer).
type probe struct {
	mu       sync.Mutex
	notReady []time.Duration
	spans    []string
}

func (p *probe) run(ctx context.Context, https []string, t0 func() time.Time) {
	p.notReady = make([]time.Duration, len(https))
	client := &http.Client{Timeout: 3 * time.Second}
	for i, h := range https {
		go func() {
			var down time.Time
			for ctx.Err() == nil {
				began := time.Now()
				resp, err := client.Get("http://" + h + "/readyz")
				ok := err == nil && resp.StatusCode == http.StatusOK
				if resp != nil {
					resp.Body.Close()
				}
				p.mu.Lock()
				switch {
				case !ok && down.IsZero():
					down = began
				case ok && !down.IsZero():
					p.notReady[i] += time.Since(down)
					p.spans = append(p.spans, fmt.Sprintf("replica %d not ready %+.1fs to %+.1fs", i+1,
						down.Sub(t0()).Seconds(), time.Since(t0()).Seconds()))
					down = time.Time{}
				}
				p.mu.Unlock()
				time.Sleep(250 * time.Millisecond)
			}
		}()
	}
}

func (p *probe) summary() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var parts []string
	for i, d := range p.notReady {
		parts = append(parts, fmt.Sprintf("replica %d: %.1fs", i+1, d.Seconds()))
	}
	return strings.Join(parts, ", ")
}
