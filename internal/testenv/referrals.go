package testenv

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
)

// Referrals is what a test needs to refer people from one organisation
// to another: a link-worker service (the referrer) with a link worker's
// key, a community group (the provider) with an asset that takes
// referrals, and a person the link worker holds.
type Referrals struct {
	Referrer, Provider string // organisation ids
	LinkWorkerKey      string
	LinkWorker         *grpc.ClientConn // sends LinkWorkerKey
	Asset, Person      string           // names: assets/…, people/…
}

// NewReferrals makes two new organisations, the key, the asset and the
// person.
func (e *Env) NewReferrals(t testing.TB) *Referrals {
	t.Helper()
	ctx := context.Background()
	r := &Referrals{Referrer: e.NewOrg(t, "Link workers", "link_worker_service"), Provider: e.NewOrg(t, "Walking group", "community_group")}
	r.LinkWorkerKey = e.Key(t, r.Referrer, auth.RoleLinkWorker)
	r.LinkWorker = e.ConnWithKey(t, r.LinkWorkerKey)
	asset, err := e.AssetsOf(t, r.Provider).CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "Walking group", AcceptingReferrals: true, OwnerOrganisation: "organisations/" + r.Provider,
		Location: &sparcv1.Location{Latitude: 52.48, Longitude: -1.86, Country: "GB"}}})
	if err != nil {
		t.Fatalf("creating the provider's asset: %v", err)
	}
	person, err := sparcv1.NewPersonServiceClient(r.LinkWorker).CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{
		DisplayName: "A. Khan", AgeBand: "65-74", Postcode: "B8 1AA", Needs: []string{"social_connection"}, Consent: &sparcv1.Consent{}}})
	if err != nil {
		t.Fatalf("creating the referrer's person: %v", err)
	}
	r.Asset, r.Person = asset.GetName(), person.GetName()
	return r
}

// Refer refers the person to the asset as the link worker, with request
// id requestID, and returns the referral's name (referrals/…).
func (r *Referrals) Refer(t testing.TB, requestID string) string {
	t.Helper()
	ref, err := sparcv1.NewReferralServiceClient(r.LinkWorker).CreateReferral(context.Background(), &sparcv1.CreateReferralRequest{
		RequestId: requestID, Person: r.Person, Asset: r.Asset, Reasons: []string{"social_connection"}})
	if err != nil {
		t.Fatalf("referring: %v", err)
	}
	return ref.GetName()
}

// BackdateReferrals moves every referral of the test's database, with its
// timeline, back so that the first was made at at: figures leaving the
// referring organisation cover only months that have ended.
func (e *Env) BackdateReferrals(t testing.TB, at time.Time) {
	t.Helper()
	ctx := context.Background()
	var first time.Time
	if err := e.Pool.QueryRow(ctx, `SELECT min(created_at) FROM referrals`).Scan(&first); err != nil {
		t.Fatalf("backdating referrals: %v", err)
	}
	shift := first.Sub(at)
	if _, err := e.Pool.Exec(ctx, `UPDATE referrals SET created_at = created_at - $1::interval, updated_at = updated_at - $1,
		requested_at = requested_at - $1, accepted_at = accepted_at - $1, first_attended_at = first_attended_at - $1,
		baseline_at = baseline_at - $1, followup_at = followup_at - $1, closed_at = closed_at - $1`, shift); err != nil {
		t.Fatalf("backdating referrals: %v", err)
	}
	if _, err := e.Pool.Exec(ctx, `UPDATE referral_events SET time = time - $1::interval`, shift); err != nil {
		t.Fatalf("backdating referral events: %v", err)
	}
}
