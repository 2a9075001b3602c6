package auth_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// Row-level security is the second wall: even SQL that forgets the owner
// check cannot change another organisation's rows as the application role.
func TestRowLevelSecurityBindsTheApplicationRole(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	orgA, orgB := env.NewOrg(t, "A", "community_group"), env.NewOrg(t, "B", "community_group")
	asset, err := env.AssetsOf(t, orgA).CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: newAsset(orgA)})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		org, role  string
		wantUpdate int64 // rows an unguarded UPDATE changes
		wantInsert bool
	}{
		{"no organisation set", "", "", 0, false},
		{"another organisation's editor", orgB, auth.RoleGroupEditor, 0, false},
		{"own organisation as link worker", orgA, auth.RoleLinkWorker, 0, false},
		{"own organisation's editor", orgA, auth.RoleGroupEditor, 1, true},
		{"own organisation's admin", orgA, auth.RoleAdmin, 1, true},
		// Finding 2 of issue 12: any organisation's admin could write
		// every asset.
		{"another organisation's admin", orgB, auth.RoleAdmin, 0, false},
		{"network admin", orgB, auth.RoleNetworkAdmin, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inAppTx(t, env.AppPool, c.org, c.role, func(tx pgx.Tx) {
				var visible int
				if err := tx.QueryRow(context.Background(), `SELECT count(*) FROM assets`).Scan(&visible); err != nil || visible != 1 {
					t.Errorf("public read: %d rows, %v; want 1", visible, err)
				}
				tag, err := tx.Exec(context.Background(), `UPDATE assets SET name = 'hijacked'`)
				if err != nil || tag.RowsAffected() != c.wantUpdate {
					t.Errorf("UPDATE changed %d rows (%v), want %d", tag.RowsAffected(), err, c.wantUpdate)
				}
				tag, err = tx.Exec(context.Background(), `DELETE FROM assets WHERE id = $1`, strings.TrimPrefix(asset.GetName(), "assets/"))
				if err != nil || tag.RowsAffected() != c.wantUpdate {
					t.Errorf("DELETE removed %d rows (%v), want %d", tag.RowsAffected(), err, c.wantUpdate)
				}
			})
			inAppTx(t, env.AppPool, c.org, c.role, func(tx pgx.Tx) {
				_, err := tx.Exec(context.Background(), `INSERT INTO assets (id, kind, name, location, country, status, owner_organisation)
					VALUES (gen_random_uuid(), 'association', 'planted', 'SRID=4326;POINT(-1.9 52.5)', 'GB', 'active', $1)`, orgA)
				if got := err == nil; got != c.wantInsert {
					t.Errorf("INSERT for organisation A succeeded=%v (%v), want %v", got, err, c.wantInsert)
				}
			})
		})
	}
}

// inAppTx runs fn as the application role with the given identity, and
// rolls back so cases do not affect each other.
func inAppTx(t *testing.T, pool *pgxpool.Pool, org, role string, fn func(pgx.Tx)) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `SELECT set_config('sparc.org', $1, true), set_config('sparc.role', $2, true)`, org, role); err != nil {
		t.Fatal(err)
	}
	var user string
	if err := tx.QueryRow(ctx, `SELECT current_user`).Scan(&user); err != nil || user != "sparc_app" {
		t.Fatalf("running as %q (%v), want sparc_app", user, err)
	}
	fn(tx)
}

func TestAuditTableIsAppendOnlyForTheApplication(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	// Leave at least one event behind.
	if _, err := sparcv1.NewAuditServiceClient(env.Conn).ListAuditEvents(context.Background(), &sparcv1.ListAuditEventsRequest{}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE audit_events SET outcome = 'ok'`,
		`DELETE FROM audit_events`,
		`TRUNCATE audit_events`,
	} {
		t.Run(stmt, func(t *testing.T) {
			_, err := env.AppPool.Exec(context.Background(), stmt)
			var pgErr *pgconn.PgError
			if err == nil || !errorsAs(err, &pgErr) || pgErr.Code != "42501" {
				t.Errorf("got %v, want insufficient_privilege (42501)", err)
			}
		})
	}
	var n int
	if err := env.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_events`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("audit events after attempts: %d, %v", n, err)
	}
}

func TestAuditRecordsAllowedDeniedAndFailedCalls(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	org := env.NewOrg(t, "Group", "community_group")
	editorKey := env.Key(t, org, auth.RoleGroupEditor)
	workerKey := env.Key(t, org, auth.RoleLinkWorker)
	editor := sparcv1.NewAssetServiceClient(env.ConnWithKey(t, editorKey))
	worker := sparcv1.NewAssetServiceClient(env.ConnWithKey(t, workerKey))
	anon := sparcv1.NewAssetServiceClient(env.Anonymous())
	ctx := context.Background()

	a, err := editor.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: newAsset(org)})
	if err != nil {
		t.Fatal(err)
	}
	rename := func(c sparcv1.AssetServiceClient, name string) error {
		_, err := c.UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{Asset: &sparcv1.Asset{Name: a.GetName(), DisplayName: name},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
		return err
	}
	if err := rename(editor, "Renamed"); err != nil {
		t.Fatal(err)
	}
	if err := rename(worker, "Nope"); status.Code(err) != codes.NotFound {
		t.Fatalf("link worker update: %v", err)
	}
	if err := rename(anon, "Nope"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("anonymous update: %v", err)
	}
	if err := rename(editor, ""); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("empty name: %v", err)
	}
	// A public read leaves no event: open data is not personal data.
	if _, err := anon.GetAsset(ctx, &sparcv1.GetAssetRequest{Name: a.GetName()}); err != nil {
		t.Fatal(err)
	}

	resource := a.GetName()
	rows, err := env.Pool.Query(ctx, `SELECT principal, role, outcome, code FROM audit_events
		WHERE resource = $1 ORDER BY id`, resource)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var p, role, outcome, code string
		err := r.Scan(&p, &role, &outcome, &code)
		return fmt.Sprintf("%s %s %s %s", p, role, outcome, code), err
	})
	if err != nil {
		t.Fatal(err)
	}
	editorName, workerName := "key:"+editorKey[:14], "key:"+workerKey[:14]
	want := []string{
		editorName + " group_editor ok OK",
		workerName + " link_worker denied NotFound",
		"anonymous  denied Unauthenticated",
		editorName + " group_editor error InvalidArgument",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit events for %s:\n%s\nwant:\n%s", resource, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var creates int
	if err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE method = '/sparc.v1.AssetService/CreateAsset' AND outcome = 'ok'`).Scan(&creates); err != nil || creates != 1 {
		t.Errorf("create events: %d (%v), want exactly 1 (written in the create's own transaction)", creates, err)
	}
}

// A change and its audit event commit together: when the audit insert
// fails, the change is rolled back too.
func TestChangeIsRolledBackWhenItsAuditEventCannotBeWritten(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	a, err := env.Assets.CreateAsset(context.Background(), &sparcv1.CreateAssetRequest{Asset: newAsset(env.AdminOrg)})
	if err != nil {
		t.Fatal(err)
	}
	// Make every audit insert fail from now on.
	if _, err := env.Pool.Exec(context.Background(), `ALTER TABLE audit_events ADD CONSTRAINT block CHECK (method = 'none') NOT VALID`); err != nil {
		t.Fatal(err)
	}
	_, err = env.Assets.UpdateAsset(context.Background(), &sparcv1.UpdateAssetRequest{
		Asset: &sparcv1.Asset{Name: a.GetName(), DisplayName: "Renamed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
	if err == nil {
		t.Fatal("update succeeded without its audit event")
	}
	got, err := env.Assets.GetAsset(context.Background(), &sparcv1.GetAssetRequest{Name: a.GetName()})
	if err != nil || got.GetDisplayName() != a.GetDisplayName() {
		t.Fatalf("asset after failed audit: %q (%v), want unchanged %q", got.GetDisplayName(), err, a.GetDisplayName())
	}
}

func TestStoredKeyRowNeverContainsTheSecret(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	resp, err := sparcv1.NewApiKeyServiceClient(env.Conn).CreateApiKey(context.Background(),
		&sparcv1.CreateApiKeyRequest{Organisation: "organisations/" + env.AdminOrg, Role: sparcv1.Role_ROLE_LINK_WORKER, DisplayName: "Ladywood"})
	if err != nil {
		t.Fatal(err)
	}
	key := resp.GetSecret()
	prefix, secret := key[:14], key[15:]
	if resp.GetApiKey().GetPrefix() != prefix || len(secret) != 64 {
		t.Fatalf("key %q, prefix %q", key, resp.GetApiKey().GetPrefix())
	}
	var rowText string
	if err := env.Pool.QueryRow(context.Background(), `SELECT k::text FROM api_keys k WHERE prefix = $1`, prefix).Scan(&rowText); err != nil {
		t.Fatal(err)
	}
	rawSecret, _ := hex.DecodeString(secret)
	for _, leak := range []string{secret, key, hex.EncodeToString(rawSecret[:8])} {
		if strings.Contains(rowText, leak) {
			t.Fatalf("stored row %q contains the secret", rowText)
		}
	}
	// Listing shows the prefix, never the secret.
	list, err := sparcv1.NewApiKeyServiceClient(env.Conn).ListApiKeys(context.Background(), &sparcv1.ListApiKeysRequest{Organisation: "organisations/" + env.AdminOrg})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(list.String(), secret) {
		t.Fatal("ListApiKeys leaks the secret")
	}
	// The key works; one changed character of the secret does not.
	works := func(k string) codes.Code {
		_, err := sparcv1.NewApiKeyServiceClient(env.ConnWithKey(t, k)).ListApiKeys(context.Background(), &sparcv1.ListApiKeysRequest{})
		return status.Code(err)
	}
	if c := works(key); c != codes.PermissionDenied { // a link worker may not list keys, but is authenticated
		t.Errorf("valid link worker key: %v, want PermissionDenied", c)
	}
	flipped := []byte(key)
	flipped[len(flipped)-1] ^= 1
	if flipped[len(flipped)-1] < '0' || (flipped[len(flipped)-1] > '9' && flipped[len(flipped)-1] < 'a') || flipped[len(flipped)-1] > 'f' {
		flipped[len(flipped)-1] = '0'
	}
	if c := works(string(flipped)); c != codes.Unauthenticated {
		t.Errorf("tampered key: %v, want Unauthenticated", c)
	}
}

func TestRevokedKeyStopsWorkingOnTheNextRequest(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	keys := sparcv1.NewApiKeyServiceClient(env.Conn)
	resp, err := keys.CreateApiKey(context.Background(), &sparcv1.CreateApiKeyRequest{Organisation: "organisations/" + env.AdminOrg, Role: sparcv1.Role_ROLE_ADMIN})
	if err != nil {
		t.Fatal(err)
	}
	c := sparcv1.NewAuditServiceClient(env.ConnWithKey(t, resp.GetSecret()))
	if _, err := c.ListAuditEvents(context.Background(), &sparcv1.ListAuditEventsRequest{}); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	if _, err := keys.RevokeApiKey(context.Background(), &sparcv1.RevokeApiKeyRequest{Name: resp.GetApiKey().GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListAuditEvents(context.Background(), &sparcv1.ListAuditEventsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("after revocation: %v, want Unauthenticated", err)
	}
}

func TestRateLimitAllowsTheBurstThenAsksToRetry(t *testing.T) {
	t.Parallel()
	const burst = 5
	env := testenv.NewServer(t, testenv.Options{Auth: auth.Config{RatePerSecond: 0.5, Burst: burst}})
	org := env.AdminOrg
	key := env.Key(t, org, auth.RoleAreaAnalyst)
	c := sparcv1.NewAssetServiceClient(env.ConnWithKey(t, key))
	var codesSeen []codes.Code
	var retry time.Duration
	for i := 0; i < burst+2; i++ {
		_, err := c.ListVocabulary(context.Background(), &sparcv1.ListVocabularyRequest{})
		codesSeen = append(codesSeen, status.Code(err))
		for _, d := range status.Convert(err).Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok {
				retry = ri.GetRetryDelay().AsDuration()
			}
		}
	}
	for i, c := range codesSeen {
		want := codes.OK
		if i >= burst {
			want = codes.ResourceExhausted
		}
		if c != want {
			t.Fatalf("call %d: %v, want %v (all: %v)", i, c, want, codesSeen)
		}
	}
	if retry <= 0 || retry > 2*time.Second {
		t.Errorf("retry delay %v, want within (0, 2s] at 0.5 requests/s", retry)
	}
	// Over HTTP the same key gets 429 with Retry-After.
	req, _ := http.NewRequest("GET", env.HTTPBase+"/v1/vocabulary", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("HTTP %d Retry-After %q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Other keys are not affected.
	other := sparcv1.NewAssetServiceClient(env.ConnWithKey(t, env.Key(t, org, auth.RoleAreaAnalyst)))
	if _, err := other.ListVocabulary(context.Background(), &sparcv1.ListVocabularyRequest{}); err != nil {
		t.Errorf("another key was limited too: %v", err)
	}
}

func TestServerRefusesToStartWithoutAValidAuthConfiguration(t *testing.T) {
	for _, cfg := range []auth.Config{{}, {RatePerSecond: -1, Burst: 3}, {RatePerSecond: 3, Burst: 0}} {
		if _, err := auth.New(nil, cfg); err == nil {
			t.Errorf("auth.New(%+v) succeeded; a broken configuration must fail closed", cfg)
		}
	}
}
