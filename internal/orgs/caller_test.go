package orgs_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// GetCaller tells every role who its key stands for (key, display name,
// organisation and its name and kind, role), over gRPC and HTTP; no key,
// a revoked key and a malformed one are UNAUTHENTICATED.
func TestGetCallerSaysWhoCalls(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	org := env.NewOrg(t, "Saltley Walking Group", "community_group")
	keys := auth.NewKeyStore(env.Pool)
	for _, role := range []sparcv1.Role{sparcv1.Role_ROLE_ADMIN, sparcv1.Role_ROLE_LINK_WORKER, sparcv1.Role_ROLE_GROUP_EDITOR,
		sparcv1.Role_ROLE_AREA_ANALYST, sparcv1.Role_ROLE_NETWORK_ADMIN} {
		t.Run(role.String(), func(t *testing.T) {
			k, secret, err := keys.Create(ctx, uuid.MustParse(org), auth.RoleCode(role), "Amira's "+role.String())
			if err != nil {
				t.Fatal(err)
			}
			want := &sparcv1.Caller{Principal: "key:" + k.GetPrefix(), DisplayName: "Amira's " + role.String(), ApiKey: k.GetName(),
				Organisation: "organisations/" + org, OrganisationDisplayName: "Saltley Walking Group",
				OrganisationKind: sparcv1.OrganisationKind_ORGANISATION_KIND_COMMUNITY_GROUP, Role: role}
			got, err := sparcv1.NewOrganisationServiceClient(env.ConnWithKey(t, secret)).GetCaller(ctx, &sparcv1.GetCallerRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("gRPC: got %v, want %v", got, want)
			}
			resp, body := env.Do(t, "GET", "/v1/caller", "", "Authorization", "Bearer "+secret)
			var j map[string]any
			if err := json.Unmarshal(body, &j); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("HTTP: %d %s", resp.StatusCode, body)
			}
			for k, v := range map[string]string{"principal": want.Principal, "display_name": want.DisplayName, "api_key": want.ApiKey,
				"organisation": want.Organisation, "organisation_display_name": want.OrganisationDisplayName,
				"organisation_kind": "ORGANISATION_KIND_COMMUNITY_GROUP", "role": role.String()} {
				if j[k] != v {
					t.Errorf("HTTP %s: got %v, want %q", k, j[k], v)
				}
			}
		})
	}

	if _, err := sparcv1.NewOrganisationServiceClient(env.Anonymous()).GetCaller(ctx, &sparcv1.GetCallerRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("anonymous gRPC: %v, want Unauthenticated", err)
	}
	// Without the test's default key: no Authorization header at all.
	resp, err := http.Get(env.HTTPBase + "/v1/caller")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous HTTP: %d, want 401", resp.StatusCode)
	}
	k, secret, err := keys.Create(ctx, uuid.MustParse(org), auth.RoleGroupEditor, "soon revoked")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sparcv1.NewApiKeyServiceClient(env.Network(t)).RevokeApiKey(ctx, &sparcv1.RevokeApiKeyRequest{Name: k.GetName()}); err != nil {
		t.Fatal(err)
	}
	if resp, body := env.Do(t, "GET", "/v1/caller", "", "Authorization", "Bearer "+secret); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked key: %d %s, want 401", resp.StatusCode, body)
	}
	if resp, body := env.Do(t, "GET", "/v1/caller", "", "Authorization", "Bearer sparc_nonsense"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("malformed key: %d %s, want 401", resp.StatusCode, body)
	}
}
