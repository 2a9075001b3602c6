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

// run sets up, loads, kills the primary, loads on, and collects the figures.
func run(ctx context.Context, cfg config) (*report, error) {
	conns, err := dial(cfg)
	if err != nil {
		return nil, err
	}
	// The webhook first: it receives the changes made after its creation,
	// the setup's referrals included, as the watch streams (from the
	// oldest change) do.
	hooks, err := startHookSink()
	if err != nil {
		return nil, err
	}
	defer hooks.srv.Close()
	if _, err := sparcv1.NewWebhookServiceClient(conns[0]).CreateWebhook(ctx, &sparcv1.CreateWebhookRequest{
		Webhook: &sparcv1.Webhook{Url: hooks.url}}); err != nil {
		return nil, fmt.Errorf("creating the webhook: %w", err)
	}
	f, err := setUp(ctx, conns)
	if err != nil {
		return nil, err
	}
	sctx, stopStreams := context.WithCancel(ctx)
	defer stopStreams()
	streams := make([]*stream, len(conns))
	for i, c := range conns {
		streams[i] = watchStream(sctx, c)
	}

	r := &report{replicas: len(conns)}
	var killAt time.Time
	t0 := func() time.Time { return killAt }
	l := &load{conns: conns, people: f.people, assets: f.assets, searchLat: lat, searchLng: lng}
	loadStart := time.Now()
	killAt = loadStart.Add(cfg.before) // provisional, for the probe's times
	pr := &probe{}
	pr.run(sctx, cfg.httpAddrs, t0)
	l.start(ctx, cfg.writers, cfg.searchers)
	time.Sleep(cfg.before)

	ms, err := members(ctx, cfg.patroni)
	if err != nil {
		l.finish()
		return nil, err
	}
	r.oldLeader = leader(ms)
	r.before = describe(ms)
	dir, ok := cfg.nodes[r.oldLeader]
	if !ok {
		l.finish()
		return nil, fmt.Errorf("no data directory for the leader %q (cluster:%s)", r.oldLeader, r.before)
	}
	killAt = time.Now()
	if err := killPostmaster(ctx, cfg.asPostgres, dir, cfg.killNode); err != nil {
		l.finish()
		return nil, err
	}
	r.killed = "kill -9 of its postmaster"
	if cfg.killNode {
		r.killed = "kill -9 of its Patroni and postmaster"
	}
	fmt.Printf("killed %s (the primary): %s at %s\n", r.oldLeader, r.killed, killAt.Format(time.TimeOnly))
	newLeader, msAfter, err := waitLeader(ctx, cfg.patroni, r.oldLeader, 2*time.Minute)
	if err != nil {
		l.finish()
		return nil, err
	}
	r.newLeader, r.elected = newLeader, time.Since(killAt)
	fmt.Printf("Patroni promoted %s after %.1fs:%s\n", newLeader, r.elected.Seconds(), describe(msAfter))
	time.Sleep(cfg.after)
	l.finish()
	loadEnd := time.Now()
	nodes := len(cfg.nodes)
	if cfg.killNode {
		nodes-- // the lost machine does not come back
	}
	r.healed, msAfter, r.healedOK = waitHealed(ctx, cfg.patroni, nodes, 3*time.Minute)
	r.healed += loadEnd.Sub(killAt)
	r.after = describe(msAfter)

	r.writeGap, r.writeGapStart = l.writes.longestGap(loadStart, loadEnd)
	r.searchGap, r.searchGapStart = l.searches.longestGap(loadStart, loadEnd)
	r.killAt, r.writes, r.writeTally, r.searchTally, r.probe = killAt, l.writesSnapshot(), &l.writes, &l.searches, pr

	// A fence: one more referral, after which every channel has caught up.
	fw := &write{requestID: "fence-" + killAt.Format(time.RFC3339Nano), person: f.people[1], asset: f.assets[0]}
	for attempt := 0; fw.name == "" && attempt < 120; attempt++ {
		ref, err := sparcv1.NewReferralServiceClient(conns[attempt%len(conns)]).CreateReferral(ctx, &sparcv1.CreateReferralRequest{
			RequestId: fw.requestID, Person: fw.person, Asset: fw.asset, Reasons: []string{"social_connection"}})
		if err != nil {
			time.Sleep(500 * time.Millisecond)
			continue
		}
		fw.name = ref.GetName()
	}
	if fw.name == "" {
		return nil, fmt.Errorf("the fence referral could not be created after the failover")
	}
	has := func(cs []*sparcv1.ReferralChange) bool {
		for i := len(cs) - 1; i >= 0; i-- {
			if cs[i].GetReferral() == fw.name {
				return true
			}
		}
		return false
	}
	r.caughtUp = until(2*time.Minute, func() bool {
		for _, s := range streams {
			if !has(s.changes()) {
				return false
			}
		}
		return has(hooks.changes())
	})
	stopStreams()
	if err := r.check(ctx, cfg, f, streams, hooks); err != nil {
		return nil, err
	}
	r.logs = summariseLogs(cfg.logs, killAt)
	return r, nil
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
