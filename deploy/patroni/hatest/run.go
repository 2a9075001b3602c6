package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// Birmingham city centre: the demo directory's assets are around it.
const lat, lng = 52.4862, -1.8904

// fixture is what the load needs: people to refer, assets that take
// their referrals, the referring organisation.
type fixture struct {
	people, assets []string
	probe          string // a referral made while setting up
}

func setUp(ctx context.Context, conns []*grpc.ClientConn) (*fixture, error) {
	f := &fixture{}
	res, err := sparcv1.NewAssetServiceClient(conns[0]).SearchAssets(ctx, &sparcv1.SearchAssetsRequest{
		Latitude: proto.Float64(lat), Longitude: proto.Float64(lng), RadiusMeters: proto.Float64(10000),
		AcceptingReferrals: proto.Bool(true), PageSize: 40})
	if err != nil {
		return nil, fmt.Errorf("finding demo assets: %w", err)
	}
	people := sparcv1.NewPersonServiceClient(conns[0])
	for i := range 40 {
		p, err := people.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{
			DisplayName: fmt.Sprintf("HA load %d", i), AgeBand: "65-74", Needs: []string{"social_connection"}, Consent: &sparcv1.Consent{}}})
		if err != nil {
			return nil, fmt.Errorf("creating a person: %w", err)
		}
		f.people = append(f.people, p.GetName())
	}
	// Keep the assets that take this person (eligibility rules vary).
	refs := sparcv1.NewReferralServiceClient(conns[0])
	for _, r := range res.GetResults() {
		ref, err := refs.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: "setup-" + r.GetAsset().GetName(),
			Person: f.people[0], Asset: r.GetAsset().GetName(), Reasons: []string{"social_connection"}})
		if err == nil {
			f.assets = append(f.assets, r.GetAsset().GetName())
			f.probe = ref.GetName()
		}
		if len(f.assets) == 8 {
			break
		}
	}
	if len(f.assets) == 0 {
		return nil, fmt.Errorf("no demo asset near (%v, %v) accepts a referral of a 65-74 year old", lat, lng)
	}
	return f, nil
}

// harness is what the load runs against and what watches its effects.
type harness struct {
	conns   []*grpc.ClientConn
	fixture *fixture
	hooks   *hookSink
	streams []*stream
}

// run sets up, loads, kills the primary, loads on, and collects the figures.
func run(ctx context.Context, cfg config) (*report, error) {
	conns, err := dial(cfg)
	if err != nil {
		return nil, err
	}
	h := &harness{conns: conns}
	// The webhook first: it receives the changes made after its creation,
	// the setup's referrals included, as the watch streams (from the
	// oldest change) do.
	if h.hooks, err = startHookSink(); err != nil {
		return nil, err
	}
	defer h.hooks.srv.Close()
	if _, err := sparcv1.NewWebhookServiceClient(conns[0]).CreateWebhook(ctx, &sparcv1.CreateWebhookRequest{
		Webhook: &sparcv1.Webhook{Url: h.hooks.url}}); err != nil {
		return nil, fmt.Errorf("creating the webhook: %w", err)
	}
	if h.fixture, err = setUp(ctx, conns); err != nil {
		return nil, err
	}
	sctx, stopStreams := context.WithCancel(ctx)
	defer stopStreams()
	for _, c := range conns {
		h.streams = append(h.streams, watchStream(sctx, c))
	}
	r, err := failover(ctx, sctx, cfg, h)
	if err != nil {
		return nil, err
	}
	fence, err := h.fence(ctx, "fence-"+r.killAt.Format(time.RFC3339Nano))
	if err != nil {
		return nil, err
	}
	r.caughtUp = until(2*time.Minute, func() bool {
		for _, s := range h.streams {
			if !has(s.changes(), fence) {
				return false
			}
		}
		return has(h.hooks.changes(), fence)
	})
	stopStreams()
	if err := r.check(ctx, cfg, h.fixture, h.streams, h.hooks); err != nil {
		return nil, err
	}
	r.logs = summariseLogs(cfg.logs, r.killAt)
	return r, nil
}

// failover runs the load for cfg.before, kills the primary, waits for
// Patroni to promote another node, runs the load for cfg.after, stops it
// and waits for the cluster to heal. probeCtx bounds the readiness probes.
func failover(ctx, probeCtx context.Context, cfg config, h *harness) (*report, error) {
	r := &report{replicas: len(h.conns), killed: "kill -9 of its postmaster"}
	if cfg.killNode {
		r.killed = "kill -9 of its Patroni and postmaster"
	}
	l := &load{conns: h.conns, people: h.fixture.people, assets: h.fixture.assets, searchLat: lat, searchLng: lng}
	loadStart := time.Now()
	r.killAt = loadStart.Add(cfg.before) // provisional, for the probe's times until the kill
	r.probe = &probe{}
	r.probe.run(probeCtx, cfg.httpAddrs, func() time.Time { return r.killAt })
	l.start(ctx, cfg.writers, cfg.searchers)
	defer l.finish()
	time.Sleep(cfg.before)

	ms, err := members(ctx, cfg.patroni)
	if err != nil {
		return nil, err
	}
	r.oldLeader, r.before = leader(ms), describe(ms)
	dir, ok := cfg.nodes[r.oldLeader]
	if !ok {
		return nil, fmt.Errorf("no data directory for the leader %q (cluster:%s)", r.oldLeader, r.before)
	}
	r.killAt = time.Now()
	if err := killPostmaster(ctx, cfg.asPostgres, dir, cfg.killNode); err != nil {
		return nil, err
	}
	fmt.Printf("killed %s (the primary): %s at %s\n", r.oldLeader, r.killed, r.killAt.Format(time.TimeOnly))
	newLeader, msAfter, err := waitLeader(ctx, cfg.patroni, r.oldLeader, 2*time.Minute)
	if err != nil {
		return nil, err
	}
	r.newLeader, r.elected = newLeader, time.Since(r.killAt)
	fmt.Printf("Patroni promoted %s after %.1fs:%s\n", newLeader, r.elected.Seconds(), describe(msAfter))
	time.Sleep(cfg.after)
	l.finish()
	loadEnd := time.Now()

	nodes := len(cfg.nodes)
	if cfg.killNode {
		nodes-- // the lost machine does not come back
	}
	r.healed, msAfter, r.healedOK = waitHealed(ctx, cfg.patroni, nodes, 3*time.Minute)
	r.healed += loadEnd.Sub(r.killAt)
	r.after = describe(msAfter)
	r.writeGap, r.writeGapStart = l.writes.longestGap(loadStart, loadEnd)
	r.searchGap, r.searchGapStart = l.searches.longestGap(loadStart, loadEnd)
	r.writes, r.writeTally, r.searchTally = l.writesSnapshot(), &l.writes, &l.searches
	return r, nil
}

// fence creates one more referral after the failover, retrying with its
// request id; once every channel has it, each has caught up (they deliver
// in outbox order).
func (h *harness) fence(ctx context.Context, requestID string) (string, error) {
	for attempt := 0; attempt < 120; attempt++ {
		ref, err := sparcv1.NewReferralServiceClient(h.conns[attempt%len(h.conns)]).CreateReferral(ctx, &sparcv1.CreateReferralRequest{
			RequestId: requestID, Person: h.fixture.people[1], Asset: h.fixture.assets[0], Reasons: []string{"social_connection"}})
		if err == nil {
			return ref.GetName(), nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return "", fmt.Errorf("the fence referral could not be created after the failover")
}

func has(cs []*sparcv1.ReferralChange, referral string) bool {
	for i := len(cs) - 1; i >= 0; i-- {
		if cs[i].GetReferral() == referral {
			return true
		}
	}
	return false
}

func until(bound time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cond()
}

// refID is a referral's uuid, from its name.
func refID(name string) string { return strings.TrimPrefix(name, "referrals/") }
