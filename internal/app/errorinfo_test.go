package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/testenv"
)

// Every error of the API carries an ErrorInfo with a stable reason in the
// sparc.network domain (AIP-193), whichever layer refused the call: the
// access layer, a handler's validation, a store, or the HTTP gateway
// itself. A client switches on the reason, never on the message.
func TestEveryErrorNamesItsReasonInTheSparcDomain(t *testing.T) {
	env := testenv.NewServer(t)
	ctx := context.Background()
	viewer := env.ConnWithKey(t, env.Key(t, env.AdminOrg, auth.RoleAreaAnalyst))

	grpcCases := []struct {
		name   string
		call   func() error
		code   codes.Code
		reason string
	}{
		{"no key", func() error {
			_, err := sparcv1.NewAuditServiceClient(env.Anonymous()).ListAuditEvents(ctx, &sparcv1.ListAuditEventsRequest{})
			return err
		}, codes.Unauthenticated, "CREDENTIALS_MISSING"},
		{"unknown key", func() error {
			_, err := sparcv1.NewAuditServiceClient(env.ConnWithKey(t, "sparc_nosuchkey_0000000000000000")).ListAuditEvents(ctx, &sparcv1.ListAuditEventsRequest{})
			return err
		}, codes.Unauthenticated, "CREDENTIALS_INVALID"},
		{"role refused", func() error {
			_, err := sparcv1.NewOrganisationServiceClient(viewer).CreateOrganisation(ctx, &sparcv1.CreateOrganisationRequest{})
			return err
		}, codes.PermissionDenied, "ROLE_NOT_PERMITTED"},
		{"bad field", func() error {
			_, err := sparcv1.NewAuditServiceClient(env.Conn).ListAuditEvents(ctx, &sparcv1.ListAuditEventsRequest{PageSize: -1})
			return err
		}, codes.InvalidArgument, apierr.ReasonInvalidFields},
	}
	for _, c := range grpcCases {
		st := status.Convert(c.call())
		if st.Code() != c.code {
			t.Errorf("gRPC %s: code %v (%s), want %v", c.name, st.Code(), st.Message(), c.code)
			continue
		}
		if got := grpcReason(st); got != c.reason {
			t.Errorf("gRPC %s: reason %q, want %q", c.name, got, c.reason)
		}
	}

	httpCases := []struct {
		name, method, path, body string
		code                     int
		reason                   string
	}{
		{"missing asset", "GET", "/v1/assets/3f2504e0-4f89-41d3-9a0c-0305e82c3301", "", 404, apierr.ReasonNotFound},
		{"body not JSON", "POST", "/v1/assets", "{not json", 400, apierr.ReasonInvalidFields},
		{"no such route", "GET", "/v1/nothingHere", "", 404, "ROUTE_NOT_FOUND"},
		{"wrong method", "DELETE", "/v1/assets", "", 405, "METHOD_NOT_ALLOWED"},
	}
	for _, c := range httpCases {
		resp, b := env.Do(t, c.method, c.path, c.body)
		if resp.StatusCode != c.code {
			t.Errorf("HTTP %s: status %d (%s), want %d", c.name, resp.StatusCode, b, c.code)
			continue
		}
		if got := httpReason(t, b); got != c.reason {
			t.Errorf("HTTP %s: reason %q in %s, want %q", c.name, got, b, c.reason)
		}
	}
}

func grpcReason(st *status.Status) string {
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok && ei.GetDomain() == apierr.Domain {
			return ei.GetReason()
		}
	}
	return ""
}

// httpReason reads the ErrorInfo from the gateway's JSON error body.
func httpReason(t *testing.T, body []byte) string {
	var e struct {
		Details []struct {
			Type   string `json:"@type"`
			Reason string `json:"reason"`
			Domain string `json:"domain"`
		} `json:"details"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %s is not JSON: %v", body, err)
	}
	for _, d := range e.Details {
		if strings.HasSuffix(d.Type, "google.rpc.ErrorInfo") && d.Domain == apierr.Domain {
			return d.Reason
		}
	}
	return ""
}

// The specific reasons come from the error itself (a precondition's type,
// a stale etag), not only from its code.
func TestReasonsNameTheCauseNotOnlyTheCode(t *testing.T) {
	for _, c := range []struct {
		err    error
		reason string
	}{
		{apierr.ErrStaleEtag, apierr.ReasonEtagMismatch},
		{&apierr.PreconditionError{Type: "NO_PLACE_LEFT", Description: "full"}, "NO_PLACE_LEFT"},
		{apierr.ErrAlreadyExists, apierr.ReasonAlreadyExists},
		{apierr.Invalid("x", "bad"), apierr.ReasonInvalidFields},
		{errors.New("an unforeseen failure"), apierr.ReasonInternal},
	} {
		st, _ := apierr.ToStatus(c.err)
		if got := grpcReason(st); got != c.reason {
			t.Errorf("%v: reason %q, want %q", c.err, got, c.reason)
		}
	}
}
