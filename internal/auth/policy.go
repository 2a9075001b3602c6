package auth

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Role names as stored on keys and set for row-level security.
const (
	RoleAdmin       = "admin"
	RoleLinkWorker  = "link_worker"
	RoleGroupEditor = "group_editor"
	RoleAreaAnalyst = "area_analyst"
	// RoleNetworkAdmin runs the network (organisations, keys of any
	// organisation, the whole audit, shared geographies). It is not an
	// organisation role: it reads no people or referrals and changes no
	// organisation's assets.
	RoleNetworkAdmin = "network_admin"
)

// Rule says who may call one RPC or plain HTTP route.
type Rule struct {
	// Public methods need no key (open data). A key, if sent, must be valid.
	Public bool
	// Roles allowed with a key; for public methods, empty means every role.
	Roles []string
	// Audit: the call reads or changes non-public data, so every call
	// (allowed or not) leaves an audit event.
	Audit bool
	// Resource is the kind of resource the method addresses by id
	// ("asset"); a caller whose role may not call the method then gets the
	// same NOT_FOUND as for a missing id, so ids cannot be probed.
	Resource string
	// Credentials: a successful call may make a key unusable (revoke it,
	// suspend its organisation), so the layer drops its key cache.
	Credentials bool
}

var anyRole = []string(nil)

// everyRole is every role, for methods open to any authenticated caller
// (not public: an empty Roles would admit no one).
var everyRole = []string{RoleAdmin, RoleLinkWorker, RoleGroupEditor, RoleAreaAnalyst, RoleNetworkAdmin}

// Policy lists every RPC the server offers, by full method name, and every
// plain HTTP route, by its pattern ("GET /openreferral/services"): one
// table for the one guard. A method or route missing here is refused
// (fail closed). Adding an RPC or a route? Add its rule here AND a row to
// the authorisation matrix test (internal/auth/matrix_test.go; plain
// routes in matrix_plain_test.go).
var Policy = map[string]Rule{
	// Directory: open data to read; the owner organisation's editors and
	// admin to write (Principal.CanWriteOwnedBy), never another's.
	"/sparc.v1.AssetService/GetAsset":       {Public: true, Roles: anyRole},
	"/sparc.v1.AssetService/ListAssets":     {Public: true, Roles: anyRole},
	"/sparc.v1.AssetService/SearchAssets":   {Public: true, Roles: anyRole},
	"/sparc.v1.AssetService/ListVocabulary": {Public: true, Roles: anyRole},
	"/sparc.v1.AssetService/CreateAsset":    {Roles: []string{RoleAdmin, RoleGroupEditor}, Audit: true},
	"/sparc.v1.AssetService/UpdateAsset":    {Roles: []string{RoleAdmin, RoleGroupEditor}, Audit: true, Resource: "asset"},
	"/sparc.v1.AssetService/DeleteAsset":    {Roles: []string{RoleAdmin, RoleGroupEditor}, Audit: true, Resource: "asset"},
	// Imports from other directories (ORUK) write many assets at once, all
	// owned by the importing admin's organisation.
	"/sparc.v1.DirectoryImportService/UpsertSourcedAssets": {Roles: []string{RoleAdmin}, Audit: true},

	// Organisations: public fields are open. The network admin creates
	// and suspends them; an organisation's admin changes its own details.
	"/sparc.v1.OrganisationService/GetOrganisation":    {Public: true, Roles: anyRole},
	"/sparc.v1.OrganisationService/ListOrganisations":  {Public: true, Roles: anyRole},
	"/sparc.v1.OrganisationService/CreateOrganisation": {Roles: []string{RoleNetworkAdmin}, Audit: true},
	"/sparc.v1.OrganisationService/UpdateOrganisation": {Roles: []string{RoleAdmin, RoleNetworkAdmin}, Audit: true, Resource: "organisation", Credentials: true},
	// Who am I: every role may ask who its own credentials stand for
	// (nothing another caller's); without credentials there is no one.
	// Not audited: it reads only what the caller sent and public fields.
	"/sparc.v1.OrganisationService/GetCaller": {Roles: everyRole},

	// Keys and audit: an organisation's admin for its own organisation
	// (Principal.CanAdminister), the network admin for all; every call is
	// itself audited.
	"/sparc.v1.ApiKeyService/CreateApiKey":   {Roles: []string{RoleAdmin, RoleNetworkAdmin}, Audit: true},
	"/sparc.v1.ApiKeyService/ListApiKeys":    {Roles: []string{RoleAdmin, RoleNetworkAdmin}, Audit: true},
	"/sparc.v1.ApiKeyService/RevokeApiKey":   {Roles: []string{RoleAdmin, RoleNetworkAdmin}, Audit: true, Resource: "API key", Credentials: true},
	"/sparc.v1.AuditService/ListAuditEvents": {Roles: []string{RoleAdmin, RoleNetworkAdmin}, Audit: true},
	// Official geographies and coverage maps are computed from open data
	// (the directory, boundaries, deprivation): public. Loading them
	// changes what every organisation sees, so it is the network admin's.
	"/sparc.v1.AreaService/GetArea": {Public: true, Roles: anyRole},
	// Postcodes: open data (OS Code-Point Open, GeoNames), public.
	"/sparc.v1.PostcodeService/GetPostcode":       {Public: true, Roles: anyRole},
	"/sparc.v1.AreaService/ListAreas":             {Public: true, Roles: anyRole},
	"/sparc.v1.AreaService/ImportAreas":           {Roles: []string{RoleNetworkAdmin}, Audit: true},
	"/sparc.v1.AreaService/ImportAreaAttributes":  {Roles: []string{RoleNetworkAdmin}, Audit: true},
	"/sparc.v1.AreaService/SetDeprivationMeasure": {Roles: []string{RoleNetworkAdmin}, Audit: true},
	"/sparc.v1.CoverageService/ComputeCoverage":   {Public: true, Roles: anyRole},
	// Demand by where people live is computed from referrals, not open
	// data: the roles that read aggregates (admins, area analysts), under
	// the disclosure rule; audited.
	"/sparc.v1.CoverageService/ComputeDemand": {Roles: []string{RoleAdmin, RoleAreaAnalyst}, Audit: true},
	// The stored coverage's walking distance and state: the state is as
	// open as the coverage; changing the distance changes every answer,
	// so it is the network admin's.
	// Relational analytics (docs/security.md, "Relational analytics"):
	// the referral network and outcome evidence are computed from every
	// organisation's referrals, so they are for the roles that read
	// aggregates, released under the disclosure rule with organisations
	// that are not public as anonymous codes; audited. The network admin
	// is absent, as from referral statistics.
	"/sparc.v1.AnalyticsService/GetReferralNetwork":    {Roles: []string{RoleAdmin, RoleAreaAnalyst}, Audit: true},
	"/sparc.v1.AnalyticsService/GetOutcomeEvidence":    {Roles: []string{RoleAdmin, RoleAreaAnalyst}, Audit: true},
	"/sparc.v1.CoverageService/GetCoverageSettings":    {Public: true, Roles: anyRole},
	"/sparc.v1.CoverageService/UpdateCoverageSettings": {Roles: []string{RoleNetworkAdmin}, Audit: true},

	// People and referrals: need-to-know, always audited. Row-level
	// security further limits every row to the organisations it concerns.
	// The network admin is deliberately absent: running the network is no
	// reason to read anyone's health data.
	"/sparc.v1.PersonService/CreatePerson":                           {Roles: []string{RoleAdmin, RoleLinkWorker}, Audit: true},
	"/sparc.v1.PersonService/GetPerson":                              {Roles: []string{RoleAdmin, RoleLinkWorker}, Audit: true, Resource: "person"},
	"/sparc.v1.PersonService/UpdatePerson":                           {Roles: []string{RoleAdmin, RoleLinkWorker}, Audit: true, Resource: "person"},
	"/sparc.v1.PersonService/ListPeople":                             {Roles: []string{RoleAdmin, RoleLinkWorker}, Audit: true},
	"/sparc.v1.PersonService/SearchPeople":                           {Roles: []string{RoleAdmin, RoleLinkWorker}, Audit: true},
	"/sparc.v1.ReferralService/CreateReferral":                       {Roles: []string{RoleAdmin, RoleLinkWorker}, Audit: true},
	"/sparc.v1.ReferralService/GetReferral":                          {Roles: []string{RoleAdmin, RoleLinkWorker, RoleGroupEditor}, Audit: true, Resource: "referral"},
	"/sparc.v1.ReferralService/ListReferrals":                        {Roles: []string{RoleAdmin, RoleLinkWorker, RoleGroupEditor}, Audit: true},
	"/sparc.v1.ReferralService/TransitionReferral":                   {Roles: []string{RoleAdmin, RoleLinkWorker, RoleGroupEditor}, Audit: true, Resource: "referral"},
	"/sparc.v1.ReferralService/RecordOutcome":                        {Roles: []string{RoleAdmin, RoleLinkWorker, RoleGroupEditor}, Audit: true, Resource: "referral"},
	"/sparc.v1.ReferralService/WatchReferrals":                       {Roles: []string{RoleAdmin, RoleLinkWorker, RoleGroupEditor}, Audit: true},
	"/sparc.v1.ReferralService/ComputeReferralStats":                 {Roles: []string{RoleAdmin, RoleLinkWorker, RoleGroupEditor, RoleAreaAnalyst}, Audit: true},
	"/sparc.v1.WebhookService/CreateWebhook":                         {Roles: []string{RoleAdmin, RoleLinkWorker, RoleGroupEditor}, Audit: true},
	"/sparc.v1.WebhookService/GetWebhook":                            {Roles: []string{RoleAdmin, RoleLinkWorker, RoleGroupEditor}, Audit: true, Resource: "webhook"},
	"/sparc.v1.WebhookService/ListWebhooks":                          {Roles: []string{RoleAdmin, RoleLinkWorker, RoleGroupEditor}, Audit: true},
	"/sparc.v1.WebhookService/DeleteWebhook":                         {Roles: []string{RoleAdmin, RoleLinkWorker, RoleGroupEditor}, Audit: true, Resource: "webhook"},
	"/sparc.v1.NotificationService/GetEmailNotificationSettings":     {Roles: []string{RoleAdmin}, Audit: true, Resource: "emailNotificationSettings"},
	"/sparc.v1.NotificationService/UpdateEmailNotificationSettings":  {Roles: []string{RoleAdmin}, Audit: true, Resource: "emailNotificationSettings"},
	"/grpc.health.v1.Health/Check":                                   {Public: true},
	"/grpc.health.v1.Health/List":                                    {Public: true},
	"/grpc.health.v1.Health/Watch":                                   {Public: true},
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      {Public: true},
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": {Public: true},

	// Plain HTTP routes, served beside the gateway: the same open data
	// in other forms. The API's OpenAPI document; Open Referral UK, the
	// directory as other directories read it (CORS open, hence the
	// preflight); coverage as downloads, vector tiles and the map page.
	"GET /openapi.json":                           {Public: true, Roles: anyRole},
	"GET /openreferral/{$}":                       {Public: true, Roles: anyRole},
	"GET /openreferral":                           {Public: true, Roles: anyRole},
	"GET /openreferral/openapi.json":              {Public: true, Roles: anyRole},
	"GET /openreferral/services":                  {Public: true, Roles: anyRole},
	"GET /openreferral/services/{id}":             {Public: true, Roles: anyRole},
	"GET /openreferral/service_at_locations":      {Public: true, Roles: anyRole},
	"GET /openreferral/service_at_locations/{id}": {Public: true, Roles: anyRole},
	"GET /openreferral/organizations":             {Public: true, Roles: anyRole},
	"GET /openreferral/organizations/{id}":        {Public: true, Roles: anyRole},
	"GET /openreferral/taxonomies":                {Public: true, Roles: anyRole},
	"GET /openreferral/taxonomies/{id}":           {Public: true, Roles: anyRole},
	"GET /openreferral/taxonomy_terms":            {Public: true, Roles: anyRole},
	"GET /openreferral/taxonomy_terms/{id}":       {Public: true, Roles: anyRole},
	"OPTIONS /openreferral/":                      {Public: true, Roles: anyRole},
	"GET /v1/coverage.geojson":                    {Public: true, Roles: anyRole},
	"GET /v1/coverage.csv":                        {Public: true, Roles: anyRole},
	"GET /tiles/assets/{z}/{x}/{y}":               {Public: true, Roles: anyRole},
	"GET /tiles/coverage/{z}/{x}/{y}":             {Public: true, Roles: anyRole},
	"GET /map":                                    {Public: true, Roles: anyRole},
	"GET /map/{file}":                             {Public: true, Roles: anyRole},
	// The web console (internal/console): static files, no data; / sends
	// a browser there.
	"GET /{$}":               {Public: true, Roles: anyRole},
	"GET /app/{$}":           {Public: true, Roles: anyRole},
	"GET /app/assets/{file}": {Public: true, Roles: anyRole},
	"GET /app/config.json":   {Public: true, Roles: anyRole}, // how to sign in: nothing secret
	// The printable referral names the person: the referring side only.
	// The group editor passes here so that the provider and another
	// organisation get the same 404 as a missing referral from the
	// handler's side check (internal/referrals/print.go); audited.
	"GET /v1/referrals/{id}/print": {Roles: []string{RoleAdmin, RoleLinkWorker, RoleGroupEditor}, Audit: true, Resource: "referral"},
	// Demand by where people live as CSV: as ComputeDemand.
	"GET /v1/demand.csv":     {Roles: []string{RoleAdmin, RoleAreaAnalyst}, Audit: true},
	"GET /v1/demand.geojson": {Roles: []string{RoleAdmin, RoleAreaAnalyst}, Audit: true},
	// The referral network's exports and the neighbourhood report: as
	// GetReferralNetwork.
	"GET /v1/referralNetwork.graphml": {Roles: []string{RoleAdmin, RoleAreaAnalyst}, Audit: true},
	"GET /v1/referralNetwork.csv":     {Roles: []string{RoleAdmin, RoleAreaAnalyst}, Audit: true},
	"GET /v1/reports/neighbourhood":   {Roles: []string{RoleAdmin, RoleAreaAnalyst}, Audit: true},
}

func (r Rule) allows(role string) bool {
	if len(r.Roles) == 0 {
		return r.Public
	}
	for _, x := range r.Roles {
		if x == role {
			return true
		}
	}
	return false
}

// resourceName finds the id or resource name a request addresses: a
// top-level "id" or "name" field, or that of its single message field
// ("asset.id", "organisation.name").
func resourceName(req any) string {
	m, ok := req.(proto.Message)
	if !ok {
		return ""
	}
	r := m.ProtoReflect()
	fields := r.Descriptor().Fields()
	if fd := idField(fields); fd != nil {
		return r.Get(fd).String()
	}
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() && r.Has(fd) {
			sub := r.Get(fd).Message()
			if id := idField(sub.Descriptor().Fields()); id != nil {
				return sub.Get(id).String()
			}
		}
	}
	return ""
}

// idField is the string field that identifies: "id", or "name" (AIP-122).
func idField(fields protoreflect.FieldDescriptors) protoreflect.FieldDescriptor {
	for _, n := range []protoreflect.Name{"id", "name"} {
		if fd := fields.ByName(n); fd != nil && fd.Kind() == protoreflect.StringKind {
			return fd
		}
	}
	return nil
}
