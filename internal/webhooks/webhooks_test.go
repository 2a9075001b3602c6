package webhooks_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/outbox"
	"github.com/sparc-network/sparc/internal/seal"
	"github.com/sparc-network/sparc/internal/testenv"
	"github.com/sparc-network/sparc/internal/webhooks"
)

// fastRetries makes backoff milliseconds instead of seconds, so a test of
// retries takes no longer than the retries themselves.
// Its receivers are httptest servers on 127.0.0.1, so it allows private
// targets, as a development server would.
var fastRetries = webhooks.Config{BackoffBase: 2 * time.Millisecond, BackoffCap: 20 * time.Millisecond,
	Timeout: 5 * time.Second, Poll: 50 * time.Millisecond, AllowPrivate: true}

// hookWorld is a sparcd of its own (its webhook settings are the test's)
// with two link-worker services, two groups each owning an asset, and
// clients acting for each.
type hookWorld struct {
	owner, pool                     *pgxpool.Pool
	dataKey                         []byte
	grpcAddr, httpBase              string
	lwOrg, groupOrg                 string
	otherOrg, otherGroupOrg         string            // another link-worker service and group
	keys                            map[string]string // organisation → its last key made
	lw, group, otherLW              sparcv1.ReferralServiceClient
	lwHooks, groupHooks, otherHooks sparcv1.WebhookServiceClient
	people, otherPeople             sparcv1.PersonServiceClient
	asset, otherAsset               string
	log                             *slog.Logger
}

func newHookWorld(t *testing.T, cfg webhooks.Config) *hookWorld {
	t.Helper()
	w := &hookWorld{owner: testenv.NewPool(t), dataKey: make([]byte, 32), keys: map[string]string{},
		log: testLogger()}
	w.pool = testenv.AppPool(t, w.owner)
	if _, err := rand.Read(w.dataKey); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, w.pool, app.Config{Auth: auth.Config{RatePerSecond: 10000, Burst: 10000},
		DataKey: w.dataKey, Webhooks: cfg, Logger: w.log, Server: app.ServerConfig{ShutdownTimeout: 2 * time.Second}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	testenv.Serve(t, ctx, cancel, a)
	srv := a.Server()
	w.grpcAddr, w.httpBase = srv.GRPCAddr(), "http://"+srv.HTTPAddr()

	w.lwOrg, w.groupOrg = w.org(t, "Ladywood link workers", "link_worker_service"), w.org(t, "Saltley walking group", "community_group")
	w.otherOrg, w.otherGroupOrg = w.org(t, "Another link worker service", "link_worker_service"), w.org(t, "Another group", "community_group")
	lw, group := w.conn(t, w.lwOrg, auth.RoleLinkWorker), w.conn(t, w.groupOrg, auth.RoleGroupEditor)
	other, otherGroup := w.conn(t, w.otherOrg, auth.RoleLinkWorker), w.conn(t, w.otherGroupOrg, auth.RoleGroupEditor)
	w.lw, w.group, w.otherLW = sparcv1.NewReferralServiceClient(lw), sparcv1.NewReferralServiceClient(group), sparcv1.NewReferralServiceClient(other)
	w.lwHooks, w.groupHooks, w.otherHooks = sparcv1.NewWebhookServiceClient(lw), sparcv1.NewWebhookServiceClient(group), sparcv1.NewWebhookServiceClient(other)
	w.people, w.otherPeople = sparcv1.NewPersonServiceClient(lw), sparcv1.NewPersonServiceClient(other)
	w.asset, w.otherAsset = w.newAsset(t, group, w.groupOrg), w.newAsset(t, otherGroup, w.otherGroupOrg)
	return w
}

func (w *hookWorld) org(t *testing.T, name, kind string) string {
	t.Helper()
	var id string
	if err := w.owner.QueryRow(context.Background(), `INSERT INTO organisations (id, kind, name)
		VALUES (gen_random_uuid(), $1, $2) RETURNING id::text`, kind, name).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func (w *hookWorld) conn(t *testing.T, org, role string) *grpc.ClientConn {
	t.Helper()
	_, key, err := auth.NewKeyStore(w.owner).Create(context.Background(), uuid.MustParse(org), role, "webhook test")
	if err != nil {
		t.Fatal(err)
	}
	w.keys[org] = key
	c, err := grpc.NewClient(w.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(bearerKey(key)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (w *hookWorld) newAsset(t *testing.T, c *grpc.ClientConn, owner string) string {
	t.Helper()
	a, err := sparcv1.NewAssetServiceClient(c).CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "Walking group", AcceptingReferrals: true, OwnerOrganisation: "organisations/" + owner,
		Location: &sparcv1.Location{Latitude: 52.48, Longitude: -1.86, Country: "GB"}}})
	if err != nil {
		t.Fatal(err)
	}
	return a.GetName()
}

// refer creates a referral of a new person (with consent to share basics).
func refer(t *testing.T, people sparcv1.PersonServiceClient, c sparcv1.ReferralServiceClient, asset string, draft bool) string {
	t.Helper()
	ctx := context.Background()
	p, err := people.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{DisplayName: "A. K.",
		Consent: &sparcv1.Consent{ShareWithProvider: true, Scopes: []sparcv1.ConsentScope{sparcv1.ConsentScope_CONSENT_SCOPE_BASIC}}}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: uuid.NewString(), Person: p.GetName(), Asset: asset, Draft: draft})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetName()
}

func mustMove(t *testing.T, c sparcv1.ReferralServiceClient, id string, to sparcv1.ReferralStatus, reason string) {
	t.Helper()
	if _, err := c.TransitionReferral(context.Background(), &sparcv1.TransitionReferralRequest{Name: id, ToStatus: to, Reason: reason}); err != nil {
		t.Fatalf("moving %s to %v: %v", id, to, err)
	}
}

// receiver is a webhook endpoint on 127.0.0.1 that checks every delivery
// as a receiver should (signature, headers, body) and answers 500 to the
// first failFirst attempts.
type receiver struct {
	srv       *httptest.Server
	mu        sync.Mutex
	secret    []byte
	failFirst int
	attempts  []attempt
}

type attempt struct {
	webhookID, deliveryID string
	change                *sparcv1.ReferralChange
	status                int
	problems              []string
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	r := &receiver{failFirst: failFirst}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setSecret(s string) {
	r.mu.Lock()
	r.secret = []byte(s)
	r.mu.Unlock()
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	a := attempt{webhookID: req.Header.Get("SPARC-Webhook-Id"), deliveryID: req.Header.Get("SPARC-Delivery-Id")}
	problem := func(format string, args ...any) { a.problems = append(a.problems, fmt.Sprintf(format, args...)) }
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		problem("%s with Content-Type %q", req.Method, req.Header.Get("Content-Type"))
	}
	ts := req.Header.Get("SPARC-Timestamp")
	if sec, err := strconv.ParseInt(ts, 10, 64); err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		problem("timestamp %q is not the current unix time", ts)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Verification as docs/webhooks.md tells receivers to do it.
	mac := hmac.New(sha256.New, r.secret)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := "v1=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(req.Header.Get("SPARC-Signature")), []byte(want)) {
		problem("signature %q does not verify", req.Header.Get("SPARC-Signature"))
	}
	// The body is exactly a ReferralChange: an unknown field (personal
	// data, say) would fail to decode.
	a.change = &sparcv1.ReferralChange{}
	if err := protojson.Unmarshal(body, a.change); err != nil {
		problem("body %s is not a ReferralChange: %v", body, err)
	}
	if a.deliveryID == "" || a.deliveryID != a.change.GetCursor() {
		problem("delivery id %q is not the change's cursor %q", a.deliveryID, a.change.GetCursor())
	}
	a.status = http.StatusNoContent
	if len(r.attempts) < r.failFirst {
		a.status = http.StatusInternalServerError
	}
	r.attempts = append(r.attempts, a)
	w.WriteHeader(a.status)
}

func (r *receiver) snapshot() []attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]attempt(nil), r.attempts...)
}

// acked returns the changes the receiver acknowledged, in arrival order.
func (r *receiver) acked() []*sparcv1.ReferralChange {
	var out []*sparcv1.ReferralChange
	for _, a := range r.snapshot() {
		if a.status < 300 {
			out = append(out, a.change)
		}
	}
	return out
}

// waitFor polls cond until it holds or a generous deadline passes: the
// condition is the assertion, the deadline only bounds a failing test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startOf is a webhook's cursor as stored (the change before the first
// it delivers); read right after creation it is where delivery starts.
type startOf struct {
	txid string
	seq  int64
}

func (w *hookWorld) cursorOf(t *testing.T, hook *sparcv1.Webhook) startOf {
	t.Helper()
	var s startOf
	if err := w.owner.QueryRow(context.Background(), `SELECT cursor_txid::text, cursor_seq FROM webhooks WHERE id = $1`, idOf(hook)).Scan(&s.txid, &s.seq); err != nil {
		t.Fatal(err)
	}
	return s
}

// expected is the oracle: the outbox rows after start that org is party
// to, in outbox order, leaving out the referrals in hidden (drafts the
// provider never sees).
func (w *hookWorld) expected(t *testing.T, org string, start startOf, hidden ...string) []change {
	t.Helper()
	var out []change
	for _, c := range testenv.Outbox(t, w.owner, org, start.txid, start.seq) {
		if !slices.Contains(hidden, c.Referral) {
			out = append(out, c)
		}
	}
	return out
}

func createHook(t *testing.T, c sparcv1.WebhookServiceClient, r *receiver) *sparcv1.Webhook {
	t.Helper()
	resp, err := c.CreateWebhook(context.Background(), &sparcv1.CreateWebhookRequest{Webhook: &sparcv1.Webhook{
		Url: r.srv.URL + "/sparc", Description: "test receiver"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.GetSecret(), "whsec_") || len(resp.GetSecret()) != 6+64 {
		t.Fatalf("secret %q", resp.GetSecret())
	}
	r.setSecret(resp.GetSecret())
	return resp.GetWebhook()
}

// checkDelivered asserts the receiver acknowledged exactly want, in
// order, each once, every attempt well formed, and the webhook's state
// says so too.
func checkDelivered(t *testing.T, c sparcv1.WebhookServiceClient, hook *sparcv1.Webhook, r *receiver, want []change) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d deliveries to %s", len(want), hook.GetDescription()), func() bool { return len(r.acked()) >= len(want) })
	var h *sparcv1.Webhook
	waitFor(t, "the webhook's cursor to reach the last delivery", func() bool {
		var err error
		h, err = c.GetWebhook(context.Background(), &sparcv1.GetWebhookRequest{Name: hook.GetName()})
		return err == nil && h.GetPending() == 0
	})
	got := r.acked()
	sameChanges(t, got, want)
	for _, a := range r.snapshot() {
		if a.webhookID != idOf(hook) {
			t.Errorf("SPARC-Webhook-Id %q, want %s (the id in its name %s)", a.webhookID, idOf(hook), hook.GetName())
		}
		for _, p := range a.problems {
			t.Errorf("delivery %s: %s", a.deliveryID, p)
		}
	}
	if len(want) > 0 && (h.GetLastSuccessTime() == nil || h.GetConsecutiveFailures() != 0 || h.GetLastError() != "") {
		t.Errorf("delivery state after success: %v", h)
	}
}

func TestWebhookDeliversEveryChangeOfItsOrganisationOnceInOrderSigned(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t, fastRetries)
	lwRecv, groupRecv, otherRecv := newReceiver(t, 0), newReceiver(t, 0), newReceiver(t, 0)
	lwHook, groupHook := createHook(t, w.lwHooks, lwRecv), createHook(t, w.groupHooks, groupRecv)
	otherHook := createHook(t, w.otherHooks, otherRecv)
	lwStart, groupStart, otherStart := w.cursorOf(t, lwHook), w.cursorOf(t, groupHook), w.cursorOf(t, otherHook)

	// The loop of two referrals, a draft the group never sees, and
	// another organisation's referral that neither may receive.
	r1 := refer(t, w.people, w.lw, w.asset, false)
	r2 := refer(t, w.people, w.lw, w.asset, false)
	mustMove(t, w.group, r1, sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "")
	theirs := refer(t, w.otherPeople, w.otherLW, w.otherAsset, false)
	mustMove(t, w.group, r1, sparcv1.ReferralStatus_REFERRAL_STATUS_IN_PROGRESS, "")
	n := int32(2)
	if _, err := w.lw.RecordOutcome(context.Background(), &sparcv1.RecordOutcomeRequest{Name: r1, SessionsAttended: &n}); err != nil {
		t.Fatal(err)
	}
	mustMove(t, w.group, r2, sparcv1.ReferralStatus_REFERRAL_STATUS_REJECTED, "no_capacity")
	draft := refer(t, w.people, w.lw, w.asset, true)
	mustMove(t, w.otherLW, theirs, sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, "duplicate")
	mustMove(t, w.group, r1, sparcv1.ReferralStatus_REFERRAL_STATUS_COMPLETED, "")

	wantLW := w.expected(t, w.lwOrg, lwStart)
	wantGroup := w.expected(t, w.groupOrg, groupStart, draft)
	if len(wantLW) != 8 || len(wantGroup) != 7 {
		t.Fatalf("the oracle holds %d changes for the link workers and %d for the group; the test made 8 and 7", len(wantLW), len(wantGroup))
	}
	checkDelivered(t, w.lwHooks, lwHook, lwRecv, wantLW)
	checkDelivered(t, w.groupHooks, groupHook, groupRecv, wantGroup)
	checkDelivered(t, w.otherHooks, otherHook, otherRecv, w.expected(t, w.otherOrg, otherStart))
	for _, c := range append(lwRecv.acked(), groupRecv.acked()...) {
		if c.GetReferral() == theirs {
			t.Errorf("another organisation's change reached this one: %v", c)
		}
	}
	if got := otherRecv.acked(); len(got) != 2 || got[0].GetReferral() != theirs {
		t.Errorf("the other organisation received %v, want its own two changes", got)
	}
}

func TestWebhookRetriesAFailedDeliveryWithTheSameDeliveryIDThenGoesOnInOrder(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t, fastRetries)
	recv := newReceiver(t, 3) // 500, 500, 500, then 204
	hook := createHook(t, w.lwHooks, recv)
	start := w.cursorOf(t, hook)
	r := refer(t, w.people, w.lw, w.asset, false)
	mustMove(t, w.group, r, sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "")
	mustMove(t, w.lw, r, sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, "person_declined")

	checkDelivered(t, w.lwHooks, hook, recv, w.expected(t, w.lwOrg, start))
	attempts := recv.snapshot()
	if len(attempts) != 3+3 {
		t.Fatalf("%d attempts, want 3 failed and 3 delivered", len(attempts))
	}
	for i := 1; i < 4; i++ {
		if attempts[i].deliveryID != attempts[0].deliveryID {
			t.Errorf("attempt %d carries delivery id %s, the first %s: a retry must repeat it", i, attempts[i].deliveryID, attempts[0].deliveryID)
		}
	}
	// The failures were recorded, and the success cleared them.
	var failures int
	var lastFailure *time.Time
	if err := w.owner.QueryRow(context.Background(), `SELECT consecutive_failures, last_failure_at FROM webhooks WHERE id = $1`,
		idOf(hook)).Scan(&failures, &lastFailure); err != nil {
		t.Fatal(err)
	}
	if failures != 0 || lastFailure == nil {
		t.Errorf("after recovery: %d consecutive failures, last failure %v", failures, lastFailure)
	}
}

func TestWebhookFailureStateAndBackoffAreRecorded(t *testing.T) {
	t.Parallel()
	// A long backoff: after the first failure, no second attempt comes
	// while the test looks.
	w := newHookWorld(t, webhooks.Config{BackoffBase: time.Hour, Poll: 50 * time.Millisecond, AllowPrivate: true})
	recv := newReceiver(t, 1000)
	hook := createHook(t, w.lwHooks, recv)
	refer(t, w.people, w.lw, w.asset, false)
	var h *sparcv1.Webhook
	waitFor(t, "a failure to be recorded", func() bool {
		var err error
		h, err = w.lwHooks.GetWebhook(context.Background(), &sparcv1.GetWebhookRequest{Name: hook.GetName()})
		return err == nil && h.GetConsecutiveFailures() == 1
	})
	if h.GetLastError() != "HTTP 500 Internal Server Error" || h.GetLastFailureTime() == nil || h.GetPending() != 1 || h.GetLastSuccessTime() != nil {
		t.Errorf("after one failure: %v", h)
	}
	// Equal jitter: the wait is between half the base and the base.
	wait := h.GetNextAttemptTime().AsTime().Sub(h.GetLastFailureTime().AsTime())
	if wait < 30*time.Minute-time.Second || wait > time.Hour+time.Second {
		t.Errorf("next attempt %v after the failure, want 30 min to 1 h", wait)
	}
	if n := len(recv.snapshot()); n != 1 {
		t.Errorf("%d attempts during the backoff, want 1", n)
	}
}

func TestWebhookDeliveryResumesFromTheStoredCursorAfterARestart(t *testing.T) {
	t.Parallel()
	// The server's own worker is off: the test runs workers as separate
	// replicas would, stopping one and starting two.
	cfg := fastRetries
	cfg.Disabled = true
	w := newHookWorld(t, cfg)
	cfg.Disabled = false
	sealer, err := seal.New(w.dataKey)
	if err != nil {
		t.Fatal(err)
	}
	startWorker := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		hub := outbox.NewHub(w.log)
		go hub.Listen(ctx, w.pool)
		stopped := make(chan struct{})
		go func() {
			webhooks.NewWorker(w.pool, sealer, hub, cfg, w.log).Run(ctx)
			close(stopped)
		}()
		var once sync.Once
		stop = func() { once.Do(func() { cancel(); <-stopped }) }
		t.Cleanup(stop)
		return stop
	}
	recv := newReceiver(t, 0)
	hook := createHook(t, w.lwHooks, recv)
	start := w.cursorOf(t, hook)

	stop := startWorker()
	r := refer(t, w.people, w.lw, w.asset, false)
	mustMove(t, w.group, r, sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "")
	checkDelivered(t, w.lwHooks, hook, recv, w.expected(t, w.lwOrg, start))
	stop()

	// Changes while no worker runs wait in the outbox.
	mustMove(t, w.group, r, sparcv1.ReferralStatus_REFERRAL_STATUS_IN_PROGRESS, "")
	r2 := refer(t, w.people, w.lw, w.asset, false)
	h, err := w.lwHooks.GetWebhook(context.Background(), &sparcv1.GetWebhookRequest{Name: hook.GetName()})
	if err != nil || h.GetPending() != 2 {
		t.Fatalf("while stopped: %v, %v; want 2 pending", h, err)
	}
	// Two replicas come up: each change still arrives once, in order.
	startWorker()
	startWorker()
	mustMove(t, w.group, r2, sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "")
	checkDelivered(t, w.lwHooks, hook, recv, w.expected(t, w.lwOrg, start))
}

func TestWebhookWaitsForALateCommitAndDeliversItFirst(t *testing.T) {
	t.Parallel()
	// No fallback poll during the test: only the worker's own retry of
	// pending changes can deliver after the late commit, which wakes
	// nobody (it is not made through the service).
	cfg := fastRetries
	cfg.Poll = time.Hour
	w := newHookWorld(t, cfg)
	recv := newReceiver(t, 0)
	hook := createHook(t, w.lwHooks, recv)
	start := w.cursorOf(t, hook)
	ctx := context.Background()

	// An older transaction writes a change and stays open while a newer
	// one commits: the newer change must wait for it, not overtake it.
	tx, err := w.owner.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	var late string
	if err := tx.QueryRow(ctx, `INSERT INTO referral_outbox (referral_id, referring_org, type, to_status)
		VALUES (gen_random_uuid(), $1, 'created', 'requested') RETURNING 'referrals/' || referral_id::text`, w.lwOrg).Scan(&late); err != nil {
		t.Fatal(err)
	}
	later := refer(t, w.people, w.lw, w.asset, false)
	// Let the wake-ups of the newer change pass (the local one and the
	// notification back from PostgreSQL), so that what delivers after
	// the commit is the worker's own retry. Not an assertion: a correct
	// worker passes with any pause.
	time.Sleep(100 * time.Millisecond)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	want := w.expected(t, w.lwOrg, start)
	if len(want) != 2 || want[0].Referral != late || want[1].Referral != later {
		t.Fatalf("oracle %v, want the late change then the later one", want)
	}
	checkDelivered(t, w.lwHooks, hook, recv, want)
}

func TestDeletedWebhookReceivesNothingMore(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t, fastRetries)
	kept, deleted := newReceiver(t, 0), newReceiver(t, 0)
	keptHook, deletedHook := createHook(t, w.lwHooks, kept), createHook(t, w.lwHooks, deleted)
	r := refer(t, w.people, w.lw, w.asset, false)
	waitFor(t, "both receivers to get the first change", func() bool { return len(kept.acked()) == 1 && len(deleted.acked()) == 1 })
	// The deleted one's turn has ended once its cursor moved past the
	// change: any later turn starts by finding it deleted.
	waitFor(t, "the cursor to pass the first change", func() bool {
		h, err := w.lwHooks.GetWebhook(context.Background(), &sparcv1.GetWebhookRequest{Name: deletedHook.GetName()})
		return err == nil && h.GetPending() == 0 && h.GetLastSuccessTime() != nil
	})

	if _, err := w.lwHooks.DeleteWebhook(context.Background(), &sparcv1.DeleteWebhookRequest{Name: deletedHook.GetName()}); err != nil {
		t.Fatal(err)
	}
	mustMove(t, w.group, r, sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED, "")
	mustMove(t, w.group, r, sparcv1.ReferralStatus_REFERRAL_STATUS_IN_PROGRESS, "")
	// The kept webhook is delivered in the same turns as the deleted one
	// would be: once it has both changes, the deleted one had its chance.
	waitFor(t, "the kept receiver to get the later changes", func() bool { return len(kept.acked()) == 3 })
	if got := deleted.snapshot(); len(got) != 1 {
		t.Errorf("the deleted webhook received %d deliveries, want only the one before deletion", len(got))
	}
	if _, err := w.lwHooks.GetWebhook(context.Background(), &sparcv1.GetWebhookRequest{Name: deletedHook.GetName()}); status.Code(err) != codes.NotFound {
		t.Errorf("get after delete: %v, want NotFound", err)
	}
	list, err := w.lwHooks.ListWebhooks(context.Background(), &sparcv1.ListWebhooksRequest{})
	if err != nil || len(list.GetWebhooks()) != 1 || list.GetWebhooks()[0].GetName() != keptHook.GetName() {
		t.Errorf("list after delete: %v, %v", list, err)
	}
	var secret []byte
	if err := w.owner.QueryRow(context.Background(), `SELECT secret_sealed FROM webhooks WHERE id = $1`, idOf(deletedHook)).Scan(&secret); err != nil || secret != nil {
		t.Errorf("a deleted webhook keeps its sealed secret (%d bytes, %v)", len(secret), err)
	}
}

func TestWebhookIsOnlyVisibleToItsOrganisation(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t, fastRetries)
	recv := newReceiver(t, 0)
	hook := createHook(t, w.lwHooks, recv)
	if want := "organisations/" + w.lwOrg; hook.GetOrganisation() != want {
		t.Fatalf("organisation %s, want the caller's %s", hook.GetOrganisation(), want)
	}
	// A group editor of the same organisation sees it too.
	sameOrg := sparcv1.NewWebhookServiceClient(w.conn(t, w.lwOrg, auth.RoleGroupEditor))
	if _, err := sameOrg.GetWebhook(context.Background(), &sparcv1.GetWebhookRequest{Name: hook.GetName()}); err != nil {
		t.Errorf("same organisation, other role: %v", err)
	}
	for name, c := range map[string]sparcv1.WebhookServiceClient{
		"grpc": w.otherHooks, "http": &httpWebhooks{t: t, base: w.httpBase, key: w.keys[w.otherOrg]}} {
		t.Run(name, func(t *testing.T) {
			for _, name := range []string{hook.GetName(), "webhooks/" + uuid.NewString()} {
				_, err := c.GetWebhook(context.Background(), &sparcv1.GetWebhookRequest{Name: name})
				if status.Code(err) != codes.NotFound || !strings.Contains(status.Convert(err).Message(), name+" not found") {
					t.Errorf("get %s: %v, want NotFound naming it", name, err)
				}
				if _, err := c.DeleteWebhook(context.Background(), &sparcv1.DeleteWebhookRequest{Name: name}); status.Code(err) != codes.NotFound {
					t.Errorf("delete %s: %v, want NotFound", name, err)
				}
			}
			list, err := c.ListWebhooks(context.Background(), &sparcv1.ListWebhooksRequest{})
			if err != nil || len(list.GetWebhooks()) != 0 {
				t.Errorf("the other organisation lists %v, %v", list, err)
			}
		})
	}
	if _, err := w.lwHooks.GetWebhook(context.Background(), &sparcv1.GetWebhookRequest{Name: hook.GetName()}); err != nil {
		t.Errorf("still there for its owner: %v", err)
	}
}

// violations returns "field: description" of a status's BadRequest.
func violations(err error) []string {
	var out []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField()+": "+v.GetDescription())
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestWebhookRequestsAreCheckedBeforeTheDatabase(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t, fastRetries)
	long := "https://example.org/" + strings.Repeat("a", 1981)
	bad := []struct {
		name, url, description string
		want                   []string // field: start of the description
	}{
		{"no url", "", "", []string{"webhook.url: is required"}},
		{"relative", "/hooks/sparc", "", []string{"webhook.url: is not an absolute URL"}},
		{"no host", "https:///sparc", "", []string{"webhook.url: is not an absolute URL"}},
		{"not a url", "https://exa mple.org/", "", []string{"webhook.url: is not an absolute URL"}},
		{"plain http elsewhere", "http://example.org/sparc", "", []string{"webhook.url: must use https"}},
		{"http to a private address", "http://10.0.0.8/sparc", "", []string{"webhook.url: must use https"}},
		{"another scheme", "ftp://example.org/sparc", "", []string{"webhook.url: must use https, not ftp"}},
		{"credentials", "https://user:pw@example.org/sparc", "", []string{"webhook.url: must not contain a user name or password"}},
		{"too long", long, "", []string{"webhook.url: is 2001 characters, more than the maximum of 2000"}},
		{"long description", "https://example.org/sparc", strings.Repeat("é", 201), []string{"webhook.description: is 201 characters, more than the maximum of 200"}},
		{"both", "", strings.Repeat("x", 201), []string{"webhook.description: is 201 characters", "webhook.url: is required"}},
	}
	good := []string{"https://example.org/sparc?x=1", "http://127.0.0.1:9/sparc", "http://[::1]:9/sparc", "http://localhost/sparc",
		"https://example.org/" + strings.Repeat("a", 1980)}
	if len(long) != 2001 || len(good[4]) != 2000 {
		t.Fatalf("lengths %d and %d", len(long), len(good[4]))
	}
	count := func() int {
		var n int
		if err := w.owner.QueryRow(context.Background(), `SELECT count(*) FROM webhooks`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	transports := map[string]sparcv1.WebhookServiceClient{"grpc": w.lwHooks,
		"http": &httpWebhooks{t: t, base: w.httpBase, key: w.keys[w.lwOrg]}}
	for name, c := range transports {
		for _, b := range bad {
			t.Run(name+"/"+b.name, func(t *testing.T) {
				_, err := c.CreateWebhook(context.Background(), &sparcv1.CreateWebhookRequest{Webhook: &sparcv1.Webhook{Url: b.url, Description: b.description}})
				got := violations(err)
				if status.Code(err) != codes.InvalidArgument || len(got) != len(b.want) {
					t.Fatalf("got %v %v, want InvalidArgument with %v", status.Code(err), got, b.want)
				}
				for i := range b.want {
					if !strings.HasPrefix(got[i], b.want[i]) {
						t.Errorf("violation %q, want %q…", got[i], b.want[i])
					}
				}
			})
		}
		// Names are "webhooks/" and a UUID in its one canonical spelling.
		id := uuid.NewString()
		for _, hookName := range []string{"", "not-a-uuid", id, "assets/" + id, "webhooks/not-a-uuid", "webhooks/" + strings.ToUpper(id),
			"webhooks/" + id + "/x"} {
			_, getErr := c.GetWebhook(context.Background(), &sparcv1.GetWebhookRequest{Name: hookName})
			_, delErr := c.DeleteWebhook(context.Background(), &sparcv1.DeleteWebhookRequest{Name: hookName})
			for _, err := range []error{getErr, delErr} {
				if name == "http" && (!strings.HasPrefix(hookName, "webhooks/") || strings.Count(hookName, "/") > 1) {
					// Not a webhook's URL (/v1/webhooks/{id}) at all.
					if status.Code(err) == codes.OK {
						t.Errorf("%s: name %q accepted", name, hookName)
					}
					continue
				}
				if got := violations(err); status.Code(err) != codes.InvalidArgument || len(got) != 1 || !strings.HasPrefix(got[0], "name: ") {
					t.Errorf("%s: name %q: %v %v", name, hookName, status.Code(err), got)
				}
			}
		}
		if _, err := c.ListWebhooks(context.Background(), &sparcv1.ListWebhooksRequest{PageToken: "forged"}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: forged page token: %v", name, err)
		}
	}
	if n := count(); n != 0 {
		t.Fatalf("bad requests stored %d webhooks", n)
	}

	// Good URLs are taken, up to ten per organisation; the eleventh is
	// refused until one is deleted.
	var ids []string
	for i := 0; i < webhooks.MaxWebhooks; i++ {
		c := transports[[]string{"grpc", "http"}[i%2]]
		resp, err := c.CreateWebhook(context.Background(), &sparcv1.CreateWebhookRequest{Webhook: &sparcv1.Webhook{
			Url: good[i%len(good)], Description: fmt.Sprintf("hook %d", i)}})
		if err != nil {
			t.Fatalf("creating %s: %v", good[i%len(good)], err)
		}
		ids = append(ids, resp.GetWebhook().GetName())
	}
	for name, c := range transports {
		_, err := c.CreateWebhook(context.Background(), &sparcv1.CreateWebhookRequest{Webhook: &sparcv1.Webhook{Url: good[0]}})
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), "the most allowed is 10") {
			t.Errorf("%s: eleventh webhook: %v, want FailedPrecondition naming the limit", name, err)
		}
	}
	// Another organisation has its own ten.
	if _, err := w.otherHooks.CreateWebhook(context.Background(), &sparcv1.CreateWebhookRequest{Webhook: &sparcv1.Webhook{Url: good[0]}}); err != nil {
		t.Errorf("another organisation: %v", err)
	}
	if _, err := w.lwHooks.DeleteWebhook(context.Background(), &sparcv1.DeleteWebhookRequest{Name: ids[0]}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.lwHooks.CreateWebhook(context.Background(), &sparcv1.CreateWebhookRequest{Webhook: &sparcv1.Webhook{Url: good[0]}}); err != nil {
		t.Errorf("after a delete: %v", err)
	}

	// Pages: ten in pages of three, oldest first, each once.
	var listed []string
	req := &sparcv1.ListWebhooksRequest{PageSize: 3}
	for page := 0; ; page++ {
		resp, err := transports[[]string{"grpc", "http"}[page%2]].ListWebhooks(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range resp.GetWebhooks() {
			listed = append(listed, h.GetName())
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	if len(listed) != 10 || listed[0] != ids[1] || listed[8] != ids[9] {
		t.Errorf("listed %d webhooks %v; want ids[1:] then the new one", len(listed), listed)
	}
}

// A create request's output-only fields are ignored (AIP-203): the server
// names the webhook, it belongs to the caller's organisation and starts
// with a clean delivery state. A request without a webhook is refused.
func TestCreateWebhookIgnoresOutputOnlyFields(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t, fastRetries)
	ctx := context.Background()
	chosen := "webhooks/" + uuid.NewString()
	resp, err := w.lwHooks.CreateWebhook(ctx, &sparcv1.CreateWebhookRequest{Webhook: &sparcv1.Webhook{
		Name: chosen, Organisation: "organisations/" + w.otherOrg, Url: "https://example.org/h", Description: "mine",
		CreateTime: timestamppb.New(time.Unix(0, 0)), LastSuccessTime: timestamppb.Now(), LastError: "HTTP 500",
		ConsecutiveFailures: 3, Pending: 7, NextAttemptTime: timestamppb.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	h := resp.GetWebhook()
	if h.GetName() == chosen || !strings.HasPrefix(h.GetName(), "webhooks/") || h.GetOrganisation() != "organisations/"+w.lwOrg {
		t.Errorf("created %s of %s; want a server-assigned name in the caller's organisation", h.GetName(), h.GetOrganisation())
	}
	if time.Since(h.GetCreateTime().AsTime()) > time.Minute || h.GetLastSuccessTime() != nil || h.GetLastError() != "" ||
		h.GetConsecutiveFailures() != 0 || h.GetPending() != 0 || h.GetNextAttemptTime() != nil || h.GetDescription() != "mine" {
		t.Errorf("created with the request's output-only fields: %v", h)
	}
	if got, err := w.lwHooks.GetWebhook(ctx, &sparcv1.GetWebhookRequest{Name: h.GetName()}); err != nil || !proto.Equal(got, h) {
		t.Errorf("get %s: %v, %v; want what create returned", h.GetName(), got, err)
	}
	_, err = w.lwHooks.CreateWebhook(ctx, &sparcv1.CreateWebhookRequest{})
	if got := violations(err); status.Code(err) != codes.InvalidArgument || len(got) != 1 || !strings.HasPrefix(got[0], "webhook: is required") {
		t.Errorf("no webhook: %v %v", status.Code(err), got)
	}
}

// Twenty creations at once: the limit holds under concurrency.
func TestConcurrentWebhookCreationsStopAtTheLimit(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t, fastRetries)
	var wg sync.WaitGroup
	codesSeen := make(chan codes.Code, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := w.lwHooks.CreateWebhook(context.Background(), &sparcv1.CreateWebhookRequest{Webhook: &sparcv1.Webhook{Url: "https://example.org/h"}})
			codesSeen <- status.Code(err)
		}()
	}
	wg.Wait()
	close(codesSeen)
	counts := map[codes.Code]int{}
	for c := range codesSeen {
		counts[c]++
	}
	if counts[codes.OK] != 10 || counts[codes.FailedPrecondition] != 10 {
		t.Errorf("outcomes %v, want 10 OK and 10 FailedPrecondition", counts)
	}
}

// httpWebhooks is the Service over the HTTP gateway's routes;
// errors come back as statuses rebuilt from the JSON body, after checking
// the HTTP status matches.
type httpWebhooks struct {
	t    *testing.T
	base string
	key  string
}

var httpFor = map[codes.Code]int{codes.InvalidArgument: 400, codes.FailedPrecondition: 400, codes.NotFound: 404,
	codes.PermissionDenied: 403, codes.Unauthenticated: 401}

func (c *httpWebhooks) do(ctx context.Context, method, path string, body, out proto.Message) error {
	var rd io.Reader
	if body != nil {
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		return protojson.Unmarshal(raw, out)
	}
	var sp spb.Status
	if err := protojson.Unmarshal(raw, &sp); err != nil {
		return status.Errorf(codes.Unknown, "HTTP %d: %s", resp.StatusCode, raw)
	}
	st := status.FromProto(&sp)
	if want, ok := httpFor[st.Code()]; ok && want != resp.StatusCode {
		c.t.Errorf("%s %s: HTTP %d for %v, want %d", method, path, resp.StatusCode, st.Code(), want)
	}
	return st.Err()
}

func (c *httpWebhooks) CreateWebhook(ctx context.Context, in *sparcv1.CreateWebhookRequest, _ ...grpc.CallOption) (*sparcv1.CreateWebhookResponse, error) {
	out := &sparcv1.CreateWebhookResponse{}
	return out, c.do(ctx, "POST", "/v1/webhooks", in.GetWebhook(), out)
}

func (c *httpWebhooks) GetWebhook(ctx context.Context, in *sparcv1.GetWebhookRequest, _ ...grpc.CallOption) (*sparcv1.Webhook, error) {
	out := &sparcv1.Webhook{}
	return out, c.do(ctx, "GET", "/v1/"+in.GetName(), nil, out)
}

func (c *httpWebhooks) ListWebhooks(ctx context.Context, in *sparcv1.ListWebhooksRequest, _ ...grpc.CallOption) (*sparcv1.ListWebhooksResponse, error) {
	out := &sparcv1.ListWebhooksResponse{}
	q := "?page_size=" + strconv.Itoa(int(in.GetPageSize())) + "&page_token=" + url.QueryEscape(in.GetPageToken())
	return out, c.do(ctx, "GET", "/v1/webhooks"+q, nil, out)
}

func (c *httpWebhooks) DeleteWebhook(ctx context.Context, in *sparcv1.DeleteWebhookRequest, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	out := &emptypb.Empty{}
	return out, c.do(ctx, "DELETE", "/v1/"+in.GetName(), nil, out)
}

// testLogger discards the server's log unless SPARC_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("SPARC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
