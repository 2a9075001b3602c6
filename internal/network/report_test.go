package network_test

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
)

// The neighbourhood report over the real services (sparcd's wiring): the
// area's network as the analyst's GetReferralNetwork gives it, the
// organisation that opted in by name and the one that did not by its
// code only, in HTML and in a PDF that poppler reads; refused to a link
// worker as the network is. Outcome evidence answers through the same
// analytics service.
func TestNeighbourhoodReportOverTheRealServices(t *testing.T) {
	w := newWorld(t)
	get := func(key, query string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", w.env.HTTPBase+"/v1/reports/neighbourhood?"+query, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	code, page := get(w.analystKey, "area="+msoaCode+"&window=2026-Q3&format=html&lang=en")
	if code != http.StatusOK {
		t.Fatalf("report: %d %s", code, page)
	}
	net := w.network(t, &sparcv1.GetReferralNetworkRequest{Window: "2026-Q3", Area: msoaCode})
	if len(net.GetNodes()) == 0 {
		t.Fatal("the area's network is empty")
	}
	for _, n := range net.GetNodes() {
		label := n.GetDisplayName()
		if n.GetAnonymous() {
			label = n.GetId()
		}
		if n.GetKind() != sparcv1.NetworkNodeKind_NETWORK_NODE_KIND_ASSET && !strings.Contains(string(page), label) {
			t.Errorf("the report does not show node %q", label)
		}
	}
	html := string(page)
	if !strings.Contains(html, "Practice South") || !strings.Contains(html, w.anon(w.lw1)) {
		t.Error("the report shows neither the opted-in practice by name nor the link-worker service by its code")
	}
	if strings.Contains(html, "Link workers North") {
		t.Error("the report names an organisation that did not opt in")
	}

	code, pdf := get(w.analystKey, "area="+msoaCode+"&window=2026-Q3&format=pdf&lang=nl")
	if code != http.StatusOK || !strings.HasPrefix(string(pdf), "%PDF-") {
		t.Fatalf("PDF report: %d %.40q", code, pdf)
	}
	cmd := exec.Command("pdftotext", "-", "-")
	cmd.Stdin = strings.NewReader(string(pdf))
	text, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	if !strings.Contains(string(text), "Buurtrapport") || !strings.Contains(string(text), w.anon(w.lw1)) || strings.Contains(string(text), "Link workers North") {
		t.Errorf("the Dutch PDF's text lacks its title or the code, or names the anonymous service:\n%.600s", text)
	}

	if code, _ := get(w.env.Key(t, w.lw1, auth.RoleLinkWorker), "area="+msoaCode+"&window=2026-Q3&format=html"); code != http.StatusForbidden {
		t.Errorf("a link worker's report: %d, want 403", code)
	}
	if _, err := w.analyst.GetOutcomeEvidence(context.Background(), &sparcv1.GetOutcomeEvidenceRequest{Window: "2026-Q3", Area: msoaCode}); err != nil {
		t.Errorf("GetOutcomeEvidence through the analytics service: %v", err)
	}
}
