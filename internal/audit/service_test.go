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

// The method filter keeps one method's events, or one service's when it
// ends in "/", across pages; anything but a method or service name is
// INVALID_ARGUMENT on method (over HTTP too: 400); a page token is tied to
// the method it was issued for.
func TestListAuditEventsFiltersByMethodOrService(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	store := audit.NewStore(env.Pool)
	methods := []string{"/sparc.v1.Filter/Revoke", "/sparc.v1.Filter/Create", "/sparc.v1.Filtered/Revoke", "/sparc.v1.Filter/RevokeAll"}
	for i := 0; i < 12; i++ {
		if err := store.Insert(ctx, auth.AuditEvent{Principal: "key:methods", Org: env.AdminOrg, Role: auth.RoleAdmin,
			Method: methods[i%len(methods)], Resource: fmt.Sprint("m", i), Outcome: "ok", Code: "OK"}); err != nil {
			t.Fatal(err)
		}
	}
	c := sparcv1.NewAuditServiceClient(env.Conn)
	list := func(method string) []string {
		t.Helper()
		req := &sparcv1.ListAuditEventsRequest{Principal: "key:methods", Method: method, PageSize: 2}
		var got []string
		for pages := 0; pages < 10; pages++ {
			resp, err := c.ListAuditEvents(ctx, req)
			if err != nil {
				t.Fatalf("method %q: %v", method, err)
			}
			for _, e := range resp.GetEvents() {
				got = append(got, e.GetMethod())
			}
			if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
				return got
			}
		}
		t.Fatalf("method %q: pagination does not end", method)
		return nil
	}
	count := func(got []string, want ...string) {
		t.Helper()
		for _, m := range got {
			if !slices.Contains(want, m) {
				t.Errorf("listed %s, want only %v", m, want)
			}
		}
		if len(got) != 3*len(want) {
			t.Errorf("listed %d events of %v, want %d", len(got), want, 3*len(want))
		}
	}
	count(list("/sparc.v1.Filter/Revoke"), "/sparc.v1.Filter/Revoke")
	count(list("/sparc.v1.Filter/"), "/sparc.v1.Filter/Revoke", "/sparc.v1.Filter/Create", "/sparc.v1.Filter/RevokeAll")
	count(list("/sparc.v1.Filtered/Revoke"), "/sparc.v1.Filtered/Revoke")
	if got := list("/sparc.v1.Filter/Revok"); len(got) != 0 {
		t.Errorf("a part of a method name matched %v", got)
	}
	if got := list(""); len(got) != 12 {
		t.Errorf("no method filter listed %d of 12", len(got))
	}

	for _, bad := range []string{"Revoke", "/sparc.v1.Filter", "sparc.v1.Filter/Revoke", "/sparc.v1.Filter/Re%", "/sparc.v1.Filter/Revoke/", "/", strings.Repeat("/a", 200) + "/"} {
		_, err := c.ListAuditEvents(ctx, &sparcv1.ListAuditEventsRequest{Method: bad})
		if status.Code(err) != codes.InvalidArgument || fmt.Sprint(testenv.Fields(err)) != "[method]" {
			t.Errorf("method %q: %v, want an InvalidArgument on method", bad, err)
		}
	}
	if resp, body := env.Do(t, "GET", "/v1/auditEvents?method=Revoke", ""); resp.StatusCode != 400 || !strings.Contains(string(body), `"field":"method"`) {
		t.Errorf("HTTP bad method: %d %s", resp.StatusCode, body)
	}
	if resp, body := env.Do(t, "GET", "/v1/auditEvents?principal=key:methods&method=/sparc.v1.Filter/Create", ""); resp.StatusCode != 200 || strings.Count(string(body), "/sparc.v1.Filter/Create") != 3 {
		t.Errorf("HTTP method filter: %d %s", resp.StatusCode, body)
	}

	first, err := c.ListAuditEvents(ctx, &sparcv1.ListAuditEventsRequest{Principal: "key:methods", Method: "/sparc.v1.Filter/", PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListAuditEvents(ctx, &sparcv1.ListAuditEventsRequest{Principal: "key:methods", Method: "/sparc.v1.Filtered/", PageToken: first.GetNextPageToken()})
	if status.Code(err) != codes.InvalidArgument || !slices.Contains(testenv.Fields(err), "page_token") {
		t.Errorf("token of another method: %v, want a page_token violation", err)
	}
}
