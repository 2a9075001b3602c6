package auth_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The authorisation matrix: every RPC × every caller × every target, over
// gRPC and over HTTP, each expected code written out, one table per
// service.
//
// Adding an RPC? Add its rule to auth.Policy AND a row here; the test
// TestEveryPolicyMethodIsInTheMatrix fails until you do (public ones,
// health and reflection included).
//
// Callers: the four organisation roles (keys of organisation A), the
// network admin (a key of its own organisation), no key, a revoked key, a
// malformed key. Targets: a resource of A ("own"), of organisation B
// ("other"), and an id that does not exist ("missing"). So the admin row's
// "other" column is A's admin against B's keys, details, assets, imports:
// an organisation's admin acts only inside its organisation (issue 12,
// finding 2). Referrals between two organisations (the provider side) are
// in TestReferralAcrossOrganisationsMatrix below.

var callers = []string{"admin", "link_worker", "group_editor", "area_analyst", "network_admin", "none", "revoked", "malformed"}
var targets = []string{"own", "other", "missing"}

const (
	ok    = codes.OK
	nf    = codes.NotFound
	pd    = codes.PermissionDenied
	unaut = codes.Unauthenticated
	inval = codes.InvalidArgument
	fp    = codes.FailedPrecondition
)

// row lists the codes for own, other, missing.
type row [3]codes.Code

// table builds a caller → row map; bad credentials always give
// UNAUTHENTICATED, even on public methods (a key, if sent, must be valid).
func table(admin, linkWorker, groupEditor, analyst, network, none row) map[string]row {
	return map[string]row{
		"admin": admin, "link_worker": linkWorker, "group_editor": groupEditor, "area_analyst": analyst,
		"network_admin": network, "none": none, "revoked": {unaut, unaut, unaut}, "malformed": {unaut, unaut, unaut},
	}
}

var (
	allOK      = row{ok, ok, ok}
	allNF      = row{nf, nf, nf}
	allPD      = row{pd, pd, pd}
	allUnauth  = row{unaut, unaut, unaut}
	readOne    = row{ok, ok, nf} // reading one public resource; the network admin on any organisation's
	writeOwned = row{ok, nf, nf} // own organisation's only: another's looks missing
	// public: open data, to anyone with a valid key or none.
	public     = table(readOne, readOne, readOne, readOne, readOne, readOne)
	publicList = table(allOK, allOK, allOK, allOK, allOK, allOK)
)

// fixture is the world a matrix cell runs in.
type fixture struct {
	env        *testenv.Env
	orgA, orgB string
	// Link-worker connections of A ("own") and B ("other"), and an asset
	// of each taking referrals, to make people and referrals.
	lw             map[string]*grpc.ClientConn
	referralAssets map[string]string
	// Asset clients acting as the admin of A ("own") and B ("other").
	assets map[string]sparcv1.AssetServiceClient
	area   string // code of an imported area
}

// person creates a person held by the target's organisation.
func (f *fixture) person(t *testing.T, target string) string {
	t.Helper()
	if target == "missing" {
		return "people/" + uuid.NewString()
	}
	p, err := sparcv1.NewPersonServiceClient(f.lw[target]).CreatePerson(context.Background(),
		&sparcv1.CreatePersonRequest{Person: &sparcv1.Person{DisplayName: "M. X."}})
	if err != nil {
		t.Fatalf("creating fixture person: %v", err)
	}
	return p.GetName()
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
	created, err := f.assets[target].CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: a})
	if err != nil {
		t.Fatalf("creating fixture asset: %v", err)
	}
	f.referralAssets[target] = created.GetName()
	return created.GetName()
}

// referral creates a referral made by the target's organisation to its
// own asset, so A's link workers see it as referrer and A's group editors
// as provider. Referrals between organisations: TestReferralAcrossOrganisationsMatrix.
func (f *fixture) referral(t *testing.T, target string) string {
	t.Helper()
	if target == "missing" {
		return "referrals/" + uuid.NewString()
	}
	r, err := sparcv1.NewReferralServiceClient(f.lw[target]).CreateReferral(context.Background(), &sparcv1.CreateReferralRequest{
		RequestId: uuid.NewString(), Person: f.person(t, target), Asset: f.referralAsset(t, target)})
	if err != nil {
		t.Fatalf("creating fixture referral: %v", err)
	}
	return r.GetName()
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
	return strings.TrimPrefix(resp.GetWebhook().GetName(), "webhooks/") // the id, as the URL holds it
}

// freeWebhooks deletes the target organisation's webhooks.
func (f *fixture) freeWebhooks(t *testing.T, target string) {
	t.Helper()
	if _, err := f.env.Pool.Exec(context.Background(), `UPDATE webhooks SET deleted_at = now()
		WHERE organisation_id = $1 AND deleted_at IS NULL`, f.org(target)); err != nil {
		t.Fatalf("deleting fixture webhooks: %v", err)
	}
}

// asset creates a fresh asset owned by the target's organisation.
func (f *fixture) asset(t *testing.T, target string) string {
	t.Helper()
	if target == "missing" {
		return uuid.NewString()
	}
	a, err := f.assets[target].CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: newAsset(f.org(target))})
	if err != nil {
		t.Fatalf("creating fixture asset: %v", err)
	}
	return strings.TrimPrefix(a.GetName(), "assets/")
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

// apiKey issues a key of the target's organisation (as the network admin)
// and returns its id.
func (f *fixture) apiKey(t *testing.T, target string) string {
	t.Helper()
	if target == "missing" {
		return uuid.NewString()
	}
	resp, err := sparcv1.NewApiKeyServiceClient(f.env.Network(t)).CreateApiKey(context.Background(),
		&sparcv1.CreateApiKeyRequest{Organisation: "organisations/" + f.org(target), Role: sparcv1.Role_ROLE_LINK_WORKER})
	if err != nil {
		t.Fatalf("creating fixture key: %v", err)
	}
	return strings.TrimPrefix(resp.GetApiKey().GetName(), "apiKeys/")
}

// areaCode returns the code of an area that exists (areas are shared by
// every organisation, so own and other are the same) or one that does not.
func (f *fixture) areaCode(t *testing.T, target string) string {
	t.Helper()
	if target == "missing" {
		return "E01999990"
	}
	if f.area == "" {
		if err := importArea(context.Background(), f.env.Network(t), "E01999991"); err != nil {
			t.Fatalf("importing fixture area: %v", err)
		}
		f.area = "E01999991"
	}
	return f.area
}

// postcodeRow: any caller reads a postcode; one of an unknown district is
// INVALID_ARGUMENT.
var postcodeRow = row{ok, ok, inval}

// postcode loads one postcode (an owner's fixture, as `sparc postcodes
// import` writes) and returns its code; "missing" is of no known district.
func (f *fixture) postcode(t *testing.T, target string) string {
	t.Helper()
	if target == "missing" {
		return "ZE11AA"
	}
	if _, err := f.env.Pool.Exec(context.Background(), `INSERT INTO postcodes (country, postcode, sector, district, location, source)
		VALUES ('GB', 'B1 1BB', 'B1 1', 'B1', 'POINT(-1.903188 52.480579)', 'codepoint-open') ON CONFLICT DO NOTHING`); err != nil {
		t.Fatalf("loading fixture postcode: %v", err)
	}
	return "B11BB"
}

func importArea(ctx context.Context, c *grpc.ClientConn, code string) error {
	s, err := sparcv1.NewAreaServiceClient(c).ImportAreas(ctx)
	if err != nil {
		return err
	}
	_ = s.Send(&sparcv1.ImportAreasRequest{Part: &sparcv1.ImportAreasRequest_Header{Header: &sparcv1.ImportAreasHeader{Kind: "lsoa"}}})
	_ = s.Send(&sparcv1.ImportAreasRequest{Part: &sparcv1.ImportAreasRequest_Batch{Batch: &sparcv1.AreaFeatureBatch{
		Features: []*sparcv1.AreaFeature{{FeatureNumber: 1, Code: code, DisplayName: "Matrix", GeometryGeojson: matrixSquare}}}}})
	_, err = s.CloseAndRecv()
	return err
}

func newAsset(owner string) *sparcv1.Asset {
	return &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "Matrix walking group",
		Location:          &sparcv1.Location{Latitude: 52.48, Longitude: -1.89, Country: "GB"},
		OwnerOrganisation: aip.NameOf(aip.Organisations, owner),
	}
}

// call is one RPC made over gRPC or HTTP against target.
type call struct {
	// grpc is nil for plain HTTP routes, which have no gRPC side.
	grpc func(ctx context.Context, conn *grpc.ClientConn, id string) error
	// http returns method, path and JSON body (nil for none); nil for
	// gRPC-only services (health, reflection), which have no HTTP route.
	http func(id string) (string, string, any)
	// httpResult, when set, reads the code from a 200 response's body
	// (a batch call reports refusals per record).
	httpResult func(body []byte) codes.Code
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

var (
	assetTarget = func(t *testing.T, f *fixture, target string) string { return f.asset(t, target) }
	orgTarget   = func(_ *testing.T, f *fixture, target string) string { return f.org(target) }
	noTarget    = func(*testing.T, *fixture, string) string { return "" }
)

// matrix is every service's table.
func matrix() []matrixRow {
	var all []matrixRow
	for _, rows := range [][]matrixRow{assetRows(), importRows(), organisationRows(), apiKeyRows(), auditRows(),
		areaRows(), coverageRows(), analyticsRows(), personRows(), referralRows(), webhookRows(), notificationRows(), infrastructureRows(), plainRows()} {
		all = append(all, rows...)
	}
	return all
}

func ac(c *grpc.ClientConn) sparcv1.AssetServiceClient { return sparcv1.NewAssetServiceClient(c) }

// AssetService: open data to read; the owner organisation's editors and
// admin to write, nobody else's (not the network admin's).
func assetRows() []matrixRow {
	return []matrixRow{
		{"/sparc.v1.AssetService/GetAsset", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := ac(c).GetAsset(ctx, &sparcv1.GetAssetRequest{Name: "assets/" + id})
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
				return "POST", "/v1/assets", map[string]any{"kind": "ASSET_KIND_ASSOCIATION", "display_name": "Matrix choir",
					"location": map[string]any{"latitude": 52.48, "longitude": -1.89, "country": "GB"}, "owner_organisation": "organisations/" + org}
			},
			setup: orgTarget,
		}, table(writeOwned, allPD, writeOwned, allPD, allPD, allUnauth)},
		{"/sparc.v1.AssetService/UpdateAsset", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := ac(c).UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{
					Asset:      &sparcv1.Asset{Name: "assets/" + id, DisplayName: "Renamed"},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}},
				})
				return err
			},
			http: func(id string) (string, string, any) {
				return "PATCH", "/v1/assets/" + id + "?update_mask=display_name", map[string]any{"display_name": "Renamed"}
			},
			setup: assetTarget,
		}, table(writeOwned, allNF, writeOwned, allNF, allNF, allUnauth)},
		{"/sparc.v1.AssetService/DeleteAsset", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := ac(c).DeleteAsset(ctx, &sparcv1.DeleteAssetRequest{Name: "assets/" + id})
				return err
			},
			http:  func(id string) (string, string, any) { return "DELETE", "/v1/assets/" + id, nil },
			setup: assetTarget,
		}, table(writeOwned, allNF, writeOwned, allNF, allNF, allUnauth)},
	}
}

// DirectoryImportService: an organisation's admin imports assets of its
// own organisation; a record owned by another is refused as if that
// organisation did not exist.
func importRows() []matrixRow {
	return []matrixRow{
		{"/sparc.v1.DirectoryImportService/UpsertSourcedAssets", call{
			// The target is the owner organisation of the imported record.
			grpc: func(ctx context.Context, c *grpc.ClientConn, org string) error {
				resp, err := sparcv1.NewDirectoryImportServiceClient(c).UpsertSourcedAssets(ctx, &sparcv1.UpsertSourcedAssetsRequest{
					Source: "matrix", Records: []*sparcv1.SourcedAsset{{AssetName: "assets/" + uuid.NewString(), SourceId: uuid.NewString(), Asset: newAsset(org)}}})
				if err != nil {
					return err
				}
				if r := resp.GetResults()[0]; r.GetOutcome() != sparcv1.UpsertOutcome_UPSERT_OUTCOME_CREATED {
					return status.Error(recordCode(r.GetError()), r.GetError())
				}
				return nil
			},
			http: func(org string) (string, string, any) {
				return "POST", "/v1/assets:upsertSourced", map[string]any{"source": "matrix", "records": []any{map[string]any{
					"asset_name": "assets/" + uuid.NewString(), "source_id": uuid.NewString(), "asset": map[string]any{
						"kind": "ASSET_KIND_ASSOCIATION", "display_name": "Matrix import", "owner_organisation": "organisations/" + org,
						"location": map[string]any{"latitude": 52.48, "longitude": -1.89, "country": "GB"}}}}}
			},
			httpResult: func(body []byte) codes.Code {
				var resp struct {
					Results []struct{ Outcome, Error string }
				}
				if err := json.Unmarshal(body, &resp); err != nil || len(resp.Results) != 1 {
					return codes.Unknown
				}
				if resp.Results[0].Outcome != "UPSERT_OUTCOME_CREATED" {
					return recordCode(resp.Results[0].Error)
				}
				return ok
			},
			setup: orgTarget,
		}, table(writeOwned, allPD, allPD, allPD, allPD, allUnauth)},
	}
}

// recordCode is the code a refused import record stands for.
func recordCode(msg string) codes.Code {
	if strings.HasSuffix(msg, ": not found") {
		return nf
	}
	return inval
}

func oc(c *grpc.ClientConn) sparcv1.OrganisationServiceClient {
	return sparcv1.NewOrganisationServiceClient(c)
}

// OrganisationService: public fields open; the network admin creates and
// changes any organisation; an organisation's admin changes its own.
func organisationRows() []matrixRow {
	return []matrixRow{
		{"/sparc.v1.OrganisationService/GetOrganisation", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := oc(c).GetOrganisation(ctx, &sparcv1.GetOrganisationRequest{Name: "organisations/" + id})
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
					DisplayName: "Matrix group", Kind: sparcv1.OrganisationKind_ORGANISATION_KIND_COMMUNITY_GROUP}})
				return err
			},
			http: func(string) (string, string, any) {
				return "POST", "/v1/organisations", map[string]any{"display_name": "Matrix group", "kind": "ORGANISATION_KIND_COMMUNITY_GROUP"}
			},
			setup: noTarget,
		}, table(allPD, allPD, allPD, allPD, allOK, allUnauth)},
		{"/sparc.v1.OrganisationService/UpdateOrganisation", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := oc(c).UpdateOrganisation(ctx, &sparcv1.UpdateOrganisationRequest{
					Organisation: &sparcv1.Organisation{Name: "organisations/" + id, Website: "https://example.org"},
					UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"website"}}})
				return err
			},
			http: func(id string) (string, string, any) {
				return "PATCH", "/v1/organisations/" + id + "?update_mask=website", map[string]any{"website": "https://example.org"}
			},
			setup: orgTarget,
		}, table(writeOwned, allNF, allNF, allNF, readOne, allUnauth)},
		// Who am I: every role, about itself only (contents: TestGetCallerSaysWhoCalls).
		{"/sparc.v1.OrganisationService/GetCaller", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := oc(c).GetCaller(ctx, &sparcv1.GetCallerRequest{})
				return err
			},
			http:  func(string) (string, string, any) { return "GET", "/v1/caller", nil },
			setup: noTarget,
		}, table(allOK, allOK, allOK, allOK, allOK, allUnauth)},
	}
}

func kc(c *grpc.ClientConn) sparcv1.ApiKeyServiceClient { return sparcv1.NewApiKeyServiceClient(c) }

// ApiKeyService: an organisation's admin for its own organisation's keys,
// the network admin for any organisation's.
func apiKeyRows() []matrixRow {
	return []matrixRow{
		{"/sparc.v1.ApiKeyService/CreateApiKey", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, org string) error {
				_, err := kc(c).CreateApiKey(ctx, &sparcv1.CreateApiKeyRequest{Organisation: "organisations/" + org, Role: sparcv1.Role_ROLE_AREA_ANALYST})
				return err
			},
			http: func(org string) (string, string, any) {
				return "POST", "/v1/apiKeys", map[string]any{"organisation": "organisations/" + org, "role": "ROLE_AREA_ANALYST"}
			},
			setup: orgTarget,
		}, table(writeOwned, allPD, allPD, allPD, readOne, allUnauth)},
		{"/sparc.v1.ApiKeyService/ListApiKeys", call{
			// Another organisation's keys list empty (TestAdminOfOneOrganisationCannotRuleAnother).
			grpc: func(ctx context.Context, c *grpc.ClientConn, org string) error {
				_, err := kc(c).ListApiKeys(ctx, &sparcv1.ListApiKeysRequest{Organisation: "organisations/" + org})
				return err
			},
			http: func(org string) (string, string, any) {
				return "GET", "/v1/apiKeys?organisation=organisations/" + org, nil
			},
			setup: orgTarget,
		}, table(allOK, allPD, allPD, allPD, allOK, allUnauth)},
		{"/sparc.v1.ApiKeyService/RevokeApiKey", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := kc(c).RevokeApiKey(ctx, &sparcv1.RevokeApiKeyRequest{Name: "apiKeys/" + id})
				return err
			},
			http: func(id string) (string, string, any) {
				return "POST", "/v1/apiKeys/" + id + ":revoke", map[string]any{}
			},
			setup: func(t *testing.T, f *fixture, target string) string { return f.apiKey(t, target) },
		}, table(writeOwned, allNF, allNF, allNF, readOne, allUnauth)},
	}
}

// AuditService: an organisation's admin reads its own organisation's
// events (contents: TestAdminOfOneOrganisationCannotRuleAnother), the
// network admin all.
func auditRows() []matrixRow {
	return []matrixRow{
		{"/sparc.v1.AuditService/ListAuditEvents", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := sparcv1.NewAuditServiceClient(c).ListAuditEvents(ctx, &sparcv1.ListAuditEventsRequest{})
				return err
			},
			http:  func(string) (string, string, any) { return "GET", "/v1/auditEvents", nil },
			setup: noTarget,
		}, table(allOK, allPD, allPD, allPD, allOK, allUnauth)},
	}
}

// AreaService: official geographies are open data; loading them changes
// what every organisation sees, so only the network admin does.
func areaRows() []matrixRow {
	return []matrixRow{
		{"/sparc.v1.AreaService/GetArea", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, code string) error {
				_, err := sparcv1.NewAreaServiceClient(c).GetArea(ctx, &sparcv1.GetAreaRequest{Name: "areas/" + code})
				return err
			},
			http:  func(code string) (string, string, any) { return "GET", "/v1/areas/" + code, nil },
			setup: func(t *testing.T, f *fixture, target string) string { return f.areaCode(t, target) },
		}, public},
		{"/sparc.v1.AreaService/ListAreas", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := sparcv1.NewAreaServiceClient(c).ListAreas(ctx, &sparcv1.ListAreasRequest{Kind: "lsoa"})
				return err
			},
			http:  func(string) (string, string, any) { return "GET", "/v1/areas?kind=lsoa", nil },
			setup: noTarget,
		}, publicList},
		{"/sparc.v1.PostcodeService/GetPostcode", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, code string) error {
				_, err := sparcv1.NewPostcodeServiceClient(c).GetPostcode(ctx, &sparcv1.GetPostcodeRequest{Name: "postcodes/" + code})
				return err
			},
			http:  func(code string) (string, string, any) { return "GET", "/v1/postcodes/" + code, nil },
			setup: func(t *testing.T, f *fixture, target string) string { return f.postcode(t, target) },
			// Open data; a postcode of no known district is a bad argument, not a missing resource.
		}, table(postcodeRow, postcodeRow, postcodeRow, postcodeRow, postcodeRow, postcodeRow)},
		{"/sparc.v1.AreaService/ImportAreas", call{
			// Re-importing the same code updates it, so every cell can succeed.
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error { return importArea(ctx, c, "E01999999") },
			http: func(string) (string, string, any) {
				feature, _ := json.Marshal(map[string]any{"batch": map[string]any{"features": []any{map[string]any{
					"feature_number": 1, "code": "E01999999", "display_name": "Matrix", "geometry_geojson": matrixSquare}}}})
				return "POST", "/v1/areas:import", ndjson(`{"header":{"kind":"lsoa"}}` + "\n" + string(feature) + "\n")
			},
			setup: noTarget,
		}, table(allPD, allPD, allPD, allPD, allOK, allUnauth)},
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
		}, table(allPD, allPD, allPD, allPD, allOK, allUnauth)},
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
		}, table(allPD, allPD, allPD, allPD, allOK, allUnauth)},
	}
}

// AnalyticsService: computed from every organisation's referrals,
// released under the disclosure rule with anonymous codes: admins and
// area analysts only (not link workers, group editors or the network
// admin).
func analyticsRows() []matrixRow {
	return []matrixRow{
		{"/sparc.v1.AnalyticsService/GetReferralNetwork", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := sparcv1.NewAnalyticsServiceClient(c).GetReferralNetwork(ctx, &sparcv1.GetReferralNetworkRequest{})
				return err
			},
			http:  func(string) (string, string, any) { return "GET", "/v1/referralNetwork", nil },
			setup: noTarget,
		}, table(allOK, allPD, allPD, allOK, allPD, allUnauth)},
		{"/sparc.v1.AnalyticsService/GetOutcomeEvidence", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := sparcv1.NewAnalyticsServiceClient(c).GetOutcomeEvidence(ctx, &sparcv1.GetOutcomeEvidenceRequest{})
				return err
			},
			http:  func(string) (string, string, any) { return "GET", "/v1/outcomeEvidence", nil },
			setup: noTarget,
		}, table(allOK, allPD, allPD, allOK, allPD, allUnauth)},
	}
}

// CoverageService: computed from open data, public.
func coverageRows() []matrixRow {
	return []matrixRow{
		{"/sparc.v1.CoverageService/ComputeCoverage", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := sparcv1.NewCoverageServiceClient(c).ComputeCoverage(ctx, &sparcv1.ComputeCoverageRequest{Kind: "lsoa"})
				return err
			},
			http:  func(string) (string, string, any) { return "GET", "/v1/coverage?kind=lsoa", nil },
			setup: func(t *testing.T, f *fixture, _ string) string { return f.areaCode(t, "own") },
		}, publicList},
		{"/sparc.v1.CoverageService/ComputeDemand", call{
			// Demand by home area, for any organisation (or all): exact
			// for its own admin, released under the disclosure rule
			// otherwise; never to link workers, group editors or the
			// network admin.
			grpc: func(ctx context.Context, c *grpc.ClientConn, org string) error {
				_, err := sparcv1.NewCoverageServiceClient(c).ComputeDemand(ctx,
					&sparcv1.ComputeDemandRequest{Kind: "lsoa", Organisation: "organisations/" + org})
				return err
			},
			http: func(org string) (string, string, any) {
				return "GET", "/v1/coverage:computeDemand?kind=lsoa&organisation=organisations/" + org, nil
			},
			setup: func(t *testing.T, f *fixture, target string) string { f.areaCode(t, "own"); return f.org(target) },
		}, table(allOK, allPD, allPD, allOK, allPD, allUnauth)},
		{"/sparc.v1.CoverageService/GetCoverageSettings", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := sparcv1.NewCoverageServiceClient(c).GetCoverageSettings(ctx, &sparcv1.GetCoverageSettingsRequest{Name: "coverageSettings"})
				return err
			},
			http:  func(string) (string, string, any) { return "GET", "/v1/coverageSettings", nil },
			setup: noTarget,
		}, publicList},
		// The walking distance changes what every organisation sees: the
		// network admin's, as area imports are.
		{"/sparc.v1.CoverageService/UpdateCoverageSettings", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := sparcv1.NewCoverageServiceClient(c).UpdateCoverageSettings(ctx, &sparcv1.UpdateCoverageSettingsRequest{
					Settings: &sparcv1.CoverageSettings{Name: "coverageSettings", WalkingDistanceMeters: 800}})
				return err
			},
			http: func(string) (string, string, any) {
				return "PATCH", "/v1/coverageSettings", map[string]any{"walking_distance_meters": 800}
			},
			setup: noTarget,
		}, table(allPD, allPD, allPD, allPD, allOK, allUnauth)},
	}
}

func pc(c *grpc.ClientConn) sparcv1.PersonServiceClient { return sparcv1.NewPersonServiceClient(c) }

// PersonService: only link workers (and the admin) of the holding
// organisation; never the network admin.
func personRows() []matrixRow {
	personTarget := func(t *testing.T, f *fixture, target string) string { return f.person(t, target) }
	return []matrixRow{
		{"/sparc.v1.PersonService/CreatePerson", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := pc(c).CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{DisplayName: "M. X."}})
				return err
			},
			http: func(string) (string, string, any) {
				return "POST", "/v1/people", map[string]any{"display_name": "M. X."}
			},
			setup: noTarget,
		}, table(allOK, allOK, allPD, allPD, allPD, allUnauth)},
		{"/sparc.v1.PersonService/GetPerson", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := pc(c).GetPerson(ctx, &sparcv1.GetPersonRequest{Name: id})
				return err
			},
			http:  func(id string) (string, string, any) { return "GET", "/v1/" + id, nil },
			setup: personTarget,
		}, table(writeOwned, writeOwned, allNF, allNF, allNF, allUnauth)},
		{"/sparc.v1.PersonService/UpdatePerson", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := pc(c).UpdatePerson(ctx, &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: id, WhatMatters: "Music"},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"what_matters"}}})
				return err
			},
			http: func(id string) (string, string, any) {
				return "PATCH", "/v1/" + id + "?update_mask=what_matters", map[string]any{"what_matters": "Music"}
			},
			setup: personTarget,
		}, table(writeOwned, writeOwned, allNF, allNF, allNF, allUnauth)},
		// Lists and searches answer inside the caller's organisation only
		// (people's own tests show what they return across organisations).
		{"/sparc.v1.PersonService/ListPeople", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := pc(c).ListPeople(ctx, &sparcv1.ListPeopleRequest{})
				return err
			},
			http:  func(string) (string, string, any) { return "GET", "/v1/people", nil },
			setup: noTarget,
		}, table(allOK, allOK, allPD, allPD, allPD, allUnauth)},
		{"/sparc.v1.PersonService/SearchPeople", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := pc(c).SearchPeople(ctx, &sparcv1.SearchPeopleRequest{DisplayNamePrefix: "M."})
				return err
			},
			http:  func(string) (string, string, any) { return "GET", "/v1/people:search?display_name_prefix=M.", nil },
			setup: noTarget,
		}, table(allOK, allOK, allPD, allPD, allPD, allUnauth)},
	}
}

func rc(c *grpc.ClientConn) sparcv1.ReferralServiceClient { return sparcv1.NewReferralServiceClient(c) }

// ReferralService: made by link workers; read and moved by either party;
// never by the network admin.
func referralRows() []matrixRow {
	referralTarget := func(t *testing.T, f *fixture, target string) string { return f.referral(t, target) }
	// A referral request: a person of the target's organisation and an
	// asset of it ("person asset").
	referTarget := func(t *testing.T, f *fixture, target string) string {
		return f.person(t, target) + " " + f.referralAsset(t, target)
	}
	// Party to a referral: the organisation that made it or received it.
	party := table(writeOwned, writeOwned, writeOwned, allNF, allNF, allUnauth)
	return []matrixRow{
		{"/sparc.v1.ReferralService/CreateReferral", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, ids string) error {
				person, asset, _ := strings.Cut(ids, " ")
				_, err := rc(c).CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: uuid.NewString(), Person: person, Asset: asset})
				return err
			},
			http: func(ids string) (string, string, any) {
				person, asset, _ := strings.Cut(ids, " ")
				return "POST", "/v1/referrals", map[string]any{"request_id": uuid.NewString(), "person": person, "asset": asset}
			},
			setup: referTarget,
		}, table(writeOwned, writeOwned, allPD, allPD, allPD, allUnauth)},
		{"/sparc.v1.ReferralService/GetReferral", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := rc(c).GetReferral(ctx, &sparcv1.GetReferralRequest{Name: id})
				return err
			},
			http:  func(id string) (string, string, any) { return "GET", "/v1/" + id, nil },
			setup: referralTarget,
		}, party},
		{"/sparc.v1.ReferralService/ListReferrals", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := rc(c).ListReferrals(ctx, &sparcv1.ListReferralsRequest{})
				return err
			},
			http:  func(string) (string, string, any) { return "GET", "/v1/referrals", nil },
			setup: noTarget,
		}, table(allOK, allOK, allOK, allPD, allPD, allUnauth)},
		{"/sparc.v1.ReferralService/TransitionReferral", call{
			// Cancelling: either party may, from requested.
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := rc(c).TransitionReferral(ctx, &sparcv1.TransitionReferralRequest{Name: id,
					ToStatus: sparcv1.ReferralStatus_REFERRAL_STATUS_CANCELLED, Reason: "duplicate"})
				return err
			},
			http: func(id string) (string, string, any) {
				return "POST", "/v1/" + id + ":transition", map[string]any{"to_status": "REFERRAL_STATUS_CANCELLED", "reason": "duplicate"}
			},
			setup: referralTarget,
		}, party},
		{"/sparc.v1.ReferralService/RecordOutcome", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				n := int32(1)
				_, err := rc(c).RecordOutcome(ctx, &sparcv1.RecordOutcomeRequest{Name: id, SessionsAttended: &n})
				return err
			},
			http: func(id string) (string, string, any) {
				return "POST", "/v1/" + id + ":recordOutcome", map[string]any{"sessions_attended": 1}
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
		}, table(allOK, allOK, allOK, allPD, allPD, allUnauth)},
		{"/sparc.v1.ReferralService/ComputeReferralStats", call{
			// Aggregates of any organisation: suppressed unless its own.
			grpc: func(ctx context.Context, c *grpc.ClientConn, org string) error {
				_, err := rc(c).ComputeReferralStats(ctx, &sparcv1.ComputeReferralStatsRequest{Organisation: "organisations/" + org})
				return err
			},
			http: func(org string) (string, string, any) {
				return "GET", "/v1/referrals:computeStats?organisation=organisations/" + org, nil
			},
			setup: orgTarget,
		}, table(allOK, allOK, allOK, allOK, allPD, allUnauth)},
	}
}

func wc(c *grpc.ClientConn) sparcv1.WebhookServiceClient { return sparcv1.NewWebhookServiceClient(c) }

// WebhookService: the organisation's own, for the roles that may watch.
func webhookRows() []matrixRow {
	webhookTarget := func(t *testing.T, f *fixture, target string) string { return f.webhook(t, target) }
	return []matrixRow{
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
		}, table(allOK, allOK, allOK, allPD, allPD, allUnauth)},
		{"/sparc.v1.WebhookService/GetWebhook", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := wc(c).GetWebhook(ctx, &sparcv1.GetWebhookRequest{Name: "webhooks/" + id})
				return err
			},
			http:  func(id string) (string, string, any) { return "GET", "/v1/webhooks/" + id, nil },
			setup: webhookTarget,
		}, table(writeOwned, writeOwned, writeOwned, allNF, allNF, allUnauth)},
		{"/sparc.v1.WebhookService/ListWebhooks", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := wc(c).ListWebhooks(ctx, &sparcv1.ListWebhooksRequest{})
				return err
			},
			http:  func(string) (string, string, any) { return "GET", "/v1/webhooks", nil },
			setup: noTarget,
		}, table(allOK, allOK, allOK, allPD, allPD, allUnauth)},
		{"/sparc.v1.WebhookService/DeleteWebhook", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, id string) error {
				_, err := wc(c).DeleteWebhook(ctx, &sparcv1.DeleteWebhookRequest{Name: "webhooks/" + id})
				return err
			},
			http:  func(id string) (string, string, any) { return "DELETE", "/v1/webhooks/" + id, nil },
			setup: webhookTarget,
		}, table(writeOwned, writeOwned, writeOwned, allNF, allNF, allUnauth)},
	}
}

// Health and reflection: infrastructure, open to every caller without a
// key; a key, if sent, must still be valid. gRPC only (the HTTP side has
// /healthz and /readyz outside the gateway).
func infrastructureRows() []matrixRow {
	open := publicList
	reflect := func(ctx context.Context, c *grpc.ClientConn, v1 bool) error {
		if v1 {
			s, err := reflectionv1.NewServerReflectionClient(c).ServerReflectionInfo(ctx)
			if err != nil {
				return err
			}
			if err := s.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}}); err != nil && !errors.Is(err, io.EOF) {
				return err
			} // io.EOF: the server already ended the stream; Recv gives its status
			_, err = s.Recv()
			return err
		}
		s, err := reflectionv1alpha.NewServerReflectionClient(c).ServerReflectionInfo(ctx)
		if err != nil {
			return err
		}
		//lint:ignore SA1019 the server still offers v1alpha reflection (older grpcurl), so the matrix covers it
		if err := s.Send(&reflectionv1alpha.ServerReflectionRequest{MessageRequest: &reflectionv1alpha.ServerReflectionRequest_ListServices{}}); err != nil && !errors.Is(err, io.EOF) {
			return err
		} // io.EOF: the server already ended the stream; Recv gives its status
		_, err = s.Recv()
		return err
	}
	return []matrixRow{
		{"/grpc.health.v1.Health/Check", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := healthpb.NewHealthClient(c).Check(ctx, &healthpb.HealthCheckRequest{})
				return err
			},
			setup: noTarget,
		}, open},
		{"/grpc.health.v1.Health/List", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				_, err := healthpb.NewHealthClient(c).List(ctx, &healthpb.HealthListRequest{})
				return err
			},
			setup: noTarget,
		}, open},
		{"/grpc.health.v1.Health/Watch", call{
			grpc: func(ctx context.Context, c *grpc.ClientConn, _ string) error {
				ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				s, err := healthpb.NewHealthClient(c).Watch(ctx, &healthpb.HealthCheckRequest{})
				if err != nil {
					return err
				}
				_, err = s.Recv()
				return err
			},
			setup: noTarget,
		}, open},
		{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", call{
			grpc:  func(ctx context.Context, c *grpc.ClientConn, _ string) error { return reflect(ctx, c, true) },
			setup: noTarget,
		}, open},
		{"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", call{
			grpc:  func(ctx context.Context, c *grpc.ClientConn, _ string) error { return reflect(ctx, c, false) },
			setup: noTarget,
		}, open},
	}
}

// ndjson is a request body of newline-delimited JSON messages, how the
// HTTP gateway takes a client stream.
type ndjson string

const matrixSquare = `{"type":"Polygon","coordinates":[[[-1.9,52.48],[-1.89,52.48],[-1.89,52.49],[-1.9,52.49],[-1.9,52.48]]]}`

var httpStatus = map[codes.Code]int{ok: 200, nf: 404, pd: 403, unaut: 401, inval: 400, fp: 400}

func TestAuthorisationMatrix(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	f := &fixture{env: env, orgA: env.NewOrg(t, "Organisation A", "community_group"), orgB: env.NewOrg(t, "Organisation B", "community_group"),
		referralAssets: map[string]string{}}
	f.lw = map[string]*grpc.ClientConn{"own": env.ConnWithKey(t, env.Key(t, f.orgA, auth.RoleLinkWorker)),
		"other": env.ConnWithKey(t, env.Key(t, f.orgB, auth.RoleLinkWorker))}
	f.assets = map[string]sparcv1.AssetServiceClient{"own": env.AssetsOf(t, f.orgA), "other": env.AssetsOf(t, f.orgB)}
	keys := map[string]string{"none": "", "malformed": "Bearer sparc_nothing_like_a_key"}
	for _, role := range []string{auth.RoleAdmin, auth.RoleLinkWorker, auth.RoleGroupEditor, auth.RoleAreaAnalyst} {
		keys[role] = "Bearer " + env.Key(t, f.orgA, role)
	}
	keys[auth.RoleNetworkAdmin] = "Bearer " + env.Key(t, env.NewOrg(t, "Network operator", "other"), auth.RoleNetworkAdmin)
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
				if r.call.grpc != nil { // plain HTTP routes have no gRPC side
					t.Run(fmt.Sprintf("%s/%s/%s/grpc", r.method, caller, target), func(t *testing.T) {
						id := r.call.setup(t, f, target)
						err := r.call.grpc(context.Background(), conns[caller], id)
						if got := status.Code(err); got != want {
							t.Errorf("got %v (%v), want %v", got, err, want)
						}
					})
				}
				if r.call.http == nil {
					continue
				}
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
					got := resp.StatusCode
					if got == http.StatusNoContent { // a preflight's success
						got = 200
					}
					if got == 200 && r.call.httpResult != nil {
						got = httpStatus[r.call.httpResult(b)]
					}
					if got != httpStatus[want] {
						t.Errorf("HTTP %d (%s), want %d", got, b, httpStatus[want])
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

// Every RPC of the policy, public and infrastructure ones included, has a
// row for every caller; and every row is a real RPC of the policy.
func TestEveryPolicyMethodIsInTheMatrix(t *testing.T) {
	inMatrix := map[string]bool{}
	for _, r := range matrix() {
		if inMatrix[r.method] {
			t.Errorf("%s has two rows in the matrix", r.method)
		}
		inMatrix[r.method] = true
		if _, ok := auth.Policy[r.method]; !ok {
			t.Errorf("matrix row %s is not in auth.Policy", r.method)
		}
		for _, c := range callers {
			if _, ok := r.want[c]; !ok {
				t.Errorf("matrix row %s has no expectation for caller %s", r.method, c)
			}
		}
	}
	for m := range auth.Policy {
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
	theirs, err := env.AssetsOf(t, orgB).CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: newAsset(orgB)})
	if err != nil {
		t.Fatal(err)
	}
	missing := "assets/" + uuid.NewString()
	for _, role := range []string{auth.RoleAdmin, auth.RoleGroupEditor, auth.RoleLinkWorker, auth.RoleNetworkAdmin} {
		c := sparcv1.NewAssetServiceClient(env.ConnWithKey(t, env.Key(t, orgA, role)))
		upd := func(id string) error {
			_, err := c.UpdateAsset(context.Background(), &sparcv1.UpdateAssetRequest{
				Asset: &sparcv1.Asset{Name: id, DisplayName: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
			return err
		}
		e1, e2 := status.Convert(upd(theirs.GetName())), status.Convert(upd(missing))
		if e1.Code() != codes.NotFound || e2.Code() != codes.NotFound {
			t.Fatalf("%s: codes %v, %v; want NotFound for both", role, e1.Code(), e2.Code())
		}
		if want := theirs.GetName() + ": not found"; e1.Message() != want {
			t.Errorf("%s: forbidden message %q, want %q", role, e1.Message(), want)
		}
		if want := missing + ": not found"; e2.Message() != want {
			t.Errorf("%s: missing message %q, want %q", role, e2.Message(), want)
		}
	}
}

// Issue 12, finding 2, as reported: with organisation B's admin key, mint a
// key for A, change or delete A's assets, revoke A's keys, change A, list
// A's keys, read A's audit events. Each now fails exactly as for something
// that does not exist, and nothing of A changes.
func TestAdminOfOneOrganisationCannotRuleAnother(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	orgA, orgB := env.NewOrg(t, "A", "link_worker_service"), env.NewOrg(t, "B", "community_group")
	adminAKey := env.Key(t, orgA, auth.RoleAdmin)
	adminA, adminB := env.ConnWithKey(t, adminAKey), env.ConnWithKey(t, env.Key(t, orgB, auth.RoleAdmin))
	assetA, err := ac(adminA).CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: newAsset(orgA)})
	if err != nil {
		t.Fatal(err)
	}
	keyA, err := kc(adminA).CreateApiKey(ctx, &sparcv1.CreateApiKeyRequest{Organisation: "organisations/" + orgA, Role: sparcv1.Role_ROLE_LINK_WORKER})
	if err != nil {
		t.Fatal(err)
	}
	notFound := func(what string, err error, msg string) {
		t.Helper()
		if st := status.Convert(err); st.Code() != codes.NotFound || st.Message() != msg {
			t.Errorf("%s: %v, want NotFound %q (as for a missing one)", what, err, msg)
		}
	}
	_, err = kc(adminB).CreateApiKey(ctx, &sparcv1.CreateApiKeyRequest{Organisation: "organisations/" + orgA, Role: sparcv1.Role_ROLE_LINK_WORKER})
	notFound("B's admin minting a key of A", err, "organisations/"+orgA+": not found")
	_, err = ac(adminB).UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{Asset: &sparcv1.Asset{Name: assetA.GetName(), DisplayName: "Hijacked"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
	notFound("B's admin renaming A's asset", err, assetA.GetName()+": not found")
	_, err = ac(adminB).DeleteAsset(ctx, &sparcv1.DeleteAssetRequest{Name: assetA.GetName()})
	notFound("B's admin deleting A's asset", err, assetA.GetName()+": not found")
	_, err = ac(adminB).CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: newAsset(orgA)})
	notFound("B's admin creating an asset of A", err, "organisations/"+orgA+": not found")
	_, err = kc(adminB).RevokeApiKey(ctx, &sparcv1.RevokeApiKeyRequest{Name: keyA.GetApiKey().GetName()})
	notFound("B's admin revoking A's key", err, keyA.GetApiKey().GetName()+": not found")
	_, err = oc(adminB).UpdateOrganisation(ctx, &sparcv1.UpdateOrganisationRequest{
		Organisation: &sparcv1.Organisation{Name: "organisations/" + orgA, Website: "https://evil.example"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"website"}}})
	notFound("B's admin changing A", err, "organisations/"+orgA+": not found")
	imp, err := sparcv1.NewDirectoryImportServiceClient(adminB).UpsertSourcedAssets(ctx, &sparcv1.UpsertSourcedAssetsRequest{Source: "feed",
		Records: []*sparcv1.SourcedAsset{{AssetName: "assets/" + uuid.NewString(), SourceId: "1", Asset: newAsset(orgA)},
			{AssetName: assetA.GetName(), SourceId: "2", Asset: newAsset(orgB)}}})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range imp.GetResults() {
		if r.GetOutcome() != sparcv1.UpsertOutcome_UPSERT_OUTCOME_REJECTED {
			t.Errorf("B's admin importing record %d (an asset of A): %v, want rejected", i, r.GetOutcome())
		}
	}
	if e := imp.GetResults()[0].GetError(); e != "organisations/"+orgA+": not found" {
		t.Errorf("import of an asset owned by A: error %q, want as for a missing organisation", e)
	}
	// A record without an owner is the importing admin's organisation's.
	unowned := newAsset("")
	imp, err = sparcv1.NewDirectoryImportServiceClient(adminB).UpsertSourcedAssets(ctx, &sparcv1.UpsertSourcedAssetsRequest{Source: "feed",
		Records: []*sparcv1.SourcedAsset{{AssetName: "assets/" + uuid.NewString(), SourceId: "3", Asset: unowned}}})
	if err != nil || imp.GetResults()[0].GetOutcome() != sparcv1.UpsertOutcome_UPSERT_OUTCOME_CREATED {
		t.Fatalf("B's admin importing an unowned record: %v, %v", imp, err)
	}
	if a, err := ac(adminB).GetAsset(ctx, &sparcv1.GetAssetRequest{Name: imp.GetResults()[0].GetAsset()}); err != nil || a.GetOwnerOrganisation() != "organisations/"+orgB {
		t.Errorf("imported unowned record owned by %q (%v), want B", a.GetOwnerOrganisation(), err)
	}

	// Listing: B's admin sees B's keys and events only, even when asking
	// for A's; A's admin sees its own.
	listKeys := func(c *grpc.ClientConn, org string) []*sparcv1.ApiKey {
		t.Helper()
		resp, err := kc(c).ListApiKeys(ctx, &sparcv1.ListApiKeysRequest{Organisation: org, IncludeRevoked: true})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetApiKeys()
	}
	if got := listKeys(adminB, "organisations/"+orgA); len(got) != 0 {
		t.Errorf("B's admin listing A's keys got %d, want none", len(got))
	}
	for _, k := range listKeys(adminB, "") {
		if k.GetOrganisation() != "organisations/"+orgB {
			t.Errorf("B's admin lists a key of %s", k.GetOrganisation())
		}
	}
	if got := listKeys(adminA, ""); len(got) != 2 {
		t.Errorf("A's admin lists %d of its keys, want 2", len(got))
	}
	events, err := sparcv1.NewAuditServiceClient(adminB).ListAuditEvents(ctx, &sparcv1.ListAuditEventsRequest{PageSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(events.GetEvents()) == 0 {
		t.Error("B's admin reads none of its own organisation's events")
	}
	for _, e := range events.GetEvents() {
		if e.GetOrganisation() != "organisations/"+orgB {
			t.Errorf("B's admin reads an event of %q: %s %s", e.GetOrganisation(), e.GetPrincipal(), e.GetMethod())
		}
	}

	// Nothing of A changed.
	got, err := ac(adminA).GetAsset(ctx, &sparcv1.GetAssetRequest{Name: assetA.GetName()})
	if err != nil || got.GetName() != assetA.GetName() {
		t.Errorf("A's asset after B's attempts: %q, %v", got.GetName(), err)
	}
	var n int
	if err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE organisation_id = $1 AND revoked_at IS NULL`, orgA).Scan(&n); err != nil || n != 2 {
		t.Errorf("A's usable keys: %d (%v), want 2", n, err)
	}
	var website string
	if err := env.Pool.QueryRow(ctx, `SELECT website FROM organisations WHERE id = $1`, orgA).Scan(&website); err != nil || website != "" {
		t.Errorf("A's website %q (%v), want unchanged", website, err)
	}
	// An organisation's admin cannot lift (or impose) a suspension on
	// itself, nor promote anyone to network admin.
	_, err = oc(adminA).UpdateOrganisation(ctx, &sparcv1.UpdateOrganisationRequest{
		Organisation: &sparcv1.Organisation{Name: "organisations/" + orgA, Status: sparcv1.OrganisationStatus_ORGANISATION_STATUS_SUSPENDED},
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"status"}}})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("A's admin changing A's status: %v, want PermissionDenied", err)
	}
	_, err = kc(adminA).CreateApiKey(ctx, &sparcv1.CreateApiKeyRequest{Organisation: "organisations/" + orgA, Role: sparcv1.Role_ROLE_NETWORK_ADMIN})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("A's admin minting a network admin key: %v, want PermissionDenied", err)
	}
	// Nor revoke the network admin's key, even one held in its organisation.
	var networkKeyID string
	if err := env.Pool.QueryRow(ctx, `SELECT id::text FROM api_keys WHERE prefix = $1`, env.Key(t, orgA, auth.RoleNetworkAdmin)[:14]).Scan(&networkKeyID); err != nil {
		t.Fatal(err)
	}
	_, err = kc(adminA).RevokeApiKey(ctx, &sparcv1.RevokeApiKeyRequest{Name: "apiKeys/" + networkKeyID})
	notFound("A's admin revoking a network admin key of A", err, "apiKeys/"+networkKeyID+": not found")
}

// The network admin runs the network: it creates an organisation, issues
// its first admin key, reads the whole audit, suspends it, and cannot read
// anyone's people or change anyone's assets.
func TestNetworkAdminRunsTheNetwork(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	network := env.Network(t)
	org, err := oc(network).CreateOrganisation(ctx, &sparcv1.CreateOrganisationRequest{Organisation: &sparcv1.Organisation{
		DisplayName: "Saltley link workers", Kind: sparcv1.OrganisationKind_ORGANISATION_KIND_LINK_WORKER_SERVICE}})
	if err != nil {
		t.Fatal(err)
	}
	first, err := kc(network).CreateApiKey(ctx, &sparcv1.CreateApiKeyRequest{Organisation: org.GetName(), Role: sparcv1.Role_ROLE_ADMIN})
	if err != nil {
		t.Fatal(err)
	}
	admin := env.ConnWithKey(t, first.GetSecret())
	lwKey, err := kc(admin).CreateApiKey(ctx, &sparcv1.CreateApiKeyRequest{Organisation: org.GetName(), Role: sparcv1.Role_ROLE_LINK_WORKER})
	if err != nil {
		t.Fatalf("the new organisation's admin issuing its own key: %v", err)
	}
	lw := env.ConnWithKey(t, lwKey.GetSecret())
	person, err := pc(lw).CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{DisplayName: "M. X.", NhsNumber: "9434765919"}})
	if err != nil {
		t.Fatal(err)
	}
	// Need-to-know: running the network is no reason to read people.
	if _, err := pc(network).GetPerson(ctx, &sparcv1.GetPersonRequest{Name: person.GetName()}); status.Code(err) != codes.NotFound {
		t.Errorf("network admin reading a person: %v, want NotFound", err)
	}
	if _, err := rc(network).ListReferrals(ctx, &sparcv1.ListReferralsRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("network admin listing referrals: %v, want PermissionDenied", err)
	}
	asset, err := ac(admin).CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: newAsset(strings.TrimPrefix(org.GetName(), "organisations/"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ac(network).DeleteAsset(ctx, &sparcv1.DeleteAssetRequest{Name: asset.GetName()}); status.Code(err) != codes.NotFound {
		t.Errorf("network admin deleting an organisation's asset: %v, want NotFound", err)
	}
	// The whole network's audit, the new organisation's events included.
	events, err := sparcv1.NewAuditServiceClient(network).ListAuditEvents(ctx, &sparcv1.ListAuditEventsRequest{PageSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range events.GetEvents() {
		seen[e.GetOrganisation()] = true
	}
	// The network admin's own calls are of its organisation; the new
	// organisation's admin and link worker made the others.
	if !seen[org.GetName()] || len(seen) < 2 {
		t.Errorf("network audit covers organisations %v, want the new one and the network admin's", seen)
	}
	// Suspending the organisation stops its keys on the next call.
	if _, err := oc(network).UpdateOrganisation(ctx, &sparcv1.UpdateOrganisationRequest{
		Organisation: &sparcv1.Organisation{Name: org.GetName(), Status: sparcv1.OrganisationStatus_ORGANISATION_STATUS_SUSPENDED},
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"status"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pc(lw).GetPerson(ctx, &sparcv1.GetPersonRequest{Name: person.GetName()}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("a suspended organisation's key: %v, want Unauthenticated", err)
	}
}

// Referrals between two organisations: A's link worker refers a person of
// A to B's asset. Who may read and move it depends on the side: the
// referrer is A's link workers and admin, the provider B's group editors
// and admin; everyone else, B's link workers, A's group editors and
// analysts, a third organisation and the network admin, gets NOT_FOUND.
func TestReferralAcrossOrganisationsMatrix(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	orgs := map[string]string{"A": env.NewOrg(t, "Referrer", "link_worker_service"), "B": env.NewOrg(t, "Provider", "community_group"),
		"C": env.NewOrg(t, "Third", "link_worker_service")}
	conns := map[string]*grpc.ClientConn{}
	for o, id := range orgs {
		for _, role := range []string{auth.RoleAdmin, auth.RoleLinkWorker, auth.RoleGroupEditor, auth.RoleAreaAnalyst} {
			conns[o+" "+role] = env.ConnWithKey(t, env.Key(t, id, role))
		}
	}
	conns["network_admin"] = env.Network(t)
	a := newAsset(orgs["B"])
	a.AcceptingReferrals = true
	asset, err := ac(conns["B admin"]).CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: a})
	if err != nil {
		t.Fatal(err)
	}
	// newReferral makes a fresh requested referral A → B and returns it
	// with its person.
	newReferral := func(t *testing.T) (string, string) {
		t.Helper()
		p, err := pc(conns["A link_worker"]).CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{DisplayName: "M. X."}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := rc(conns["A link_worker"]).CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: uuid.NewString(),
			Person: p.GetName(), Asset: asset.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetName(), p.GetName()
	}
	type op struct {
		name string
		do   func(c *grpc.ClientConn, referral, person string) error
	}
	transition := func(to sparcv1.ReferralStatus) func(c *grpc.ClientConn, referral, _ string) error {
		return func(c *grpc.ClientConn, referral, _ string) error {
			_, err := rc(c).TransitionReferral(ctx, &sparcv1.TransitionReferralRequest{Name: referral, ToStatus: to})
			return err
		}
	}
	ops := []op{
		{"GetReferral", func(c *grpc.ClientConn, r, _ string) error {
			_, err := rc(c).GetReferral(ctx, &sparcv1.GetReferralRequest{Name: r})
			return err
		}},
		{"GetPerson", func(c *grpc.ClientConn, _, p string) error {
			_, err := pc(c).GetPerson(ctx, &sparcv1.GetPersonRequest{Name: p})
			return err
		}},
		{"accept (provider's move)", transition(sparcv1.ReferralStatus_REFERRAL_STATUS_ACCEPTED)},
		{"entered in error (referrer's move)", transition(sparcv1.ReferralStatus_REFERRAL_STATUS_ENTERED_IN_ERROR)},
		{"RecordOutcome", func(c *grpc.ClientConn, r, _ string) error {
			n := int32(1)
			_, err := rc(c).RecordOutcome(ctx, &sparcv1.RecordOutcomeRequest{Name: r, SessionsAttended: &n})
			return err
		}},
	}
	// Codes per caller for: GetReferral, GetPerson, accept, entered in
	// error, RecordOutcome.
	want := map[string][5]codes.Code{
		"A admin":        {ok, ok, fp, ok, ok},
		"A link_worker":  {ok, ok, fp, ok, ok},
		"A group_editor": {nf, nf, nf, nf, nf},
		"A area_analyst": {nf, nf, nf, nf, nf},
		"B admin":        {ok, nf, ok, fp, ok},
		"B group_editor": {ok, nf, ok, fp, ok},
		"B link_worker":  {nf, nf, nf, nf, nf},
		"B area_analyst": {nf, nf, nf, nf, nf},
		"C admin":        {nf, nf, nf, nf, nf},
		"C link_worker":  {nf, nf, nf, nf, nf},
		"C group_editor": {nf, nf, nf, nf, nf},
		"C area_analyst": {nf, nf, nf, nf, nf},
		"network_admin":  {nf, nf, nf, nf, nf},
	}
	for caller, codesWant := range want {
		for i, o := range ops {
			t.Run(caller+"/"+o.name, func(t *testing.T) {
				r, p := newReferral(t)
				if err := o.do(conns[caller], r, p); status.Code(err) != codesWant[i] {
					t.Errorf("got %v (%v), want %v", status.Code(err), err, codesWant[i])
				}
			})
		}
	}
}
