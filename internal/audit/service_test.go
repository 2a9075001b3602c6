package audit_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/audit"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// Events are named "auditEvents/{n}", refer to their organisation by name,
// and page newest first without gaps or repeats; a page token works only
// with the filters it was issued for.
func TestListAuditEventsNamesAndPagesEvents(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	other := env.NewOrg(t, "Another organisation", "other")
	store := audit.NewStore(env.Pool)
	for i := 0; i < 7; i++ {
		if err := store.Insert(ctx, auth.AuditEvent{Principal: "key:pager", Org: env.AdminOrg, Role: auth.RoleAdmin,
			Method: "/t/Page", Resource: fmt.Sprint("r", i), Outcome: "ok", Code: "OK"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Insert(ctx, auth.AuditEvent{Principal: "key:pager", Org: other, Role: auth.RoleAdmin,
		Method: "/t/Page", Resource: "theirs", Outcome: "ok", Code: "OK"}); err != nil {
		t.Fatal(err)
	}
	c := sparcv1.NewAuditServiceClient(env.Conn) // an admin of AdminOrg: its own events only
	req := &sparcv1.ListAuditEventsRequest{Principal: "key:pager", PageSize: 3}
	var names []string
	last := int64(1 << 62)
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		resp, err := c.ListAuditEvents(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.GetEvents() {
			n, ok := strings.CutPrefix(e.GetName(), "auditEvents/")
			id, err := strconv.ParseInt(n, 10, 64)
			if !ok || err != nil || id >= last {
				t.Fatalf("event %q: not auditEvents/{n}, or not newest first after %d", e.GetName(), last)
			}
			if e.GetOrganisation() != "organisations/"+env.AdminOrg {
				t.Fatalf("event %s of organisation %q, want organisations/%s", e.GetName(), e.GetOrganisation(), env.AdminOrg)
			}
			last = id
			names = append(names, e.GetName())
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			break
		}
		if len(resp.GetEvents()) != 3 {
			t.Fatalf("a page of %d events before the last", len(resp.GetEvents()))
		}
	}
	if len(names) != 7 {
		t.Fatalf("listed %d of the organisation's 7 events: %v", len(names), names)
	}

	first, err := c.ListAuditEvents(ctx, &sparcv1.ListAuditEventsRequest{Principal: "key:pager", PageSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListAuditEvents(ctx, &sparcv1.ListAuditEventsRequest{Principal: "key:other", PageToken: first.GetNextPageToken()})
	if status.Code(err) != codes.InvalidArgument || !slices.Contains(testenv.Fields(err), "page_token") {
		t.Fatalf("token of another query: %v, want a page_token violation", err)
	}
}
