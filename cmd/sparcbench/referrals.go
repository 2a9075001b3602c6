package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/referrals"
)

// referralConc is the client concurrency issue 5 states its targets for.
const referralConc = 32

// referralBench measures referrals through the shared server (the
// application role, row-level security on, the rate limit out of the
// way) against the raw statements on a pool of its own.
type referralBench struct {
	pool    *pgxpool.Pool // application role, for the raw path
	conn    *grpc.ClientConn
	conns   []*grpc.ClientConn
	lw      sparcv1.ReferralServiceClient // link worker of lwOrg
	group   sparcv1.ReferralServiceClient // group editor of groupOrg
	lwOrg   string
	keyName string // principal of the link worker's key, for the raw path
	lwKey   string // the link worker's key, for other servers (telemetry)
	people  []string
	asset   string
	stop    func()
}

func newReferralBench(ctx context.Context, b *bench) (_ *referralBench, err error) {
	rb := &referralBench{}
	if rb.pool, err = db.OpenApp(ctx, b.url, int32(b.cfg.maxConns)); err != nil {
		return nil, err
	}
	rb.stop = func() {
		for _, c := range rb.conns {
			c.Close()
		}
		rb.pool.Close()
	}
	defer func() {
		if err != nil {
			rb.stop()
		}
	}()

	// Organisations and keys straight in the database, as bootstrap does.
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	var groupOrg string
	for _, o := range []struct {
		id   *string
		kind string
	}{{&rb.lwOrg, "link_worker_service"}, {&groupOrg, "community_group"}} {
		if err := b.raw.QueryRow(ctx, `INSERT INTO organisations (id, kind, name) VALUES (gen_random_uuid(), $1, $2) RETURNING id::text`,
			o.kind, "sparcbench "+o.kind+" "+stamp).Scan(o.id); err != nil {
			return nil, fmt.Errorf("creating organisation: %w", err)
		}
	}
	keys := auth.NewKeyStore(b.raw)
	key := func(org, role string) (string, error) {
		_, k, err := keys.Create(ctx, uuid.MustParse(org), role, "sparcbench")
		return k, err
	}
	lwKey, err := key(rb.lwOrg, auth.RoleLinkWorker)
	if err != nil {
		return nil, err
	}
	groupKey, err := key(groupOrg, auth.RoleGroupEditor)
	if err != nil {
		return nil, err
	}
	rb.keyName, rb.lwKey = "key:"+lwKey[:14], lwKey
	var groupConn *grpc.ClientConn
	if rb.conn, err = dial(b.srv.GRPCAddr(), lwKey); err != nil {
		return nil, err
	}
	if groupConn, err = dial(b.srv.GRPCAddr(), groupKey); err != nil {
		return nil, err
	}
	rb.conns = append(rb.conns, rb.conn, groupConn)
	rb.lw, rb.group = sparcv1.NewReferralServiceClient(rb.conn), sparcv1.NewReferralServiceClient(groupConn)
	asset, err := sparcv1.NewAssetServiceClient(groupConn).CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "sparcbench walking group", AcceptingReferrals: true,
		// An age range, so that every create runs the age check (the
		// people are 65-74: eligible).
		AgeRange:          &sparcv1.AgeRange{MinAge: proto.Int32(18)},
		OwnerOrganisation: "organisations/" + groupOrg, Location: &sparcv1.Location{Latitude: 52.48, Longitude: -1.86, Country: "GB"}}})
	if err != nil {
		return nil, fmt.Errorf("creating the referral asset: %w", err)
	}
	// A service refers many people: one person for every call at once
	// would queue the calls on that person's row lock.
	people := sparcv1.NewPersonServiceClient(rb.conn)
	for i := range benchPeople {
		person, err := people.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{
			DisplayName: "P. " + strconv.Itoa(i), AgeBand: "65-74", Postcode: "B8 1AA", Contact: &sparcv1.PersonContact{Phone: "0121 496 0000"},
			Consent: &sparcv1.Consent{ShareWithProvider: true, Scopes: []sparcv1.ConsentScope{
				sparcv1.ConsentScope_CONSENT_SCOPE_BASIC, sparcv1.ConsentScope_CONSENT_SCOPE_CONTACT}}}})
		if err != nil {
			return nil, fmt.Errorf("creating a person: %w", err)
		}
		rb.people = append(rb.people, strings.TrimPrefix(person.GetName(), "people/"))
	}
	rb.asset = asset.GetName()
	return rb, nil
}

// benchPeople is how many people the link worker refers, in turn.
const benchPeople = 256

func (rb *referralBench) create(prefix string) func(ctx context.Context, i int) error {
	return func(ctx context.Context, i int) error {
		_, err := rb.lw.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: prefix + strconv.Itoa(i),
			Person: "people/" + rb.people[i%len(rb.people)], Asset: rb.asset, Reasons: []string{"social_connection"}, ProviderNote: "Prefers mornings"})
		return err
	}
}

// rawCreate is the statement CreateReferral runs (its test hook
// referrals.BenchCreateStatement: referral, timeline event, outbox row and
// audit event, written only if the person and asset allow it, the age
// check included) after the caller's identity for row-level
// security, as one pipelined batch (one implicit transaction, one round
// trip): the limit the service is measured against. (The service's
// wake-up NOTIFY is sent after commit, one for many changes.)
func (rb *referralBench) rawCreate(prefix string) func(ctx context.Context, i int) error {
	people := make([][16]byte, len(rb.people))
	for i, p := range rb.people {
		people[i] = uuid.MustParse(p)
	}
	asset := [16]byte(uuid.MustParse(strings.TrimPrefix(rb.asset, "assets/")))
	return func(ctx context.Context, i int) error {
		rid := prefix + strconv.Itoa(i)
		hash := sha256.Sum256([]byte(rid))
		var created bool
		bt := db.IdentityBatch(db.Identity{Org: rb.lwOrg, Role: auth.RoleLinkWorker})
		bt.Queue(referrals.BenchCreateStatement(), [16]byte(uuid.New()), people[i%len(people)], rb.lwOrg, rb.keyName, asset,
			[]string{"social_connection"}, "Prefers mornings", "routine", "requested", rid, hash[:],
			rb.keyName, rb.lwOrg, auth.RoleLinkWorker, "/sparc.v1.ReferralService/CreateReferral", "referrals", rid, "127.0.0.1", true,
			"", // the key's display name: the bench keys have none
			"", // no eligibility override
		).Query(func(rows pgx.Rows) error {
			// The whole row, as the service reads it; its first column
			// is NULL when nothing was written.
			for rows.Next() {
				vals, err := rows.Values()
				if err != nil {
					return err
				}
				created = vals[0] != nil
			}
			return rows.Err()
		})
		if err := rb.pool.SendBatch(ctx, bt).Close(); err != nil {
			return err
		}
		if !created {
			return errors.New("raw create statement wrote nothing")
		}
		return nil
	}
}

func runReferrals(ctx context.Context, b *bench) error {
	rb, err := newReferralBench(ctx, b)
	if err != nil {
		return err
	}
	defer rb.stop()
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	paths := []contender{
		{"raw SQL", rb.rawCreate("raw-" + run + "-")},
		{"gRPC", rb.create("grpc-" + run + "-")},
	}
	b.printf("CreateReferral (new request id each call) at concurrency %d; raw SQL = the same writes (referral, event,\n"+
		"outbox, audit) as one pipelined batch on the application role; %d rounds taking turns\n", referralConc, b.cfg.rounds)
	res, err := b.compare(ctx, "referrals", referralConc, 10_000_000, paths)
	if err != nil {
		return err
	}
	w := b.table()
	fmt.Fprintln(w, "path\tconc\tp50 ms\tp99 ms\tcreates/s\tgRPC/raw\tCPU/req Go ms\tPG ms\treq/CPU-s\tgRPC/raw\tother cores\t")
	for _, p := range paths {
		s := res[p.name]
		ratio, capRatio := "", ""
		if p.name == "gRPC" {
			ratio = fmt.Sprintf("%.2f", s.qps/res["raw SQL"].qps)
			capRatio = fmt.Sprintf("%.2f", s.perCPU()/res["raw SQL"].perCPU())
		}
		fmt.Fprintf(w, "%s\t%d\t%.2f\t%.2f\t%.0f\t%s\t%.3f\t%.3f\t%.0f\t%s\t%.2f\t\n", p.name, referralConc, ms(s.p50), ms(s.p99),
			s.qps, ratio, ms(s.goCPU), ms(s.pgCPU), s.perCPU(), capRatio, s.otherCores)
	}
	w.Flush()
	b.printf("req/CPU-s = creates per second of CPU (this process: servers and load generator, + PostgreSQL): what\n" +
		"the path reaches on cores of its own. other cores = CPU used meanwhile by everything else on the machine.\n")
	b.check(target{what: "CreateReferral gRPC creates/s, conc 32", measured: res["gRPC"].qps, unit: "/s", op: ">=", goal: 2000, atScale: true})
	b.check(target{what: "CreateReferral gRPC/raw SQL, conc 32", measured: 100 * res["gRPC"].qps / res["raw SQL"].qps, unit: "%", op: ">=", goal: 60, atScale: true})

	// Delivery: a group watches its inbox while link workers create
	// referrals; latency runs from the outbox row's write (inside the
	// transaction, so an upper bound on commit → subscriber) to receipt.
	b.printf("\nWatchReferrals delivery, from the change's write to the subscriber (an upper bound of commit → subscriber)\n")
	w = b.table()
	fmt.Fprintln(w, "writers\tchanges\tp50 ms\tp99 ms\tmax ms\t")
	for _, writers := range []int{1, referralConc} {
		lat, err := rb.deliveryLatency(ctx, b, writers, run)
		if err != nil {
			return fmt.Errorf("delivery with %d writers: %w", writers, err)
		}
		fmt.Fprintf(w, "%d\t%d\t%.2f\t%.2f\t%.2f\t\n", writers, len(lat), ms(quantile(lat, 0.5)), ms(quantile(lat, 0.99)), ms(lat[len(lat)-1]))
		b.check(target{what: fmt.Sprintf("watch delivery p99, %d writer(s)", writers), measured: ms(quantile(lat, 0.99)), unit: "ms", op: "<=", goal: 100, atScale: true})
	}
	w.Flush()
	return nil
}

// deliveryLatency creates referrals from writers for the measuring time
// (or -requests) and returns the sorted delivery latencies.
func (rb *referralBench) deliveryLatency(ctx context.Context, b *bench, writers int, run string) ([]time.Duration, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := rb.group.WatchReferrals(wctx, &sparcv1.WatchReferralsRequest{Cursor: "now"})
	if err != nil {
		return nil, err
	}
	var (
		mu   sync.Mutex
		lat  []time.Duration
		recv = make(chan error, 1)
	)
	go func() {
		for {
			ch, err := stream.Recv()
			if err != nil {
				recv <- err
				return
			}
			d := time.Since(ch.GetTime().AsTime())
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}
	}()
	time.Sleep(200 * time.Millisecond) // the stream is open before the first write
	prefix := fmt.Sprintf("watch-%s-%d-", run, writers)
	res, err := measure(ctx, b.cpu, nil, writers, 0, 0, b.cfg.duration, b.cfg.requests, rb.create(prefix))
	if err != nil {
		return nil, err
	}
	// Wait for the last deliveries (bounded).
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(lat)
		mu.Unlock()
		if n >= len(res.lat) {
			break
		}
		select {
		case err := <-recv:
			return nil, fmt.Errorf("watch stream ended: %w", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	mu.Lock()
	defer mu.Unlock()
	if len(lat) != len(res.lat) {
		return nil, fmt.Errorf("%d creates but %d changes delivered", len(res.lat), len(lat))
	}
	out := slices.Clone(lat)
	slices.Sort(out)
	return out, nil
}
