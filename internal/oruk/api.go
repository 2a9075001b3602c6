package oruk

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/assets"
	"github.com/sparc-network/sparc/internal/httproute"
)

// Version is the ORUK version SPARC speaks.
const Version = "HSDS-UK-3.0"

// Prefix is where the API is served.
const Prefix = "/openreferral"

// openAPI is the ORUK 3.0 OpenAPI document (BSD 3-Clause, see spec/LICENSE).
//
//go:embed spec/openapi.json
var openAPI []byte

// Paging limits.
const (
	defaultPerPage = 50
	maxPerPage     = 500
	maxPage        = 1_000_000
	maxRadius      = 100_000 // metres, as the native search
	defaultRadius  = maxRadius
	maxSearchLen   = 200
)

// API serves the ORUK read endpoints.
type API struct {
	st  *store
	log *slog.Logger
	// postcodes places a postcode= filter from the postcode data
	// (internal/postcodes); nil, or a postcode it cannot place: the mean
	// of the directory's own addresses at that postcode, as before.
	postcodes Locator
}

// Locator places postcodes; the postcodes domain implements it. Its
// errors are InvalidArgument on the field given.
type Locator interface {
	Locate(ctx context.Context, field, country, postcode string) (lat, lng float64, approximate bool, err error)
}

// WithPostcodes makes postcode= use the postcode data first.
func (a *API) WithPostcodes(l Locator) *API {
	a.postcodes = l
	return a
}

// NewAPI returns the API over the asset store, through which it reads
// the directory (the pool is no longer used; the composition root still
// passes it). log is the server's configured logger (so --log-format
// applies); nil discards.
func NewAPI(_ *pgxpool.Pool, as *assets.Store, log *slog.Logger) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{st: &store{assets: as}, log: log}
}

// Routes returns the API's handlers for the HTTP server. Each declares
// the query parameters it takes: the server refuses any other (and text
// that is not UTF-8 or holds NUL) before the handler runs, answering in
// this API's error form. Each pattern is also its key in the access
// policy (auth.Policy).
func (a *API) Routes() []httproute.Route {
	h := func(pattern string, fn func(*http.Request) (any, error), params ...string) httproute.Route {
		return httproute.Route{Pattern: "GET " + Prefix + pattern, Handler: a.handle(fn), Params: params, BadRequest: badRequest}
	}
	listParams := []string{"search", "page", "per_page", "format"}
	return []httproute.Route{
		h("/{$}", a.root),
		h("", a.root),
		{Pattern: "GET " + Prefix + "/openapi.json", BadRequest: badRequest, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			cors(w)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(openAPI)
		})},
		h("/services", a.services, serviceParams...),
		h("/services/{id}", a.service),
		h("/service_at_locations", a.serviceAtLocations, salParams...),
		h("/service_at_locations/{id}", a.serviceAtLocation),
		h("/organizations", a.organizations, append(listParams, "full_service", "full")...),
		h("/organizations/{id}", a.organization, "full_service"),
		h("/taxonomies", a.taxonomies, listParams...),
		h("/taxonomies/{id}", a.taxonomy),
		h("/taxonomy_terms", a.taxonomyTerms, append(listParams, "taxonomy_id", "top_only", "parent_id")...),
		h("/taxonomy_terms/{id}", a.taxonomyTerm),
		{Pattern: "OPTIONS " + Prefix + "/", Handler: http.HandlerFunc(preflight), BadRequest: badRequest},
	}
}

// badRequest writes a 400 refused at the server's edge as this API's
// errors are written.
func badRequest(w http.ResponseWriter, _ *http.Request, param, description string) {
	cors(w)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": http.StatusBadRequest, "message": param + ": " + description, "parameter": param})
}

// httpError is an answer other than 200, with the parameter at fault.
type httpError struct {
	status  int
	param   string
	message string
}

func (e *httpError) Error() string { return e.message }

func badParam(param, format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, param: param, message: param + ": " + fmt.Sprintf(format, args...)}
}

func notFound(what, id string) error {
	return &httpError{status: http.StatusNotFound, message: fmt.Sprintf("no %s with id %s", what, id)}
}

func cors(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
}

func preflight(w http.ResponseWriter, _ *http.Request) {
	cors(w)
	w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "*")
	w.Header().Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// handle writes a handler's result as JSON, or its error as a JSON body
// with the HTTP status: 400 with the parameter for bad requests, 404 for
// unknown ids, and a generic 500 (logged in full) for anything else.
func (a *API) handle(fn func(*http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cors(w)
		w.Header().Set("Content-Type", "application/json")
		v, err := fn(r)
		if err != nil {
			var he *httpError
			var ia *apierr.InvalidArgument
			body := map[string]any{}
			switch {
			case errors.As(err, &he):
				w.WriteHeader(he.status)
				body["code"], body["message"] = he.status, he.message
				if he.param != "" {
					body["parameter"] = he.param
				}
			case errors.As(err, &ia):
				w.WriteHeader(http.StatusBadRequest)
				body["code"], body["message"] = http.StatusBadRequest, ia.Error()
			case errors.Is(err, apierr.ErrNotFound):
				w.WriteHeader(http.StatusNotFound)
				body["code"], body["message"] = http.StatusNotFound, "not found"
			case errors.Is(err, context.Canceled):
				return
			case apierr.IsUnavailable(err): // a database outage, as on the gateway
				w.Header().Set("Retry-After", apierr.RetryAfter)
				w.WriteHeader(http.StatusServiceUnavailable)
				body["code"], body["message"] = http.StatusServiceUnavailable, "the database is unavailable; retry shortly"
			default:
				a.log.ErrorContext(r.Context(), "openreferral request failed", "path", r.URL.Path, "err", err)
				w.WriteHeader(http.StatusInternalServerError)
				body["code"], body["message"] = http.StatusInternalServerError, "internal error"
			}
			_ = json.NewEncoder(w).Encode(body)
			return
		}
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false) // "&" stays "&" in names and descriptions
		_ = enc.Encode(v)
	})
}

// params checks the query against the parameters an endpoint takes:
// unknown and repeated parameters are refused, not ignored, so a client's
// typo ("per-page") is not silently answered with the default.
type params struct {
	q url.Values
}

func checkParams(r *http.Request, allowed ...string) (params, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return params{}, &httpError{status: http.StatusBadRequest, message: "query string is malformed: " + err.Error()}
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return params{}, badParam(k, "unknown query parameter; this endpoint takes %s", strings.Join(allowed, ", "))
		}
		if len(q[k]) > 1 {
			return params{}, badParam(k, "given %d times; give it once", len(q[k]))
		}
	}
	return params{q: q}, nil
}

func (p params) str(k string) string { return p.q.Get(k) }

func (p params) has(k string) bool { return p.q.Has(k) }

func (p params) boolean(k string) (bool, error) {
	if !p.q.Has(k) {
		return false, nil
	}
	switch p.q.Get(k) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, badParam(k, "%q is not true or false", p.q.Get(k))
}

func (p params) int(k string, def, lo, hi int) (int, error) {
	if !p.q.Has(k) {
		return def, nil
	}
	n, err := strconv.Atoi(p.q.Get(k))
	if err != nil || n < lo || n > hi {
		return 0, badParam(k, "%q is not a whole number from %d to %d", p.q.Get(k), lo, hi)
	}
	return n, nil
}

func (p params) float(k string, lo, hi float64) (*float64, error) {
	if !p.q.Has(k) {
		return nil, nil
	}
	f, err := strconv.ParseFloat(p.q.Get(k), 64)
	if err != nil || math.IsNaN(f) || f < lo || f > hi {
		return nil, badParam(k, "%q is not a number from %g to %g", p.q.Get(k), lo, hi)
	}
	return &f, nil
}

func (p params) format() error {
	if f := p.q.Get("format"); f != "" && f != "json" {
		return badParam("format", "%q is not supported; SPARC answers json (paged)", f)
	}
	return nil
}

// paging reads page and per_page, and the format a paged answer is
// written in.
func (p params) paging() (page, perPage int, err error) {
	if page, err = p.int("page", 1, 1, maxPage); err != nil {
		return
	}
	if perPage, err = p.int("per_page", defaultPerPage, 1, maxPerPage); err != nil {
		return
	}
	return page, perPage, p.format()
}

// uuid reads an optional id parameter; nil when it is not given.
func (p params) uuid(k string) (*uuid.UUID, error) {
	if !p.q.Has(k) {
		return nil, nil
	}
	id, err := uuid.Parse(p.q.Get(k))
	if err != nil {
		return nil, badParam(k, "%q is not a UUID", p.q.Get(k))
	}
	return &id, nil
}

func pageOf[T any](contents []T, total, page, perPage int) Page[T] {
	if contents == nil {
		contents = []T{}
	}
	pages := (total + perPage - 1) / perPage
	return Page[T]{
		TotalItems: total, TotalPages: pages, PageNumber: page, Size: len(contents),
		FirstPage: page == 1, LastPage: page >= pages, Empty: len(contents) == 0, Contents: contents,
	}
}

func (a *API) root(r *http.Request) (any, error) {
	if _, err := checkParams(r); err != nil {
		return nil, err
	}
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return APIDetails{
		Version:    Version,
		Profile:    "https://openreferraluk.org/",
		OpenAPIURL: scheme + "://" + r.Host + Prefix + "/openapi.json",
	}, nil
}

// Parameters of the list endpoints, as the ORUK OpenAPI document lists
// them, plus SPARC's latitude and longitude for proximity without a
// postcode.
var (
	serviceParams = []string{"search", "page", "per_page", "format", "taxonomy_term_id", "taxonomy_id",
		"organization_id", "modified_after", "minimal", "full", "postcode", "proximity", "latitude", "longitude"}
	salParams = []string{"search", "taxonomy_term_id", "taxonomy_id", "organization_id", "modified_after",
		"full", "page", "per_page", "format", "postcode", "proximity", "latitude", "longitude"}
)

// serviceFilter reads the filters shared by services and
// service_at_locations.
func (a *API) serviceFilter(ctx context.Context, p params) (filter, int, int, error) {
	var f filter
	page, perPage, err := p.paging()
	if err != nil {
		return f, 0, 0, err
	}
	f.Limit, f.Offset = perPage, (page-1)*perPage
	for _, read := range []func(params, *filter) error{searchFilter, termFilter, taxonomyFilter, ownerFilter, modifiedFilter} {
		if err := read(p, &f); err != nil {
			return f, 0, 0, err
		}
	}
	if f.Near, err = a.proximity(ctx, p); err != nil {
		return f, 0, 0, err
	}
	return f, page, perPage, nil
}

func searchFilter(p params, f *filter) error {
	s := p.str("search")
	if s == "" {
		return nil
	}
	if len(s) > maxSearchLen {
		return badParam("search", "is %d bytes, more than the maximum of %d", len(s), maxSearchLen)
	}
	if f.Text = assets.TextQuery(s); f.Text == "" {
		return badParam("search", "has no words to search for")
	}
	return nil
}

// termFilter reads taxonomy_term_id: a category or kind term, or one of
// the service facts a service may carry; any other term matches nothing.
func termFilter(p params, f *filter) error {
	id, err := p.uuid("taxonomy_term_id")
	if err != nil || id == nil {
		return err
	}
	hit, ok := termByID[*id]
	switch {
	case !ok:
		f.None = true
	case hit.tax.code == TaxCategories:
		f.Categories = []string{hit.term.code}
	case hit.tax.code == TaxKinds:
		f.Kinds = []string{hit.term.code}
	case hit.term.code == AttrCapacity:
		f.HasCapacity = true
	case hit.term.code == AttrTimezone:
		f.OtherZone = true
	}
	return nil
}

func taxonomyFilter(p params, f *filter) error {
	id, err := p.uuid("taxonomy_id")
	if err != nil || id == nil {
		return err
	}
	switch *id {
	case taxonomyID(TaxCategories):
		f.HasCategory = true
	case taxonomyID(TaxKinds), taxonomyID(TaxAttributes):
		// every service carries a kind and the accepting_referrals attribute
	default:
		f.None = true
	}
	return nil
}

func ownerFilter(p params, f *filter) error {
	id, err := p.uuid("organization_id")
	if err != nil || id == nil {
		return err
	}
	owner := id.String()
	f.Owner = &owner
	return nil
}

func modifiedFilter(p params, f *filter) error {
	if !p.has("modified_after") {
		return nil
	}
	s := p.str("modified_after")
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		if t, err = time.Parse(time.DateOnly, s); err != nil {
			return badParam("modified_after", "%q is not an RFC 3339 date-time (2025-01-31T09:00:00Z) or a date (2025-01-31)", s)
		}
	}
	f.ModifiedAfter = &t
	return nil
}

// proximity reads the proximity filter: a postcode (located from the
// directory's own addresses) or a latitude and longitude, within
// proximity metres; nil when none is asked for.
func (a *API) proximity(ctx context.Context, p params) (*assets.Near, error) {
	lat, err := p.float("latitude", -90, 90)
	if err != nil {
		return nil, err
	}
	lng, err := p.float("longitude", -180, 180)
	if err != nil {
		return nil, err
	}
	radius, err := p.float("proximity", 0, maxRadius)
	if err != nil {
		return nil, err
	}
	if radius != nil && *radius <= 0 {
		return nil, badParam("proximity", "must be more than 0 metres")
	}
	switch {
	case (lat == nil) != (lng == nil):
		return nil, badParam("latitude", "latitude and longitude go together")
	case lat != nil && p.has("postcode"):
		return nil, badParam("postcode", "give a postcode or latitude and longitude, not both")
	case p.has("postcode"):
		pc := normalisePostcode(p.str("postcode"))
		if pc == "" || len(pc) > 16 {
			return nil, badParam("postcode", "%q is not a postcode", p.str("postcode"))
		}
		var located error
		if a.postcodes != nil {
			y, x, _, err := a.postcodes.Locate(ctx, "postcode", "", pc)
			var bad *apierr.InvalidArgument
			if err == nil {
				lat, lng = &y, &x
				break
			} else if !errors.As(err, &bad) {
				return nil, err
			}
			located = err
		}
		y, x, ok, err := a.st.assets.PostcodeCentre(ctx, pc)
		if err != nil {
			return nil, err
		}
		if !ok {
			if located != nil {
				return nil, badParam("postcode", "%s, and no address in this directory has it either; search with latitude and longitude instead",
					strings.TrimPrefix(located.Error(), "invalid argument: postcode: "))
			}
			return nil, badParam("postcode", "%s is not an address in this directory, so SPARC cannot place it; search with latitude and longitude instead", pc)
		}
		lat, lng = &y, &x
	case radius != nil && lat == nil:
		return nil, badParam("proximity", "needs a postcode, or latitude and longitude, to measure from")
	}
	if lat == nil {
		return nil, nil
	}
	r := float64(defaultRadius)
	if radius != nil {
		r = *radius
	}
	return &assets.Near{Lat: *lat, Lng: *lng, RadiusMeters: r}, nil
}

func normalisePostcode(s string) string {
	return strings.Join(strings.Fields(strings.ToUpper(s)), " ")
}

// assetQuery is a checked services or service_at_locations query.
type assetQuery struct {
	p             params
	f             filter
	full          bool
	page, perPage int
}

func (a *API) assetQuery(r *http.Request, allowed []string) (assetQuery, error) {
	q := assetQuery{}
	var err error
	if q.p, err = checkParams(r, allowed...); err != nil {
		return q, err
	}
	if q.f, q.page, q.perPage, err = a.serviceFilter(r.Context(), q.p); err != nil {
		return q, err
	}
	q.full, err = q.p.boolean("full")
	return q, err
}

// assetPage runs the query and writes each asset of the page with write.
func assetPage[T any](ctx context.Context, a *API, q assetQuery, write func(as *sparcv1.Asset, orgs Orgs) T) (Page[T], error) {
	list, orgs, total, err := a.st.list(ctx, q.f)
	if err != nil {
		return Page[T]{}, err
	}
	out := make([]T, len(list))
	for i, as := range list {
		out[i] = write(as, orgs)
	}
	return pageOf(out, total, q.page, q.perPage), nil
}

func (a *API) services(r *http.Request) (any, error) {
	q, err := a.assetQuery(r, serviceParams)
	if err != nil {
		return nil, err
	}
	minimal, err := q.p.boolean("minimal")
	if err != nil {
		return nil, err
	}
	if q.full && minimal {
		return nil, badParam("minimal", "cannot be combined with full=true")
	}
	return assetPage(r.Context(), a, q, func(as *sparcv1.Asset, orgs Orgs) Service {
		switch {
		case minimal:
			head := serviceOf(as, levelList, nil)
			return Service{
				ID:           head.ID,
				Name:         head.Name,
				Description:  head.Description, // required by ORUK: the real one, not ""
				Status:       head.Status,
				LastModified: as.GetUpdateTime().AsTime().UTC().Format(time.RFC3339Nano),
			}
		case q.full:
			return serviceOf(as, levelFull, orgs)
		}
		return serviceOf(as, levelList, orgs)
	})
}

func pathID(r *http.Request, what string) (uuid.UUID, error) {
	s := r.PathValue("id")
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.Nil, &httpError{status: http.StatusBadRequest, param: "id",
			message: fmt.Sprintf("id: %q is not a %s id (ids are UUIDs)", s, what)}
	}
	return id, nil
}

// onlyID reads the path id of an endpoint that takes no query parameters.
func onlyID(r *http.Request, what string) (uuid.UUID, error) {
	if _, err := checkParams(r); err != nil {
		return uuid.Nil, err
	}
	return pathID(r, what)
}

// oneAsset reads the asset a get-one endpoint names by its path id: the
// asset's own id, or the id of one of its parts (a service_at_location).
func (a *API) oneAsset(r *http.Request, what, part string) (*sparcv1.Asset, Orgs, error) {
	id, err := onlyID(r, what)
	if err != nil {
		return nil, nil, err
	}
	assetID := id
	if part != "" {
		assetID = assetOf(id, part)
	}
	as, orgs, err := a.st.assetWithOrg(r.Context(), assetID)
	if err != nil {
		return nil, nil, err
	}
	if as == nil {
		return nil, nil, notFound(what, id.String())
	}
	return as, orgs, nil
}

func (a *API) service(r *http.Request) (any, error) {
	as, orgs, err := a.oneAsset(r, "service", "")
	if err != nil {
		return nil, err
	}
	return ServiceOf(as, orgs), nil
}

// salOf is the service_at_location of an asset: its location, and the
// service (list level unless full).
func salOf(as *sparcv1.Asset, full bool, orgs Orgs) ServiceAtLocation {
	s := serviceOf(as, levelFull, orgs)
	sal := s.ServiceAtLocations[0]
	if full {
		s.ServiceAtLocations = nil
		sal.Service = &s
	} else {
		ls := serviceOf(as, levelList, orgs)
		sal.Service = &ls
	}
	return sal
}

func (a *API) serviceAtLocations(r *http.Request) (any, error) {
	q, err := a.assetQuery(r, salParams)
	if err != nil {
		return nil, err
	}
	return assetPage(r.Context(), a, q, func(as *sparcv1.Asset, orgs Orgs) ServiceAtLocation {
		return salOf(as, q.full, orgs)
	})
}

func (a *API) serviceAtLocation(r *http.Request) (any, error) {
	as, orgs, err := a.oneAsset(r, "service_at_location", partServiceAtLocation)
	if err != nil {
		return nil, err
	}
	return salOf(as, true, orgs), nil
}

// pagedParams checks the query of a paged list of SPARC's own data
// (organizations, taxonomies, terms) and reads its page.
func pagedParams(r *http.Request, allowed ...string) (p params, page, perPage int, err error) {
	if p, err = checkParams(r, allowed...); err != nil {
		return p, 0, 0, err
	}
	page, perPage, err = p.paging()
	return p, page, perPage, err
}

func (a *API) organizations(r *http.Request) (any, error) {
	p, page, perPage, err := pagedParams(r, "search", "full_service", "full", "page", "per_page", "format")
	if err != nil {
		return nil, err
	}
	full, err := p.boolean("full")
	if err != nil {
		return nil, err
	}
	fullService, err := p.boolean("full_service")
	if err != nil {
		return nil, err
	}
	all, err := a.st.owningOrgs(r.Context(), nil)
	if err != nil {
		return nil, err
	}
	if s := strings.ToLower(p.str("search")); s != "" {
		all = slices.DeleteFunc(all, func(o orgRow) bool { return !strings.Contains(strings.ToLower(o.Name), s) })
	}
	shown := window(all, page, perPage)
	out := make([]Organization, 0, len(shown))
	for _, o := range shown {
		org, err := a.orgOf(r.Context(), o, full || fullService, fullService)
		if err != nil {
			return nil, err
		}
		out = append(out, org)
	}
	return pageOf(out, len(all), page, perPage), nil
}

// maxOrgServices bounds the services nested in one organization.
const maxOrgServices = 1000

// orgOf is an owner as an ORUK organization, with its services nested
// when nested is set (fully when full).
func (a *API) orgOf(ctx context.Context, o orgRow, nested, full bool) (Organization, error) {
	org := *Orgs{o.id: o.OrgInfo}.organization(o.id)
	if !nested {
		return org, nil
	}
	list, orgs, _, err := a.st.list(ctx, filter{Owner: &o.id, Limit: maxOrgServices})
	if err != nil {
		return org, err
	}
	lv := levelList
	if full {
		lv = levelFull
	}
	org.Services = make([]Service, len(list))
	for i, as := range list {
		org.Services[i] = serviceOf(as, lv, orgs)
		org.Services[i].Organization = nil
	}
	return org, nil
}

func (a *API) organization(r *http.Request) (any, error) {
	p, err := checkParams(r, "full_service")
	if err != nil {
		return nil, err
	}
	fullService, err := p.boolean("full_service")
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "organization")
	if err != nil {
		return nil, err
	}
	found, err := a.st.owningOrgs(r.Context(), &id)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, notFound("organization", id.String())
	}
	return a.orgOf(r.Context(), found[0], true, fullService)
}

func (a *API) taxonomies(r *http.Request) (any, error) {
	p, page, perPage, err := pagedParams(r, "search", "page", "per_page", "format")
	if err != nil {
		return nil, err
	}
	s := strings.ToLower(p.str("search"))
	var all []Taxonomy
	for _, tx := range taxonomies {
		if s == "" || strings.Contains(strings.ToLower(tx.name+" "+tx.description), s) {
			all = append(all, tx.toORUK(false))
		}
	}
	return pageOf(window(all, page, perPage), len(all), page, perPage), nil
}

// window is the page's part of all.
func window[T any](all []T, page, perPage int) []T {
	total := len(all)
	return all[min((page-1)*perPage, total):min(page*perPage, total)]
}

func (a *API) taxonomy(r *http.Request) (any, error) {
	id, err := onlyID(r, "taxonomy")
	if err != nil {
		return nil, err
	}
	for _, tx := range taxonomies {
		if taxonomyID(tx.code) == id {
			return tx.toORUK(true), nil
		}
	}
	return nil, notFound("taxonomy", id.String())
}

func (a *API) taxonomyTerms(r *http.Request) (any, error) {
	p, page, perPage, err := pagedParams(r, "search", "page", "per_page", "format", "taxonomy_id", "top_only", "parent_id")
	if err != nil {
		return nil, err
	}
	if _, err := p.boolean("top_only"); err != nil {
		return nil, err // every SPARC term is a top term: the filter keeps all
	}
	taxID, err := p.uuid("taxonomy_id")
	if err != nil {
		return nil, err
	}
	if _, err := p.uuid("parent_id"); err != nil {
		return nil, err
	}
	s := strings.ToLower(p.str("search"))
	all := []TaxonomyTerm{}
	for _, tx := range taxonomies {
		if taxID != nil && taxonomyID(tx.code) != *taxID {
			continue
		}
		for _, t := range tx.terms {
			// SPARC's vocabularies are flat: no term has a parent.
			if p.has("parent_id") {
				continue
			}
			if s == "" || strings.Contains(strings.ToLower(t.name+" "+t.code+" "+t.description), s) {
				all = append(all, tx.term(t))
			}
		}
	}
	return pageOf(window(all, page, perPage), len(all), page, perPage), nil
}

func (a *API) taxonomyTerm(r *http.Request) (any, error) {
	id, err := onlyID(r, "taxonomy_term")
	if err != nil {
		return nil, err
	}
	hit, ok := termByID[id]
	if !ok {
		return nil, notFound("taxonomy_term", id.String())
	}
	return hit.tax.term(hit.term), nil
}
