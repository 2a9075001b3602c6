package auth_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The authorisation matrix: every RPC × every caller × every target, over
// gRPC and over HTTP, each expected code written out.
//
// Adding an RPC? Add its rule to auth.Policy AND a row here; the test
// TestEveryPolicyMethodIsInTheMatrix fails until you do.
//
// Callers: the four roles (keys of organisation A), no key, a revoked key,
// a malformed key. Targets: a resource of A ("own"), of organisation B
// ("other"), and an id that does not exist ("missing").

var callers = []string{"admin", "link_worker", "group_editor", "area_analyst", "none", "revoked", "malformed"}
var targets = []string{"own", "other", "missing"}

const (
	ok    = codes.OK
	nf    = codes.NotFound
	pd    = codes.PermissionDenied
	unaut = codes.Unauthenticated
	inval = codes.InvalidArgument
)

// expect builds a caller → target → code table from one row per caller,
// each listing codes for own, other, missing; bad credentials always give
// UNAUTHENTICATED, no key gives none (for writes UNAUTHENTICATED too).
type row [3]codes.Code

func table(admin, linkWorker, groupEditor, analyst, none row) map[string]row {
	return map[string]row{
		"admin": admin, "link_worker": linkWorker, "group_editor": groupEditor, "area_analyst": analyst,
		"none": none, "revoked": {unaut, unaut, unaut}, "malformed": {unaut, unaut, unaut},
	}
}

var (
	allOK      = row{ok, ok, ok}
	allNF      = row{nf, nf, nf}
	allPD      = row{pd, pd, pd}
	allUnauth  = row{unaut, unaut, unaut}
	readOne    = row{ok, ok, nf} // reading one public resource
	writeOwned = row{ok, nf, nf} // group editor on its own vs others'
)

// fixture is the world a matrix cell runs in.
type fixture struct {
	env        *testenv.Env
	orgA, orgB string
	// Link-worker connections of A ("own") and B ("other"), and an asset
	// of each taking referrals, to make people and referrals.
	lw             map[string]*grpc.ClientConn
	referralAssets map[string]string
}

// person creates a person held by the target's organisation.
func (f *fixture) person(t *testing.T, target string) string {
	t.Helper()
	if target == "missing" {
		return uuid.NewString()
	}
	p, err := sparcv1.NewPersonServiceClient(f.lw[target]).CreatePerson(context.Background(),
		&sparcv1.CreatePersonRequest{Person: &sparcv1.Person{DisplayName: "M. X."}})
	if err != nil {
		t.Fatalf("creating fixture person: %v", err)
	}
	return p.GetId()
}

// referralAsset is an asset of the target's organisation that takes referrals.
func (f *fixture) referralAsset(t *testing.T, target string) string {
	t.Helper()
	if target == "missing" {
		target = "own"
	}
	if id, ok := f.referralAssets[target]; ok {
		return id
	}
	a := newAsset(f.org(target))
	a.AcceptingReferrals = true
	created, err := f.env.Assets.CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: a})
	if err != nil {
		t.Fatalf("creating fixture asset: %v", err)
	}
	f.referralAssets[target] = created.GetId()
	return created.GetId()
}

// referral creates a referral made by the target's organisation to its
// own asset, so A's link workers see it as referrer and A's group editors
// as provider.
func (f *fixture) referral(t *testing.T, target string) string {
	t.Helper()
	if target == "missing" {
		return uuid.NewString()
	}
	r, err := sparcv1.NewReferralServiceClient(f.lw[target]).CreateReferral(context.Background(), &sparcv1.CreateReferralRequest{
		RequestId: uuid.NewString(), PersonId: f.person(t, target), AssetId: f.referralAsset(t, target)})
	if err != nil {
		t.Fatalf("creating fixture referral: %v", err)
	}
	return r.GetId()
}

// webhook creates a webhook of the target's organisation (through its
// link worker), first deleting its earlier ones: every cell makes one, and
// an organisation may have only ten.
func (f *fixture) webhook(t *testing.T, target string) string {
	t.Helper()
	if target == "missing" {
		return uuid.NewString()
	}
	f.freeWebhooks(t, target)
	resp, err := sparcv1.NewWebhookServiceClient(f.lw[target]).CreateWebhook(context.Background(), &sparcv1.CreateWebhookRequest{
		Webhook: &sparcv1.Webhook{Url: "https://example.org/matrix"}})
	if err != nil {
		t.Fatalf("creating fixture webhook: %v", err)
	}
	return resp.GetWebhook().GetId()
}

// freeWebhooks deletes the target organisation's webhooks.
func (f *fixture) freeWebhooks(t *testing.T, target string) {
	t.Helper()
	if _, err := f.env.Pool.Exec(context.Background(), `UPDATE webhooks SET deleted_at = now()
		WHERE organisation_id = $1 AND deleted_at IS NULL`, f.org(target)); err != nil {
		t.Fatalf("deleting fixture webhooks: %v", err)
	}
}

// assetOf creates a fresh asset owned by the target's organisation.
func (f *fixture) asset(t *testing.T, target string) string {
	t.Helper()
	switch target {
	case "missing":
		return uuid.NewString()
	}
	owner := f.orgA
	if target == "other" {
		owner = f.orgB
	}
	a, err := f.env.Assets.CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: newAsset(owner)})
	if err != nil {
		t.Fatalf("creating fixture asset: %v", err)
	}
	return a.GetId()
}

func (f *fixture) org(target string) string {
	switch target {
	case "own":
		return f.orgA
	case "other":
		return f.orgB
	}
	return uuid.NewString()
}

func (f *fixture) apiKey(t *testing.T, target string) string {
	t.Helper()
	if target == "missing" {
		return uuid.NewString()
	}
	resp, err := sparcv1.NewApiKeyServiceClient(f.env.Conn).CreateApiKey(context.Background(),
		&sparcv1.CreateApiKeyRequest{OrganisationId: f.org(target), Role: sparcv1.Role_ROLE_LINK_WORKER})
	if err != nil {
		t.Fatalf("creating fixture key: %v", err)
	}
	return resp.GetApiKey().GetId()
}

func newAsset(owner string) *sparcv1.Asset {
	return &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, Name: "Matrix walking group",
		Location:          &sparcv1.Location{Latitude: 52.48, Longitude: -1.89, Country: "GB"},
		OwnerOrganisation: owner,
	}
}

// call is one RPC made over gRPC or HTTP against target.
type call struct {
	grpc func(ctx context.Context, conn *grpc.ClientConn, id string) error
	// http returns method, path and JSON body (nil for none).
	http func(id string) (string, string, any)
	// setup makes the target and returns the id the call uses.
	setup func(t *testing.T, f *fixture, target string) string
	// stream: the HTTP response stays open; only its status and first
	// line are read.
	stream bool
}

type matrixRow struct {
	method string
	call   call
	want   map[string]row
}

func matrix() []matrixRow {
	assetTarget := func(t *testing.T, f *fixture, target string) string { return f.asset(t, target) }
	orgTarget := func(_ *testing.T, f *fixture, target string) string { return f.org(target) }
	keyTarget := func(t *testing.T, f *fixture, target string) string { return f.apiKey(t, target) }
	noTarget := func(*testing.T, *fixture, string) string { return "" }
	ac := func(c *grpc.ClientConn) sparcv1.AssetServiceClient { return sparcv1.NewAssetServiceClient(c) }
	oc := func(c *grpc.ClientConn) sparcv1.OrganisationServiceClient {
		return sparcv1.NewOrganisationServiceClient(c)
	}
	kc := func(c *grpc.ClientConn) sparcv1.ApiKeyServiceClient { return sparcv1.NewApiKeyServiceClient(c) }
	pc := func(c *grpc.ClientConn) sparcv1.PersonServiceClient { return sparcv1.NewPersonServiceClient(c) }
	rc := func(c *grpc.ClientConn) sparcv1.ReferralServiceClient { return sparcv1.NewReferralServiceClient(c) }
	personTarget := func(t *testing.T, f *fixture, target string) string { return f.person(t, target) }
	referralTarget := func(t *testing.T, f *fixture, target string) string { return f.referral(t, target) }
	wc := func(c *grpc.ClientConn) sparcv1.WebhookServiceClient { return sparcv1.NewWebhookServiceClient(c) }
	webhookTarget := func(t *testing.T, f *fixture, target string) string { return f.webhook(t, target) }
	// A referral request: a person of the target's organisation and an
	// asset of it ("person asset").
	referTarget := func(t *testing.T, f *fixture, target string) string {
		return f.person(t, target) + " " + f.referralAsset(t, target)
	}
	// Party to a referral: the organisation that made it or received it.
	party := table(writeOwned, writeOwned, writeOwned, allNF, allUnauth)
	public := table(readOne, readOne, readOne, readOne, readOne)
	publicList := table(allOK, allOK, allOK, allOK, allOK)
	return []matrixRow{
		{"/sparc.v1.AssetService/GetAsset", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := ac(c).GetAsset(ctx, &sparcv1.GetAssetRequest{Id: id})
				return err
			},
			http:  func(id string) (string, string, any) { return "GET", "/v1/assets/" + id, nil },
			setup: assetTarget,
		}, public},
		{"/sparc.v1.AssetService/ListAssets", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := ac(c).ListAssets(ctx, &sparcv1.ListAssetsRequest{})
				return err
			},
			http:  func(string) (string, string, any) { return "GET", "/v1/assets", nil },
			setup: noTarget,
		}, publicList},
		{"/sparc.v1.AssetService/SearchAssets", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				lat, lng, r := 52.48, -1.89, 2000.0
				_, err := ac(c).SearchAssets(ctx, &sparcv1.SearchAssetsRequest{Latitude: &lat, Longitude: &lng, RadiusMeters: &r})
				return err
			},
			http: func(string) (string, string, any) {
				return "GET", "/v1/assets:search?latitude=52.48&longitude=-1.89&radius_meters=2000", nil
			},
			setup: noTarget,
		}, publicList},
		{"/sparc.v1.AssetService/ListVocabulary", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := ac(c).ListVocabulary(ctx, &sparcv1.ListVocabularyRequest{})
				return err
			},
			http:  func(string) (string, string, any) { return "GET", "/v1/vocabulary", nil },
			setup: noTarget,
		}, publicList},
		{"/sparc.v1.AssetService/CreateAsset", call{
			// The target is the owner organisation of the new asset.
			grpc: func(ctx context.Context, c *grpc.ClientConn, org string) error {
				_, err := ac(c).CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: newAsset(org)})
				return err
			},
			http: func(org string) (string, string, any) {
				return "POST", "/v1/assets", map[string]any{"kind": "ASSET_KIND_ASSOCIATION", "name": "Matrix choir",
					"location": map[string]any{"latitude": 52.48, "longitude": -1.89, "country": "GB"}, "owner_organisation": org}
			},
			setup: orgTarget,
		}, table(row{ok, ok, inval}, allPD, row{ok, nf, nf}, allPD, allUnauth)},
		{"/sparc.v1.AssetService/UpdateAsset", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := ac(c).UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{
					Asset:      &sparcv1.Asset{Id: id, Name: "Renamed"},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}},
				})
				return err
			},
			http: func(id string) (string, string, any) {
				return "PATCH", "/v1/assets/" + id + "?update_mask=name", map[string]any{"name": "Renamed"}
			},
			setup: assetTarget,
		}, table(readOne, allNF, writeOwned, allNF, allUnauth)},
		{"/sparc.v1.AssetService/DeleteAsset", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := ac(c).DeleteAsset(ctx, &sparcv1.DeleteAssetRequest{Id: id})
				return err
			},
			http:  func(id string) (string, string, any) { return "DELETE", "/v1/assets/" + id, nil },
			setup: assetTarget,
		}, table(readOne, allNF, writeOwned, allNF, allUnauth)},
		{"/sparc.v1.OrganisationService/GetOrganisation", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := oc(c).GetOrganisation(ctx, &sparcv1.GetOrganisationRequest{Id: id})
				return err
			},
			http:  func(id string) (string, string, any) { return "GET", "/v1/organisations/" + id, nil },
			setup: orgTarget,
		}, public},
		{"/sparc.v1.OrganisationService/ListOrganisations", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := oc(c).ListOrganisations(ctx, &sparcv1.ListOrganisationsRequest{})
				return err
			},
			http:  func(string) (string, string, any) { return "GET", "/v1/organisations", nil },
			setup: noTarget,
		}, publicList},
		{"/sparc.v1.OrganisationService/CreateOrganisation", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := oc(c).CreateOrganisation(ctx, &sparcv1.CreateOrganisationRequest{Organisation: &sparcv1.Organisation{
					Name: "Matrix group", Kind: sparcv1.OrganisationKind_ORGANISATION_KIND_COMMUNITY_GROUP}})
				return err
			},
			http: func(string) (string, string, any) {
				return "POST", "/v1/organisations", map[string]any{"name": "Matrix group", "kind": "ORGANISATION_KIND_COMMUNITY_GROUP"}
			},
			setup: noTarget,
		}, table(allOK, allPD, allPD, allPD, allUnauth)},
		{"/sparc.v1.OrganisationService/UpdateOrganisation", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := oc(c).UpdateOrganisation(ctx, &sparcv1.UpdateOrganisationRequest{
					Organisation: &sparcv1.Organisation{Id: id, Website: "https://example.org"},
					UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"website"}}})
				return err
			},
			http: func(id string) (string, string, any) {
				return "PATCH", "/v1/organisations/" + id + "?update_mask=website", map[string]any{"website": "https://example.org"}
			},
			setup: orgTarget,
		}, table(readOne, allNF, allNF, allNF, allUnauth)},
		{"/sparc.v1.ApiKeyService/CreateApiKey", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, org string) error {
				_, err := kc(c).CreateApiKey(ctx, &sparcv1.CreateApiKeyRequest{OrganisationId: org, Role: sparcv1.Role_ROLE_AREA_ANALYST})
				return err
			},
			http: func(org string) (string, string, any) {
				return "POST", "/v1/apiKeys", map[string]any{"organisation_id": org, "role": "ROLE_AREA_ANALYST"}
			},
			setup: orgTarget,
		}, table(readOne, allPD, allPD, allPD, allUnauth)},
		{"/sparc.v1.ApiKeyService/ListApiKeys", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := kc(c).ListApiKeys(ctx, &sparcv1.ListApiKeysRequest{})
				return err
			},
			http:  func(string) (string, string, any) { return "GET", "/v1/apiKeys", nil },
			setup: noTarget,
		}, table(allOK, allPD, allPD, allPD, allUnauth)},
		{"/sparc.v1.ApiKeyService/RevokeApiKey", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := kc(c).RevokeApiKey(ctx, &sparcv1.RevokeApiKeyRequest{Id: id})
				return err
			},
			http: func(id string) (string, string, any) {
				return "POST", "/v1/apiKeys/" + id + ":revoke", map[string]any{}
			},
			setup: keyTarget,
		}, table(readOne, allNF, allNF, allNF, allUnauth)},
		{"/sparc.v1.DirectoryImportService/UpsertSourcedAssets", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := sparcv1.NewDirectoryImportServiceClient(c).UpsertSourcedAssets(ctx, &sparcv1.UpsertSourcedAssetsRequest{Source: "matrix"})
				return err
			},
			http: func(string) (string, string, any) {
				return "POST", "/v1/assets:upsertSourced", map[string]any{"source": "matrix"}
			},
			setup: noTarget,
		}, table(allOK, allPD, allPD, allPD, allUnauth)},
		{"/sparc.v1.AuditService/ListAuditEvents", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := sparcv1.NewAuditServiceClient(c).ListAuditEvents(ctx, &sparcv1.ListAuditEventsRequest{})
				return err
			},
			http:  func(string) (string, string, any) { return "GET", "/v1/auditEvents", nil },
			setup: noTarget,
		}, table(allOK, allPD, allPD, allPD, allUnauth)},

		// People: only link workers (and admins) of the holding organisation.
		{"/sparc.v1.PersonService/CreatePerson", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := pc(c).CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{DisplayName: "M. X."}})
				return err
			},
			http: func(string) (string, string, any) {
				return "POST", "/v1/people", map[string]any{"display_name": "M. X."}
			},
			setup: noTarget,
		}, table(allOK, allOK, allPD, allPD, allUnauth)},
		{"/sparc.v1.PersonService/GetPerson", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := pc(c).GetPerson(ctx, &sparcv1.GetPersonRequest{Id: id})
				return err
			},
			http:  func(id string) (string, string, any) { return "GET", "/v1/people/" + id, nil },
			setup: personTarget,
		}, table(writeOwned, writeOwned, allNF, allNF, allUnauth)},
		{"/sparc.v1.PersonService/UpdatePerson", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := pc(c).UpdatePerson(ctx, &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Id: id, WhatMatters: "Music"},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"what_matters"}}})
				return err
			},
			http: func(id string) (string, string, any) {
				return "PATCH", "/v1/people/" + id + "?update_mask=what_matters", map[string]any{"what_matters": "Music"}
			},
			setup: personTarget,
		}, table(writeOwned, writeOwned, allNF, allNF, allUnauth)},

		// Referrals: made by link workers; read and moved by either party.
		{"/sparc.v1.ReferralService/CreateReferral", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, ids string) error {
				person, asset, _ := strings.Cut(ids, " ")
				_, err := rc(c).CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: uuid.NewString(), PersonId: person, AssetId: asset})
				return err
			},
			http: func(ids string) (string, string, any) {
				person, asset, _ := strings.Cut(ids, " ")
				return "POST", "/v1/referrals", map[string]any{"request_id": uuid.NewString(), "person_id": person, "asset_id": asset}
			},
			setup: referTarget,
		}, table(writeOwned, writeOwned, allPD, allPD, allUnauth)},
		{"/sparc.v1.ReferralService/GetReferral", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := rc(c).GetReferral(ctx, &sparcv1.GetReferralRequest{Id: id})
				return err
			},
			http:  func(id string) (string, string, any) { return "GET", "/v1/referrals/" + id, nil },
			setup: referralTarget,
		}, party},
		{"/sparc.v1.ReferralService/ListReferrals", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := rc(c).ListReferrals(ctx, &sparcv1.ListReferralsRequest{})
				return err
			},
			http:  func(string) (string, string, any) { return "GET", "/v1/referrals", nil },
			setup: noTarget,
		}, table(allOK, allOK, allOK, allPD, allUnauth)},
		{"/sparc.v1.ReferralService/TransitionReferral", call{
			// Cancelling: either party may, from requested.
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := rc(c).TransitionReferral(ctx, &sparcv1.TransitionReferralRequest{Id: id,
					ToStatus: sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, Reason: "duplicate"})
				return err
			},
			http: func(id string) (string, string, any) {
				return "POST", "/v1/referrals/" + id + ":transition", map[string]any{"to_status": "REFERRAL_STATUS_CANCELLED", "reason": "duplicate"}
			},
			setup: referralTarget,
		}, party},
		{"/sparc.v1.ReferralService/RecordOutcome", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				n := int32(1)
				_, err := rc(c).RecordOutcome(ctx, &sparcv1.RecordOutcomeRequest{Id: id, SessionsAttended: &n})
				return err
			},
			http: func(id string) (string, string, any) {
				return "POST", "/v1/referrals/" + id + ":recordOutcome", map[string]any{"sessions_attended": 1}
			},
			setup: referralTarget,
		}, party},
		{"/sparc.v1.ReferralService/WatchReferrals", call{
			// The setup makes a referral of A's so an allowed watcher has a
			// change to receive; the target does not matter.
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				s, err := rc(c).WatchReferrals(ctx, &sparcv1.WatchReferralsRequest{})
				if err != nil {
					return err
				}
				_, err = s.Recv()
				return err
			},
			http:   func(string) (string, string, any) { return "GET", "/v1/referrals:watch", nil },
			setup:  func(t *testing.T, f *fixture, _ string) string { return f.referral(t, "own") },
			stream: true,
		}, table(allOK, allOK, allOK, allPD, allUnauth)},
		{"/sparc.v1.ReferralService/GetReferralStats", call{
			// Aggregates of any organisation: suppressed unless its own.
			grpc: func(ctx context.Context, c *grpc.ClientConn, org string) error {
				_, err := rc(c).GetReferralStats(ctx, &sparcv1.GetReferralStatsRequest{OrganisationId: org})
				return err
			},
			http: func(org string) (string, string, any) {
				return "GET", "/v1/referrals:stats?organisation_id=" + org, nil
			},
			setup: orgTarget,
		}, table(allOK, allOK, allOK, allOK, allUnauth)},

		// Webhooks: the organisation's own, for the roles that may watch.
		{"/sparc.v1.WebhookService/CreateWebhook", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := wc(c).CreateWebhook(ctx, &sparcv1.CreateWebhookRequest{Webhook: &sparcv1.Webhook{Url: "https://example.org/matrix"}})
				return err
			},
			http: func(string) (string, string, any) {
				return "POST", "/v1/webhooks", map[string]any{"url": "https://example.org/matrix"}
			},
			// Room for one more in A (the callers' organisation).
			setup: func(t *testing.T, f *fixture, _ string) string { f.freeWebhooks(t, "own"); return "" },
		}, table(allOK, allOK, allOK, allPD, allUnauth)},
		{"/sparc.v1.WebhookService/GetWebhook", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := wc(c).GetWebhook(ctx, &sparcv1.GetWebhookRequest{Id: id})
				return err
			},
			http:  func(id string) (string, string, any) { return "GET", "/v1/webhooks/" + id, nil },
			setup: webhookTarget,
		}, table(writeOwned, writeOwned, writeOwned, allNF, allUnauth)},
		{"/sparc.v1.WebhookService/ListWebhooks", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := wc(c).ListWebhooks(ctx, &sparcv1.ListWebhooksRequest{})
				return err
			},
			http:  func(string) (string, string, any) { return "GET", "/v1/webhooks", nil },
			setup: noTarget,
		}, table(allOK, allOK, allOK, allPD, allUnauth)},
		{"/sparc.v1.WebhookService/DeleteWebhook", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := wc(c).DeleteWebhook(ctx, &sparcv1.DeleteWebhookRequest{Id: id})
				return err
			},
			http:  func(id string) (string, string, any) { return "DELETE", "/v1/webhooks/" + id, nil },
			setup: webhookTarget,
		}, table(writeOwned, writeOwned, writeOwned, allNF, allUnauth)},
		{"/sparc.v1.AreaService/ImportAreas", call{
			// Loading official boundaries is the admin's job; re-importing
			// the same code updates it, so every cell can succeed.
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				s, err := sparcv1.NewAreaServiceClient(c).ImportAreas(ctx)
				if err != nil {
					return err
				}
				_ = s.Send(&sparcv1.ImportAreasRequest{Part: &sparcv1.ImportAreasRequest_Header{Header: &sparcv1.ImportAreasHeader{Kind: "lsoa"}}})
				_ = s.Send(&sparcv1.ImportAreasRequest{Part: &sparcv1.ImportAreasRequest_Batch{Batch: &sparcv1.AreaFeatureBatch{
					Features: []*sparcv1.AreaFeature{{FeatureNumber: 1, Code: "E01999999", Name: "Matrix", GeometryGeojson: matrixSquare}}}}})
				_, err = s.CloseAndRecv()
				return err
			},
			http: func(string) (string, string, any) {
				feature, _ := json.Marshal(map[string]any{"batch": map[string]any{"features": []any{map[string]any{
					"feature_number": 1, "code": "E01999999", "name": "Matrix", "geometry_geojson": matrixSquare}}}})
				return "POST", "/v1/areas:import", ndjson(`{"header":{"kind":"lsoa"}}` + "\n" + string(feature) + "\n")
			},
			setup: noTarget,
		}, table(allOK, allPD, allPD, allPD, allUnauth)},
		{"/sparc.v1.AreaService/ImportAreaAttributes", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				s, err := sparcv1.NewAreaServiceClient(c).ImportAreaAttributes(ctx)
				if err != nil {
					return err
				}
				_ = s.Send(&sparcv1.ImportAreaAttributesRequest{Part: &sparcv1.ImportAreaAttributesRequest_Header{
					Header: &sparcv1.ImportAttributesHeader{SkipUnknownCodes: true}}})
				_ = s.Send(&sparcv1.ImportAreaAttributesRequest{Part: &sparcv1.ImportAreaAttributesRequest_Batch{Batch: &sparcv1.AttributeRowBatch{
					Rows: []*sparcv1.AttributeRow{{LineNumber: 2, Code: "E01999998", Values: map[string]float64{"imd_decile": 3}}}}}})
				_, err = s.CloseAndRecv()
				return err
			},
			http: func(string) (string, string, any) {
				return "POST", "/v1/areas:importAttributes", ndjson(`{"header":{"skip_unknown_codes":true}}` + "\n" +
					`{"batch":{"rows":[{"line_number":2,"code":"E01999998","values":{"imd_decile":3}}]}}` + "\n")
			},
			setup: noTarget,
		}, table(allOK, allPD, allPD, allPD, allUnauth)},
		{"/sparc.v1.AreaService/SetDeprivationMeasure", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := sparcv1.NewAreaServiceClient(c).SetDeprivationMeasure(ctx, &sparcv1.SetDeprivationMeasureRequest{
					Kind: "lsoa", Attribute: "imd_decile", Scale: sparcv1.DeprivationScale_DEPRIVATION_SCALE_DECILE})
				return err
			},
			http: func(string) (string, string, any) {
				return "PUT", "/v1/areaKinds/lsoa/deprivationMeasure", map[string]any{"attribute": "imd_decile", "scale": "DEPRIVATION_SCALE_DECILE"}
			},
			setup: noTarget,
		}, table(allOK, allPD, allPD, allPD, allUnauth)},
	}
}

// ndjson is a request body of newline-delimited JSON messages, how the
// HTTP gateway takes a client stream.
type ndjson string

const matrixSquare = `{"type":"Polygon","coordinates":[[[-1.9,52.48],[-1.89,52.48],[-1.89,52.49],[-1.9,52.49],[-1.9,52.48]]]}`

var httpStatus = map[codes.Code]int{ok: 200, nf: 404, pd: 403, unaut: 401, inval: 400}

func TestAuthorisationMatrix(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	f := &fixture{env: env, orgA: env.NewOrg(t, "Organisation A", "community_group"), orgB: env.NewOrg(t, "Organisation B", "community_group"),
		referralAssets: map[string]string{}}
	f.lw = map[string]*grpc.ClientConn{"own": env.ConnWithKey(t, env.Key(t, f.orgA, auth.RoleLinkWorker)),
		"other": env.ConnWithKey(t, env.Key(t, f.orgB, auth.RoleLinkWorker))}
	keys := map[string]string{"none": "", "malformed": "Bearer sparc_nothing_like_a_key"}
	for _, role := range []string{auth.RoleAdmin, auth.RoleLinkWorker, auth.RoleGroupEditor, auth.RoleAreaAnalyst} {
		keys[role] = "Bearer " + env.Key(t, f.orgA, role)
	}
	revoked := env.Key(t, f.orgA, auth.RoleAdmin)
	keys["revoked"] = "Bearer " + revoked
	if _, err := env.Pool.Exec(context.Background(), `UPDATE api_keys SET revoked_at = now() WHERE prefix = $1`, revoked[:14]); err != nil {
		t.Fatal(err)
	}
	conns := map[string]*grpc.ClientConn{}
	for caller, k := range keys {
		conns[caller] = env.ConnWithKey(t, rawKey(k))
	}

	for _, r := range matrix() {
		for _, caller := range callers {
			for i, target := range targets {
				want := r.want[caller][i]
				t.Run(fmt.Sprintf("%s/%s/%s/grpc", r.method, caller, target), func(t *testing.T) {
					id := r.call.setup(t, f, target)
					err := r.call.grpc(context.Background(), conns[caller], id)
					if got := status.Code(err); got != want {
						t.Errorf("got %v (%v), want %v", got, err, want)
					}
				})
				t.Run(fmt.Sprintf("%s/%s/%s/http", r.method, caller, target), func(t *testing.T) {
					id := r.call.setup(t, f, target)
					method, path, body := r.call.http(id)
					var rd io.Reader
					switch b := body.(type) {
					case nil:
					case ndjson: // a client stream: one JSON message per line
						rd = strings.NewReader(string(b))
					default:
						js, _ := json.Marshal(b)
						rd = bytes.NewReader(js)
					}
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					req, _ := http.NewRequestWithContext(ctx, method, env.HTTPBase+path, rd)
					if keys[caller] != "" {
						req.Header.Set("Authorization", keys[caller])
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					var b []byte
					if r.call.stream {
						b, _ = bufio.NewReader(resp.Body).ReadBytes('\n')
					} else {
						b, _ = io.ReadAll(resp.Body)
					}
					resp.Body.Close()
					if resp.StatusCode != httpStatus[want] {
						t.Errorf("HTTP %d (%s), want %d", resp.StatusCode, b, httpStatus[want])
					}
				})
			}
		}
	}
}

// rawKey strips "Bearer " for the gRPC credentials helper; the malformed
// key is sent as is.
func rawKey(header string) string {
	if len(header) > 7 {
		return header[7:]
	}
	return ""
}

func TestEveryPolicyMethodIsInTheMatrix(t *testing.T) {
	inMatrix := map[string]bool{}
	for _, r := range matrix() {
		inMatrix[r.method] = true
	}
	for m, rule := range auth.Policy {
		if rule.Public && len(rule.Roles) == 0 {
			continue // health and reflection: infrastructure, open to all
		}
		if !inMatrix[m] {
			t.Errorf("%s is in auth.Policy but has no row in the authorisation matrix", m)
		}
	}
}

// Forbidden and missing must be indistinguishable: same code, same message
// shape, for a resource that exists but belongs to someone else.
func TestForbiddenLooksLikeNotFound(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	orgA, orgB := env.NewOrg(t, "A", "community_group"), env.NewOrg(t, "B", "community_group")
	theirs, err := env.Assets.CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: newAsset(orgB)})
	if err != nil {
		t.Fatal(err)
	}
	missing := uuid.NewString()
	for _, role := range []string{auth.RoleGroupEditor, auth.RoleLinkWorker} {
		c := sparcv1.NewAssetServiceClient(env.ConnWithKey(t, env.Key(t, orgA, role)))
		upd := func(id string) error {
			_, err := c.UpdateAsset(context.Background(), &sparcv1.UpdateAssetRequest{
				Asset: &sparcv1.Asset{Id: id, Name: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}}})
			return err
		}
		e1, e2 := status.Convert(upd(theirs.GetId())), status.Convert(upd(missing))
		if e1.Code() != codes.NotFound || e2.Code() != codes.NotFound {
			t.Fatalf("%s: codes %v, %v; want NotFound for both", role, e1.Code(), e2.Code())
		}
		if want := "asset " + theirs.GetId() + ": not found"; e1.Message() != want {
			t.Errorf("%s: forbidden message %q, want %q", role, e1.Message(), want)
		}
		if want := "asset " + missing + ": not found"; e2.Message() != want {
			t.Errorf("%s: missing message %q, want %q", role, e2.Message(), want)
		}
	}
}
