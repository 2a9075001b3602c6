package referrals

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/encoding/protojson"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
	"github.com/sparc-network/sparc/internal/httproute"
	"github.com/sparc-network/sparc/internal/vocab"
)

// The printable referral (issue 14, point 4): one A4 page the link worker
// hands to the person: where, when, who to ask for, cost, accessibility
// and how to get there, in English or Dutch. It names the person, so only
// the referring side prints it (the provider has its own view, through
// GetReferral); anyone else, and a referral that does not exist, is the
// same 404. As HTML with print CSS (one A4 page from any browser) or as
// a PDF (print_pdf.go), by ?format= or Accept (docs/referrals.md).

// PrintRoute is the route's pattern, its key in the access policy. Go's
// ServeMux matches whole path segments, so the custom-method spelling
// ("…/{id}:print") would have to be routed by the gateway, which passes no
// plain-route guard: the page is a sub-path instead.
const PrintRoute = "GET /v1/referrals/{id}/print"

//go:embed print.html
var printFiles embed.FS

var printPage = template.Must(template.New("print.html").ParseFS(printFiles, "print.html"))

// Routes are the plain HTTP routes of referrals: the printable page.
// log takes what goes wrong unexpectedly.
func (s *Service) Routes(log *slog.Logger) []httproute.Route {
	p := &printer{s: s, log: log}
	return []httproute.Route{{Pattern: PrintRoute, Handler: http.HandlerFunc(p.print), Params: []string{"language", "format"}}}
}

// printer serves the printable page.
type printer struct {
	s   *Service
	log *slog.Logger
}

// printText is the page's wording in one language.
type printText struct {
	Lang, Title, For, Where, When, AskFor, Cost, Access, GettingThere, From, NoSession, Free, Paid, Donation, Phone, Email, Web, Reference string
}

var printTexts = map[string]printText{
	"en": {Lang: "en", Title: "Your referral", For: "For", Where: "Where", When: "When", AskFor: "Who to ask for",
		Cost: "Cost", Access: "Accessibility", GettingThere: "How to get there", From: "Referred by",
		NoSession: "Ask the group when it next meets.", Free: "Free", Paid: "Paid", Donation: "Low cost",
		Phone: "Phone", Email: "Email", Web: "Website", Reference: "Reference"},
	"nl": {Lang: "nl", Title: "Uw verwijzing", For: "Voor", Where: "Waar", When: "Wanneer", AskFor: "Vraag naar",
		Cost: "Kosten", Access: "Toegankelijkheid", GettingThere: "Hoe komt u er", From: "Verwezen door",
		NoSession: "Vraag de groep wanneer zij weer bij elkaar komt.", Free: "Gratis", Paid: "Betaald", Donation: "Lage kosten",
		Phone: "Telefoon", Email: "E-mail", Web: "Website", Reference: "Kenmerk"},
}

var (
	weekdays = map[string][7]string{
		"en": {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
		"nl": {"zondag", "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag"},
	}
	months = map[string][12]string{
		"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
		"nl": {"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"},
	}
)

// language is ?language= when given (en or nl), else the first of
// Accept-Language's tags that is Dutch or English, else English.
func language(r *http.Request) (string, bool) {
	if l := r.URL.Query().Get("language"); l != "" {
		_, ok := printTexts[l]
		return l, ok
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if _, ok := printTexts[base]; ok {
			return base, true
		}
	}
	return "en", true
}

// printData is what the template fills in.
type printData struct {
	T                               printText
	Person, Asset, Description      string
	Address                         []string
	When                            string
	Sessions                        []string
	Contact                         string
	ContactLines                    []string
	Cost                            string
	Accessibility                   []string
	Directions                      string
	MapURL                          string
	Referrer, LinkWorker, Reference string
}

func (p *printer) print(w http.ResponseWriter, r *http.Request) {
	s := p.s
	lang, ok := language(r)
	if !ok {
		p.writeError(w, r, apierr.Invalid("language", "must be en or nl"))
		return
	}
	format, ok := printFormat(r)
	if !ok {
		p.writeError(w, r, apierr.Invalid("format", "must be html or pdf"))
		return
	}
	name := "referrals/" + r.PathValue("id")
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		// Not an id: as missing as any, under the same message.
		p.writeError(w, r, fmt.Errorf("%s: %w", name, apierr.ErrNotFound))
		return
	}
	ctx := r.Context()
	caller := auth.FromContext(ctx)
	var data printData
	err = db.InTx(ctx, s.pool, pgx.ReadCommitted, func(tx pgx.Tx) error {
		x, _, err := s.store.load(ctx, tx, id, false)
		if err != nil {
			return err
		}
		// The referring side only: the page names the person.
		if caller == nil || sideFor(caller.Org, caller.Role, x.parties()) != referrer {
			return fmt.Errorf("%s: %w", name, apierr.ErrNotFound)
		}
		ref, err := s.view(ctx, tx, x, caller)
		if err != nil {
			return err
		}
		l, err := s.lookup(ctx, tx, []*referralRow{x}, caller)
		if err != nil {
			return err
		}
		data = fill(lang, ref, l.assets[x.asset])
		return nil
	})
	if err != nil {
		p.writeError(w, r, err)
		return
	}
	if format == "pdf" {
		p.writePDF(w, r, lang, data)
		return
	}
	var buf bytes.Buffer
	if err := printPage.Execute(&buf, data); err != nil {
		p.writeError(w, r, fmt.Errorf("writing the printable page: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", lang)
	h.Set("Cache-Control", "no-store") // it names a person
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Vary", "Accept, Accept-Language")
	_, _ = w.Write(buf.Bytes())
}

// writeError answers with the status the gRPC API would give, as the
// gateway writes it (google.rpc.Status JSON with its ErrorInfo reason).
func (p *printer) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st, unexpected := apierr.ToStatus(err)
	if unexpected {
		p.log.ErrorContext(r.Context(), "printing a referral failed", "path", r.URL.Path, "err", err)
	}
	body, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(st.Proto())
	if apierr.IsUnavailable(err) {
		w.Header().Set("Retry-After", apierr.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	_, _ = w.Write(body)
}

// when writes an occurrence in the reader's language: "Tuesday 8
// December 2026, 10:30–12:00 (Europe/London)".
func when(lang string, n *sparcv1.NextSession) string {
	z, ok := zone(n.GetTimeZone())
	if !ok {
		return ""
	}
	st, et := n.GetStartTime().AsTime().In(z), n.GetEndTime().AsTime().In(z)
	return fmt.Sprintf("%s %d %s %d, %s–%s", weekdays[lang][st.Weekday()], st.Day(), months[lang][st.Month()-1], st.Year(),
		st.Format("15:04"), et.Format("15:04"))
}

func fill(lang string, ref *sparcv1.Referral, a *sparcv1.Asset) printData {
	t := printTexts[lang]
	sum := ref.GetSummary()
	d := printData{T: t, Person: ref.GetPersonDetails().GetDisplayName(), Asset: sum.GetAssetDisplayName(),
		Referrer: sum.GetReferringOrganisationDisplayName(), LinkWorker: sum.GetLinkWorkerDisplayName(),
		Reference: strings.TrimPrefix(ref.GetName(), "referrals/")[:8]}
	for _, s := range []string{sum.GetAddress(), sum.GetLocality(), sum.GetPostcode()} {
		if s != "" {
			d.Address = append(d.Address, s)
		}
	}
	if n := sum.GetNextSession(); n != nil {
		d.When = when(lang, n)
	}
	if a == nil {
		return d
	}
	d.Description = a.GetDescription()
	for _, s := range a.GetSessions() {
		if s.GetDay() >= sparcv1.Weekday_WEEKDAY_MONDAY && s.GetDay() <= sparcv1.Weekday_WEEKDAY_SUNDAY {
			d.Sessions = append(d.Sessions, fmt.Sprintf("%s %s–%s", weekdays[lang][int(s.GetDay())%7], s.GetStartTime(), s.GetEndTime()))
		}
	}
	c := a.GetContact()
	d.Contact = c.GetName()
	for _, l := range [][2]string{{t.Phone, c.GetPhone()}, {t.Email, c.GetEmail()}, {t.Web, c.GetWebsite()}} {
		if l[1] != "" {
			d.ContactLines = append(d.ContactLines, l[0]+": "+l[1])
		}
	}
	switch a.GetCost().GetKind() {
	case sparcv1.CostKind_COST_KIND_FREE:
		d.Cost = t.Free
	case sparcv1.CostKind_COST_KIND_PAID:
		d.Cost = t.Paid
	case sparcv1.CostKind_COST_KIND_LOW_COST:
		d.Cost = t.Donation
	}
	if note := a.GetCost().GetNote(); note != "" {
		d.Cost = strings.TrimPrefix(d.Cost+" — "+note, " — ")
	}
	for _, code := range a.GetAccessibility() {
		label := strings.ReplaceAll(code, "_", " ")
		for _, term := range vocab.Accessibility {
			if term.Code == code {
				label = term.LabelEN
				if lang == "nl" {
					label = term.LabelNL
				}
			}
		}
		d.Accessibility = append(d.Accessibility, label)
	}
	if loc := a.GetLocation(); loc.GetLatitude() != 0 || loc.GetLongitude() != 0 {
		// A link the person can open on a phone; printed as text, never
		// fetched by the page (its policy loads nothing).
		d.MapURL = fmt.Sprintf("https://www.openstreetmap.org/?mlat=%.5f&mlon=%.5f#map=17/%.5f/%.5f",
			loc.GetLatitude(), loc.GetLongitude(), loc.GetLatitude(), loc.GetLongitude())
	}
	d.Directions = remoteDirections(lang, a)
	return d
}

// remoteDirections is how to reach a remote service (it has no place to
// go to): its phone number or website, said in lang; "" for in person.
func remoteDirections(lang string, a *sparcv1.Asset) string {
	how, ok := remoteHow[lang][a.GetDeliveryMode()]
	if !ok {
		return ""
	}
	c := a.GetContact()
	first, second := c.GetPhone(), c.GetWebsite()
	if a.GetDeliveryMode() == sparcv1.DeliveryMode_DELIVERY_MODE_ONLINE {
		first, second = second, first
	}
	if first == "" {
		first = second
	}
	return strings.TrimSuffix(how+": "+first, ": ")
}

var remoteHow = map[string]map[sparcv1.DeliveryMode]string{
	"en": {sparcv1.DeliveryMode_DELIVERY_MODE_TELEPHONE: "By telephone", sparcv1.DeliveryMode_DELIVERY_MODE_ONLINE: "Online",
		sparcv1.DeliveryMode_DELIVERY_MODE_HOME_VISIT: "At your home; to arrange the visit"},
	"nl": {sparcv1.DeliveryMode_DELIVERY_MODE_TELEPHONE: "Telefonisch", sparcv1.DeliveryMode_DELIVERY_MODE_ONLINE: "Online",
		sparcv1.DeliveryMode_DELIVERY_MODE_HOME_VISIT: "Bij u thuis; voor een afspraak"},
}
