package referrals_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/testenv"
)

// oddName is an asset name a group could type that Windows-1252 cannot
// print: an emoji, Arabic, a right-to-left override with its pop, beside
// accents it can (é, É, ë) and an em dash.
const oddName = "Café Één — walk 🌳 مشي \u202egnikaw\u202c"

// oddNamePrinted is how the PDF shows it: the emoji and the bidi controls
// left out, each Arabic letter a "?".
const oddNamePrinted = "Café Één — walk ??? gnikaw"

// poppler runs one of poppler-utils' tools on pdf and returns its output.
func poppler(t *testing.T, tool, pdf string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s is not installed: run `make poppler` (Debian package poppler-utils)", tool)
	}
	file := filepath.Join(t.TempDir(), "referral.pdf")
	if err := os.WriteFile(file, []byte(pdf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args = append(args, file)
	if tool == "pdftotext" {
		args = append(args, "-") // to standard output
	}
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, out)
	}
	return string(out)
}

// onePageA4 fails unless pdfinfo reads pdf as one A4 page.
func onePageA4(t *testing.T, pdf string) {
	t.Helper()
	info := poppler(t, "pdfinfo", pdf)
	if !strings.Contains(info, "\nPages:           1\n") || !strings.Contains(info, "(A4)") {
		t.Fatalf("want one A4 page:\n%s", info)
	}
}

// auditedAs waits for the audit event of the request and returns its
// outcome, code and resource.
func auditedAs(t *testing.T, env *testenv.Env, requestID string) string {
	t.Helper()
	var outcome, code, resource string
	testenv.Until(t, 10*time.Second, "audit event of request "+requestID, func() bool {
		err := env.Pool.QueryRow(context.Background(), `SELECT outcome, code, resource FROM audit_events
			WHERE request_id = $1`, requestID).Scan(&outcome, &code, &resource)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		return err == nil
	})
	return outcome + " " + code + " " + resource
}

// The printable referral as a PDF, asked for by ?format=pdf or by Accept,
// in English and Dutch: one A4 page whose text (read back by pdftotext)
// has the asset's name, the next session in the asset's local time, who
// to ask for, the cost with its £ and €, accessibility and the reference.
// An asset name the core fonts cannot print is printed sensibly.
func TestPrintableReferralPDF(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	w := newReadable(t, env, oddName)
	ctx := context.Background()
	// Amsterdam is an hour ahead of UTC all year round: its 10:30 is
	// never 10:30 UTC, so the page shows local time or fails.
	a := w.asset
	a.Sessions[0].Timezone = "Europe/Amsterdam"
	a.Cost = &sparcv1.Cost{Kind: sparcv1.CostKind_COST_KIND_PAID, Note: "£3 a session (€3,50)"}
	if _, err := env.AssetsOf(t, w.groupOrg).UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{Asset: a,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"sessions", "cost"}}}); err != nil {
		t.Fatal(err)
	}
	ref := w.refer(t)
	got, err := w.lw.GetReferral(ctx, &sparcv1.GetReferralRequest{Name: ref.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	amsterdam, _ := time.LoadLocation("Europe/Amsterdam")
	start := got.GetSummary().GetNextSession().GetStartTime().AsTime()
	if start.In(amsterdam).Format("15:04") != "10:30" || start.UTC().Format("15:04") == "10:30" {
		t.Fatalf("next session %v: not 10:30 in Amsterdam only", start)
	}
	path := "/v1/" + ref.GetName() + "/print"
	reference := strings.TrimPrefix(ref.GetName(), "referrals/")[:8]

	for _, tc := range []struct {
		name, query string
		header      []string
		want        []string
	}{
		{"format=pdf", "?format=pdf", nil, []string{"Your referral", "For: A. Khan", oddNamePrinted,
			"Saltley Park gates, Alum Rock Road, Birmingham, B8 1AA", start.In(amsterdam).Format("Monday 2 January 2006") + ", 10:30–12:00",
			"• Tuesday 10:30–12:00", "WHO TO ASK FOR", "Pat", "Phone: 0121 496 0001", "Paid — £3 a session (€3,50)",
			"Step-free access", "openstreetmap.org", "Referred by: Ladywood PCN link workers (Amira Khan) · Reference " + reference}},
		{"Accept", "", []string{"Accept", "application/pdf"}, []string{"Your referral", oddNamePrinted, "10:30–12:00", "£3"}},
		{"Accept with q, Dutch", "", []string{"Accept", "text/html;q=0.5, application/pdf", "Accept-Language", "nl"},
			[]string{"Uw verwijzing", "Voor: A. Khan", oddNamePrinted, "dinsdag", "10:30–12:00", "VRAAG NAAR", "Betaald — £3 a session (€3,50)",
				"TOEGANKELIJKHEID", "Drempelvrij toegankelijk", "Verwezen door: Ladywood PCN link workers", "Kenmerk " + reference}},
		{"format=pdf, Dutch", "?format=pdf&language=nl", []string{"Accept", "text/html"}, []string{"Uw verwijzing", "dinsdag", "10:30–12:00", "€3,50"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, h, body := printPage(t, env, path+tc.query, w.lwKey, tc.header...)
			if code != http.StatusOK || h.Get("Content-Type") != "application/pdf" || h.Get("Cache-Control") != "no-store" ||
				!strings.HasPrefix(body, "%PDF-") {
				t.Fatalf("HTTP %d %v\n%.300s", code, h, body)
			}
			if got := auditedAs(t, env, h.Get("X-Request-Id")); got != "ok OK "+strings.TrimPrefix(path, "/") {
				t.Errorf("audited as %q", got)
			}
			onePageA4(t, body)
			if info := strings.Join(strings.Fields(poppler(t, "pdfinfo", body)), " "); !strings.Contains(info, "Title: "+tc.want[0]+": Café Één — walk مشي gnikaw Creator: SPARC") {
				t.Errorf("the PDF's title is not the asset's name without emoji and controls:\n%s", info)
			}
			text := strings.Join(strings.Fields(poppler(t, "pdftotext", body, "-enc", "UTF-8")), " ")
			for _, want := range tc.want {
				if !strings.Contains(text, want) {
					t.Errorf("the PDF's text lacks %q:\n%s", want, text)
				}
			}
			if strings.Contains(text, "09:30") {
				t.Errorf("the PDF shows the session in UTC:\n%s", text)
			}
		})
	}

	// A browser's Accept and no Accept get the HTML page; a format that is
	// neither is a 400 naming the parameter.
	for _, accept := range []string{"", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "application/pdf;q=0, text/html"} {
		if code, h, _ := printPage(t, env, path, w.lwKey, "Accept", accept); code != http.StatusOK ||
			!strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Errorf("Accept %q: HTTP %d %s, want the HTML page", accept, code, h.Get("Content-Type"))
		}
	}
	if code, _, body := printPage(t, env, path+"?format=docx", w.lwKey); code != http.StatusBadRequest ||
		!strings.Contains(body, `"field":"format"`) {
		t.Errorf("format=docx: HTTP %d %s, want 400 naming the field", code, body)
	}

	// Who may print it, as HTML or PDF: TestPrintableReferral.
}

// Whatever an asset holds, its PDF is one A4 page: a description of the
// longest allowed, fifty sessions, every accessibility feature, a name of
// unbroken characters wider than the page, and each block ends in "…"
// where it was cut.
func TestPrintableReferralPDFIsOnePageWhateverTheAsset(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	w := newReadable(t, env, strings.Repeat("W", 200))
	a := w.asset
	a.Description = strings.Repeat("Een lange beschrijving van de wandeling. ", 130)[:5000]
	a.Sessions = nil
	for i := range 50 {
		a.Sessions = append(a.Sessions, &sparcv1.Session{Day: sparcv1.Weekday(1 + i%7), StartTime: fmt.Sprintf("%02d:00", 8+i%12),
			EndTime: fmt.Sprintf("%02d:30", 8+i%12), Timezone: "Europe/London"})
	}
	a.Accessibility = []string{"step_free_access", "wheelchair_accessible", "accessible_toilet", "hearing_loop", "sign_language",
		"large_print", "quiet_space", "parking", "public_transport", "assistance_dogs", "dementia_friendly"}
	a.Cost = &sparcv1.Cost{Kind: sparcv1.CostKind_COST_KIND_LOW_COST, Note: strings.Repeat("€1 ", 100)}
	a.Contact = &sparcv1.Contact{Name: strings.Repeat("Pat ", 50), Phone: "0121 496 0001", Email: "walks@example.org",
		Website: "https://example.org/" + strings.Repeat("a", 150)}
	if _, err := env.AssetsOf(t, w.groupOrg).UpdateAsset(context.Background(), &sparcv1.UpdateAssetRequest{Asset: a,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description", "sessions", "accessibility", "cost", "contact"}}}); err != nil {
		t.Fatal(err)
	}
	ref := w.refer(t)
	for _, lang := range []string{"en", "nl"} {
		code, _, body := printPage(t, env, "/v1/"+ref.GetName()+"/print?format=pdf&language="+lang, w.lwKey)
		if code != http.StatusOK {
			t.Fatalf("%s: HTTP %d %.300s", lang, code, body)
		}
		onePageA4(t, body)
		text := poppler(t, "pdftotext", body, "-enc", "UTF-8")
		if n := strings.Count(text, "…"); n < 3 {
			t.Errorf("%s: %d blocks cut with …, want the name, description and sessions at least:\n%s", lang, n, text)
		}
		if !strings.Contains(text, "Dementia friendly") && !strings.Contains(text, "Dementievriendelijk") {
			t.Errorf("%s: the accessibility list lost its last feature:\n%s", lang, text)
		}
	}
}
