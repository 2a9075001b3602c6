package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// A group registers a webhook from the shell, receives a signed change
// when a link worker refers someone to it, reads the delivery state, and
// deletes the webhook.
func TestWebhooksFromTheCommandLine(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t, testenv.Options{WebhooksAllowPrivate: true}) // the receiver is on 127.0.0.1
	groupOrg := env.NewOrg(t, "Saltley walking group", "community_group")
	lwOrg := env.NewOrg(t, "Ladywood link workers", "link_worker_service")
	group := target{addr: env.Server.GRPCAddr(), key: env.Key(t, groupOrg, auth.RoleGroupEditor)}

	var mu sync.Mutex
	var bodies, signatures, timestamps []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies, signatures, timestamps = append(bodies, string(b)), append(signatures, r.Header.Get("SPARC-Signature")),
			append(timestamps, r.Header.Get("SPARC-Timestamp"))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer recv.Close()

	// Mistakes: no --url is a usage error; a plain-http URL elsewhere is
	// the server's field violation.
	if r := sparc(t, group, "webhooks", "create"); r.code != exitUsage || !strings.Contains(r.stderr, "--url is required") {
		t.Fatalf("no url: exit %d\n%s", r.code, r.stderr)
	}
	if r := sparc(t, group, "webhooks", "create", "--url", "http://example.org/in"); r.code != exitFailure ||
		!strings.Contains(r.stderr, "INVALID_ARGUMENT") || !strings.Contains(r.stderr, "  webhook.url: must use https") {
		t.Fatalf("plain http: exit %d\n%s", r.code, r.stderr)
	}

	out := mustSparc(t, group, "webhooks", "create", "--url", recv.URL+"/sparc", "--description", "Inbox bridge")
	name := regexp.MustCompile(`(?m)^NAME\s+(webhooks/\S+)$`).FindStringSubmatch(out)
	secret := regexp.MustCompile(`(?m)^(whsec_[0-9a-f]{64})$`).FindStringSubmatch(out)
	if name == nil || secret == nil || !strings.Contains(out, "shown only now") {
		t.Fatalf("create:\n%s", out)
	}
	second := decode(t, mustSparc(t, group, "webhooks", "create", "--url", "https://example.org/in", "-o", "json"), &sparcv1.CreateWebhookResponse{})
	if second.GetSecret() == "" || second.GetWebhook().GetOrganisation() != "organisations/"+groupOrg {
		t.Fatalf("create -o json: %v", second)
	}
	rows := tableRows(t, mustSparc(t, group, "webhooks", "list"))
	if len(rows) != 2 || rows[0]["NAME"] != name[1] || rows[0]["DESCRIPTION"] != "Inbox bridge" || rows[1]["NAME"] != second.GetWebhook().GetName() {
		t.Fatalf("list: %v", rows)
	}

	// A referral to the group's asset: one signed change arrives.
	ctx := context.Background()
	asset, err := env.AssetsOf(t, groupOrg).CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{
		Kind: sparcv1.AssetKind_ASSET_KIND_ASSOCIATION, DisplayName: "Saltley walking group", AcceptingReferrals: true,
		OwnerOrganisation: "organisations/" + groupOrg, Location: &sparcv1.Location{Latitude: 52.48, Longitude: -1.86, Country: "GB"}}})
	if err != nil {
		t.Fatal(err)
	}
	lw := env.ConnWithKey(t, env.Key(t, lwOrg, auth.RoleLinkWorker))
	p, err := sparcv1.NewPersonServiceClient(lw).CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{DisplayName: "A. K."}})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := sparcv1.NewReferralServiceClient(lw).CreateReferral(ctx, &sparcv1.CreateReferralRequest{RequestId: uuid.NewString(),
		Person: p.GetName(), Asset: asset.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	var h *sparcv1.Webhook
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		h = decode(t, mustSparc(t, group, "webhooks", "get", name[1], "-o", "json"), &sparcv1.Webhook{})
		if h.GetLastSuccessTime() != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery recorded: %v", h)
		}
	}
	mu.Lock()
	if len(bodies) != 1 || !strings.Contains(bodies[0], ref.GetName()) {
		t.Fatalf("received %v", bodies)
	}
	mac := hmac.New(sha256.New, []byte(secret[1]))
	mac.Write([]byte(timestamps[0] + "." + bodies[0]))
	if want := "v1=" + hex.EncodeToString(mac.Sum(nil)); signatures[0] != want {
		t.Errorf("signature %s does not verify with the printed secret", signatures[0])
	}
	mu.Unlock()
	// A bare id names the webhook as well as its full name.
	id := strings.TrimPrefix(name[1], "webhooks/")
	if got := mustSparc(t, group, "webhooks", "get", id); !regexp.MustCompile(`PENDING\s+0\n`).MatchString(got) ||
		!regexp.MustCompile(`LAST SUCCESS\s+\d{4}-`).MatchString(got) {
		t.Errorf("get:\n%s", got)
	}

	if out := mustSparc(t, group, "webhooks", "delete", id); !strings.Contains(out, "deleted "+name[1]) {
		t.Errorf("delete: %s", out)
	}
	if out := mustSparc(t, group, "webhooks", "delete", second.GetWebhook().GetName(), "-o", "json"); strings.TrimSpace(out) != "{}" {
		t.Errorf("delete -o json: %q, want the empty message", out)
	}
	if r := sparc(t, group, "webhooks", "get", name[1]); r.code != exitFailure || !strings.Contains(r.stderr, "NOT_FOUND") {
		t.Errorf("get after delete: exit %d\n%s", r.code, r.stderr)
	}
	if rows := tableRows(t, mustSparc(t, group, "webhooks", "list")); len(rows) != 0 {
		t.Errorf("list after delete: %v", rows)
	}
}
