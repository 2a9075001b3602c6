package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

func init() {
	register("assets create", "create an asset from flags or a JSON file", assetsCreate)
	register("assets get", "show one asset: sparc assets get NAME (assets/UUID or the UUID)", assetsGet)
	register("assets update", "change the fields given as flags: sparc assets update NAME --etag E ...", assetsUpdate)
	register("assets delete", "delete an asset: sparc assets delete NAME [--etag E]", assetsDelete)
	register("assets list", "list assets by category, kind, status, owner, change time", assetsList)
	register("assets search", "find assets near a point, in a box or polygon, with filters", assetsSearch)
}

// assetField ties a flag of create/update to the update-mask path it sets,
// so "update" sends exactly the fields the user named.
type assetField struct {
	flag, path string
}

// assetFields is in the order the mask is sent.
var assetFields = []assetField{
	{"display-name", "display_name"}, {"name", "display_name"}, {"kind", "kind"}, {"description", "description"},
	{"category", "categories"},
	{"lat", "location.latitude"}, {"lng", "location.longitude"},
	{"address", "location.address"}, {"postcode", "location.postcode"},
	{"locality", "location.locality"}, {"country", "location.country"},
	{"service-area", "service_area_geojson"}, {"session", "sessions"},
	{"cost", "cost.kind"}, {"cost-note", "cost.note"},
	{"accessibility", "accessibility"}, {"language", "languages"},
	{"min-age", "age_range.min_age"}, {"max-age", "age_range.max_age"},
	{"contact-name", "contact.name"}, {"email", "contact.email"},
	{"phone", "contact.phone"}, {"website", "contact.website"},
	{"capacity", "capacity"}, {"accepting-referrals", "accepting_referrals"},
	{"status", "status"}, {"owner", "owner_organisation"},
	{"verified", "last_verified_time"}, {"availability", "availability"},
	{"delivery", "delivery_mode"}, {"area-code", "service_area"}, {"area-country", "service_area"},
}

// assetFlags are the flags shared by create and update.
type assetFlags struct {
	name, kind, description              string
	categories, accessibility, languages stringList
	lat, lng                             float64
	address, postcode, locality, country string
	serviceArea                          string
	sessions                             stringList
	cost, costNote                       string
	minAge, maxAge, capacity             int
	contactName, email, phone, website   string
	acceptingReferrals                   bool
	status, owner, verified              string
	availability                         string
	delivery, areaCountry                string
	areaCodes                            stringList
	file                                 string
	set                                  map[string]bool // flags given
}

func (f *assetFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.name, "display-name", "", "display name")
	fs.StringVar(&f.name, "name", "", "same as --display-name")
	fs.StringVar(&f.kind, "kind", "", "ABCD kind: "+enumChoices(sparcv1.AssetKind_name, "ASSET_KIND_"))
	fs.StringVar(&f.description, "description", "", "description")
	fs.Var(&f.categories, "category", "category code (repeatable or comma-separated; see GET /v1/vocabulary)")
	fs.Float64Var(&f.lat, "lat", 0, "latitude (WGS84)")
	fs.Float64Var(&f.lng, "lng", 0, "longitude (WGS84)")
	fs.StringVar(&f.address, "address", "", "street address")
	fs.StringVar(&f.postcode, "postcode", "", "postcode")
	fs.StringVar(&f.locality, "locality", "", "town or district")
	fs.StringVar(&f.country, "country", "", "GB or NL")
	fs.StringVar(&f.serviceArea, "service-area", "", "`FILE` with the GeoJSON Polygon or MultiPolygon the asset serves (or a Feature holding one)")
	fs.Var(&f.sessions, "session", "weekly session \"DAY HH:MM-HH:MM [ZONE]\", e.g. \"tue 10:00-11:30 Europe/London\" (repeatable; ZONE defaults from --country)")
	fs.StringVar(&f.cost, "cost", "", "cost: "+enumChoices(sparcv1.CostKind_name, "COST_KIND_"))
	fs.StringVar(&f.costNote, "cost-note", "", "note on the cost, e.g. \"£2 per session\"")
	fs.Var(&f.accessibility, "accessibility", "accessibility feature code (repeatable or comma-separated)")
	fs.Var(&f.languages, "language", "language spoken, ISO 639-1 (repeatable or comma-separated)")
	fs.IntVar(&f.minAge, "min-age", 0, "youngest age welcome, in years")
	fs.IntVar(&f.maxAge, "max-age", 0, "oldest age welcome, in years")
	fs.StringVar(&f.contactName, "contact-name", "", "contact person")
	fs.StringVar(&f.email, "email", "", "contact email")
	fs.StringVar(&f.phone, "phone", "", "contact phone")
	fs.StringVar(&f.website, "website", "", "website URL")
	fs.IntVar(&f.capacity, "capacity", 0, "places per session")
	fs.BoolVar(&f.acceptingReferrals, "accepting-referrals", false, "accepts referrals from link workers (--accepting-referrals=false to stop)")
	fs.StringVar(&f.status, "status", "", "status: "+enumChoices(sparcv1.AssetStatus_name, "ASSET_STATUS_"))
	fs.StringVar(&f.availability, "availability", "", "how it runs (open-at searches follow it): "+enumChoices(sparcv1.Availability_name, "AVAILABILITY_"))
	fs.StringVar(&f.delivery, "delivery", "", "how it reaches people: "+enumChoices(sparcv1.DeliveryMode_name, "DELIVERY_MODE_")+
		" (a remote service has no --lat/--lng and gives --area-code, --area-country or --service-area)")
	fs.Var(&f.areaCodes, "area-code", "code of an area a remote service covers, e.g. E08000025 (repeatable or comma-separated; see sparc areas)")
	fs.StringVar(&f.areaCountry, "area-country", "", "a remote service covering the whole country: GB or NL")
	fs.StringVar(&f.owner, "owner", "", "owner organisation (organisations/UUID or the UUID)")
	fs.StringVar(&f.verified, "verified", "", "when the listing was last confirmed true: RFC 3339 time, YYYY-MM-DD or \"now\"")
	fs.StringVar(&f.file, "file", "", "`FILE` with an Asset as JSON (as printed by 'sparc -o json assets get'); \"-\" reads standard input; flags override its fields")
}

// asset builds the asset from --file (if any) and the flags given, and
// returns the mask paths the flags and file touched.
func (f *assetFlags) asset(c *cli) (*sparcv1.Asset, []string, error) {
	a := &sparcv1.Asset{}
	var paths []string
	if f.set["file"] {
		var err error
		if a, err = readAssetFile(c, f.file); err != nil {
			return nil, nil, err
		}
		// A file names whole top-level fields; output-only fields are not
		// part of an update.
		a.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			switch fd.Name() {
			case "name", "etag", "create_time", "update_time":
			default:
				paths = append(paths, string(fd.Name()))
			}
			return true
		})
	}
	for _, af := range assetFields {
		if !f.set[af.flag] {
			continue
		}
		paths = append(paths, af.path)
		if err := f.apply(c, a, af.flag); err != nil {
			return nil, nil, err
		}
	}
	return a, dedupe(paths), nil
}

// apply sets the field of one flag on a.
func (f *assetFlags) apply(c *cli, a *sparcv1.Asset, flag string) error {
	switch flag {
	case "lat", "lng", "address", "postcode", "locality", "country", "service-area", "area-code", "area-country":
		return f.applyPlace(c, a, flag)
	case "contact-name", "email", "phone", "website":
		f.applyContact(a, flag)
		return nil
	case "session", "cost", "cost-note", "min-age", "max-age", "capacity":
		return f.applyOffer(a, flag)
	}
	return f.applyListing(a, flag)
}

// applyListing sets what the asset is and who keeps it.
func (f *assetFlags) applyListing(a *sparcv1.Asset, flag string) error {
	var err error
	switch flag {
	case "display-name", "name":
		a.DisplayName = f.name
	case "kind":
		a.Kind, err = parseKind(f.kind)
	case "description":
		a.Description = f.description
	case "category":
		a.Categories = f.categories
	case "accessibility":
		a.Accessibility = f.accessibility
	case "language":
		a.Languages = f.languages
	case "accepting-referrals":
		a.AcceptingReferrals = f.acceptingReferrals
	case "status":
		a.Status, err = parseStatus(f.status)
	case "delivery":
		var n int32
		n, err = parseEnum("delivery", f.delivery, sparcv1.DeliveryMode_value, sparcv1.DeliveryMode_name, "DELIVERY_MODE_")
		a.DeliveryMode = sparcv1.DeliveryMode(n)
	case "availability":
		var n int32
		n, err = parseEnum("availability", f.availability, sparcv1.Availability_value, sparcv1.Availability_name, "AVAILABILITY_")
		a.Availability = sparcv1.Availability(n)
	case "owner":
		a.OwnerOrganisation = nameOf("organisations", f.owner)
	case "verified":
		a.LastVerifiedTime, err = parseTime("verified", f.verified)
	}
	return err
}

// applyPlace sets where the asset is.
func (f *assetFlags) applyPlace(c *cli, a *sparcv1.Asset, flag string) error {
	if a.Location == nil {
		a.Location = &sparcv1.Location{}
	}
	loc := a.Location
	switch flag {
	case "lat":
		loc.Latitude = f.lat
	case "lng":
		loc.Longitude = f.lng
	case "address":
		loc.Address = f.address
	case "postcode":
		loc.Postcode = f.postcode
	case "locality":
		loc.Locality = f.locality
	case "country":
		loc.Country = strings.ToUpper(f.country)
	case "service-area":
		g, err := readGeometry(c, "service-area", f.serviceArea)
		if err != nil {
			return err
		}
		a.ServiceAreaGeojson = g
	case "area-code", "area-country":
		a.ServiceArea = &sparcv1.ServiceArea{AreaCodes: f.areaCodes, Country: strings.ToUpper(f.areaCountry)}
	}
	return nil
}

// applyContact sets whom to contact.
func (f *assetFlags) applyContact(a *sparcv1.Asset, flag string) {
	if a.Contact == nil {
		a.Contact = &sparcv1.Contact{}
	}
	switch flag {
	case "contact-name":
		a.Contact.Name = f.contactName
	case "email":
		a.Contact.Email = f.email
	case "phone":
		a.Contact.Phone = f.phone
	case "website":
		a.Contact.Website = f.website
	}
}

// applyOffer sets when it runs, what it costs, for whom and how many.
func (f *assetFlags) applyOffer(a *sparcv1.Asset, flag string) error {
	switch flag {
	case "session":
		a.Sessions = nil
		for _, s := range f.sessions {
			sess, err := parseSession(s, a.GetLocation().GetCountry())
			if err != nil {
				return err
			}
			a.Sessions = append(a.Sessions, sess)
		}
	case "cost":
		k, err := parseEnum("cost", f.cost, sparcv1.CostKind_value, sparcv1.CostKind_name, "COST_KIND_")
		if err != nil {
			return err
		}
		if a.Cost == nil {
			a.Cost = &sparcv1.Cost{}
		}
		a.Cost.Kind = sparcv1.CostKind(k)
	case "cost-note":
		if a.Cost == nil {
			a.Cost = &sparcv1.Cost{}
		}
		a.Cost.Note = f.costNote
	case "min-age", "max-age":
		v := map[string]int{"min-age": f.minAge, "max-age": f.maxAge}[flag]
		n, err := int32Flag(flag, v)
		if err != nil {
			return err
		}
		if a.AgeRange == nil {
			a.AgeRange = &sparcv1.AgeRange{}
		}
		if flag == "min-age" {
			a.AgeRange.MinAge = &n
		} else {
			a.AgeRange.MaxAge = &n
		}
	case "capacity":
		n, err := int32Flag("capacity", f.capacity)
		if err != nil {
			return err
		}
		a.Capacity = &n
	}
	return nil
}

func assetsCreate(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("assets create"), "assets create --display-name N --kind K --lat LAT --lng LNG --country GB|NL [flags]\n       sparc assets create --file asset.json [flags]")
	var af assetFlags
	af.bind(fs)
	id := fs.String("id", "", "asset id (a UUID, or the name assets/UUID) to create it under; by default the server picks one, or the file's \"name\" is used")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q (asset fields are flags, e.g. --name)", pos[0])
	}
	af.set = flagsSet(fs)
	a, paths, err := af.asset(c)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return usagef("give the asset as flags (at least --display-name, --kind, --lat, --lng, --country) or --file")
	}
	// The request takes the id alone (AIP-133): the name's last segment.
	req := &sparcv1.CreateAssetRequest{Asset: a, AssetId: strings.TrimPrefix(nameOf("assets", *id), "assets/")}
	if req.AssetId == "" {
		req.AssetId = strings.TrimPrefix(a.GetName(), "assets/")
	}
	return c.printAsset(sparcv1.NewAssetServiceClient(c.conn).CreateAsset(ctx, req))
}

func assetsGet(ctx context.Context, c *cli, args []string) error {
	return getByName(ctx, c, args, "assets get", "assets get NAME", "assets", sparcv1.NewAssetServiceClient(c.conn).GetAsset, c.printAsset)
}

func assetsUpdate(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("assets update"), "assets update NAME [--etag E] --FIELD VALUE ... | --file asset.json | --clear PATH")
	var af assetFlags
	af.bind(fs)
	var etag string
	var clear stringList
	fs.StringVar(&etag, "etag", "", "only update if the asset still has this etag (else ABORTED): a safe read-modify-write")
	fs.StringVar(&etag, "if-match", "", "same as --etag")
	fs.Var(&clear, "clear", "field `PATH` to empty, e.g. capacity or location.postcode (repeatable)")
	name, err := c.parseName(fs, args, "assets")
	if err != nil {
		return err
	}
	af.set = flagsSet(fs)
	a, paths, err := af.asset(c)
	if err != nil {
		return err
	}
	for _, p := range clear {
		if slices.Contains(paths, p) {
			return usagef("--clear %s: the same field is also given a value", p)
		}
		// An unknown path is left for the server to reject with the list
		// of updatable fields.
		clearPath(a, p)
		paths = append(paths, p)
	}
	if len(paths) == 0 {
		return usagef("nothing to update: give the fields to change as flags (e.g. --display-name), --file or --clear")
	}
	a.Name = name
	if etag != "" || !af.set["file"] {
		// An etag in the file (from "get -o json") makes the edit a safe
		// read-modify-write; --etag overrides it.
		a.Etag = etag
	}
	return c.printAsset(sparcv1.NewAssetServiceClient(c.conn).UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{
		Asset: a, UpdateMask: &fieldmaskpb.FieldMask{Paths: dedupe(paths)},
	}))
}

func assetsDelete(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("assets delete"), "assets delete NAME [--etag E]")
	var etag string
	fs.StringVar(&etag, "etag", "", "only delete if the asset still has this etag (else ABORTED)")
	fs.StringVar(&etag, "if-match", "", "same as --etag")
	name, err := c.parseName(fs, args, "assets")
	if err != nil {
		return err
	}
	resp, err := sparcv1.NewAssetServiceClient(c.conn).DeleteAsset(ctx, &sparcv1.DeleteAssetRequest{Name: name, Etag: etag})
	if err != nil {
		return err
	}
	return c.printResult(resp, "deleted %s\n", name)
}

func assetsList(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("assets list"), "assets list [filters] [--all]")
	var categories, kinds, statuses stringList
	var owner, since, view string
	var page pageFlags
	fs.Var(&categories, "category", "any of these category codes (repeatable or comma-separated)")
	fs.Var(&kinds, "kind", "any of these kinds (repeatable or comma-separated): "+enumChoices(sparcv1.AssetKind_name, "ASSET_KIND_"))
	fs.Var(&statuses, "status", "any of these statuses (repeatable or comma-separated; default all): "+enumChoices(sparcv1.AssetStatus_name, "ASSET_STATUS_"))
	fs.StringVar(&owner, "owner", "", "owner organisation (organisations/UUID or the UUID)")
	fs.StringVar(&since, "modified-since", "", "only assets changed at or after this RFC 3339 time (or YYYY-MM-DD)")
	bindView(fs, &view)
	page.bind(fs)
	if err := c.parseFlagsOnly(fs, args); err != nil {
		return err
	}
	req := &sparcv1.ListAssetsRequest{Categories: categories, OwnerOrganisation: nameOf("organisations", owner)}
	var err error
	if req.Kinds, err = parseEach(kinds, parseKind); err != nil {
		return err
	}
	if req.Statuses, err = parseEach(statuses, parseStatus); err != nil {
		return err
	}
	if req.ModifiedSince, err = optionalTime("modified-since", since); err != nil {
		return err
	}
	if req.View, err = parseView(view); err != nil {
		return err
	}
	resp, err := listPages(ctx, &page, req, sparcv1.NewAssetServiceClient(c.conn).ListAssets)
	if err != nil {
		return err
	}
	rows := make([]assetRow, len(resp.GetAssets()))
	for i, a := range resp.GetAssets() {
		rows[i] = assetRow{asset: a}
	}
	return c.printAssetTable(resp, rows, false)
}

// searchFlags are the filters of 'assets search'.
type searchFlags struct {
	lat, lng                                   float64
	radius, bbox, within, language, openAt     string
	remote, view                               string
	query                                      string
	categories, kinds, statuses, accessibility stringList
	free, accepting                            bool
	age                                        int
	page                                       pageFlags
}

func (f *searchFlags) bind(fs *flag.FlagSet) {
	fs.Float64Var(&f.lat, "lat", 0, "latitude of the search point (with --lng)")
	fs.Float64Var(&f.lng, "lng", 0, "longitude of the search point (with --lat)")
	fs.StringVar(&f.radius, "radius", "", "radius around --lat/--lng: metres, or with a unit (800m, 2km); default 2km")
	fs.StringVar(&f.bbox, "bbox", "", "box minLon,minLat,maxLon,maxLat")
	fs.StringVar(&f.within, "within", "", "`FILE` with a GeoJSON Polygon, MultiPolygon or a Feature holding one (\"-\" for standard input)")
	fs.Var(&f.categories, "category", "any of these category codes (repeatable or comma-separated)")
	fs.Var(&f.kinds, "kind", "any of these kinds (repeatable or comma-separated)")
	fs.Var(&f.statuses, "status", "any of these statuses (default active)")
	fs.BoolVar(&f.free, "free", false, "only free assets")
	fs.Var(&f.accessibility, "accessibility", "all of these accessibility feature codes (repeatable or comma-separated)")
	fs.StringVar(&f.language, "language", "", "language spoken (ISO 639-1, e.g. pl)")
	fs.IntVar(&f.age, "age", 0, "age of the person, in years")
	fs.BoolVar(&f.accepting, "accepting-referrals", false, "only assets accepting referrals (=false: only those not accepting)")
	fs.StringVar(&f.openAt, "open-at", "", "only assets with a session running at this RFC 3339 time, or \"now\"")
	fs.StringVar(&f.query, "query", "", "words to match (prefixes; English and Dutch); also given as arguments")
	fs.StringVar(&f.remote, "remote", "", "remote services (telephone, online, home visits) covering the place, listed after the others: "+
		enumChoices(sparcv1.RemoteFilter_name, "REMOTE_FILTER_")+" (default include)")
	bindView(fs, &f.view)
	f.page.bind(fs)
}

// bindView binds --view of list and search: how much of each asset the
// server sends (AIP-157).
func bindView(fs *flag.FlagSet, view *string) {
	fs.StringVar(view, "view", "full", "how much of each asset: "+enumChoices(sparcv1.AssetView_name, "ASSET_VIEW_")+
		" (basic: what a result list needs, with the next session; cheaper to read and send)")
}

func parseView(v string) (sparcv1.AssetView, error) {
	n, err := parseEnum("view", v, sparcv1.AssetView_value, sparcv1.AssetView_name, "ASSET_VIEW_")
	return sparcv1.AssetView(n), err
}

// request builds the search from the flags given (set) and the words.
func (f *searchFlags) request(c *cli, set map[string]bool, words []string) (*sparcv1.SearchAssetsRequest, error) {
	if len(words) > 0 {
		if set["query"] {
			return nil, usagef("give the words to search for either as arguments or as --query, not both")
		}
		f.query = strings.Join(words, " ")
	}
	req := &sparcv1.SearchAssetsRequest{
		Bbox: f.bbox, Categories: f.categories, FreeOnly: f.free, Accessibility: f.accessibility,
		Language: f.language, Query: f.query,
	}
	var err error
	switch {
	case set["lat"] != set["lng"]:
		return nil, usagef("--lat and --lng go together")
	case set["lat"]:
		r := 2000.0
		if set["radius"] {
			if r, err = parseDistance(f.radius); err != nil {
				return nil, err
			}
		}
		req.Latitude, req.Longitude, req.RadiusMeters = &f.lat, &f.lng, &r
	case set["radius"]:
		return nil, usagef("--radius needs --lat and --lng")
	}
	if set["within"] {
		if req.WithinGeojson, err = readGeometry(c, "within", f.within); err != nil {
			return nil, err
		}
	}
	if req.Kinds, err = parseEach(f.kinds, parseKind); err != nil {
		return nil, err
	}
	if req.Statuses, err = parseEach(f.statuses, parseStatus); err != nil {
		return nil, err
	}
	if set["age"] {
		n, err := int32Flag("age", f.age)
		if err != nil {
			return nil, err
		}
		req.Age = &n
	}
	if set["accepting-referrals"] {
		req.AcceptingReferrals = &f.accepting
	}
	if set["open-at"] {
		if req.OpenAt, err = parseTime("open-at", f.openAt); err != nil {
			return nil, err
		}
	}
	if set["remote"] {
		n, err := parseEnum("remote", f.remote, sparcv1.RemoteFilter_value, sparcv1.RemoteFilter_name, "REMOTE_FILTER_")
		if err != nil {
			return nil, err
		}
		req.Remote = sparcv1.RemoteFilter(n)
	}
	if req.View, err = parseView(f.view); err != nil {
		return nil, err
	}
	if req.PageSize, err = f.page.pageSize(); err != nil {
		return nil, err
	}
	return req, nil
}

func assetsSearch(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("assets search"), "assets search [WORDS...] [--lat LAT --lng LNG [--radius R] | --bbox B | --within FILE] [filters] [--all]")
	var f searchFlags
	f.bind(fs)
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	set := flagsSet(fs)
	req, err := f.request(c, set, pos)
	if err != nil {
		return err
	}
	resp, err := listPages(ctx, &f.page, req, sparcv1.NewAssetServiceClient(c.conn).SearchAssets)
	if err != nil {
		return err
	}
	rows := make([]assetRow, len(resp.GetResults()))
	for i, r := range resp.GetResults() {
		rows[i] = assetRow{asset: r.GetAsset(), distance: r.GetDistanceMeters()}
	}
	return c.printAssetTable(resp, rows, set["lat"])
}

// --- output ---

// isRemote: a telephone, online or home-visit service, which has no point.
func isRemote(a *sparcv1.Asset) bool {
	return a.GetDeliveryMode() > sparcv1.DeliveryMode_DELIVERY_MODE_IN_PERSON
}

type assetRow struct {
	asset    *sparcv1.Asset
	distance float64
}

const maxNameColumn = 48

// printAssetTable prints a list or search answer (as JSON with -o json):
// one asset per line. Names are printed in full so they can be pasted
// into get/update/delete.
func (c *cli) printAssetTable(resp page, rows []assetRow, withDistance bool) error {
	if c.output == "json" {
		return c.printJSON(resp)
	}
	if len(rows) == 0 {
		fmt.Fprintln(c.out, "no assets found")
	} else {
		tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
		header := "NAME\tDISPLAY NAME\tKIND\tCATEGORIES\t"
		if withDistance {
			header += "DISTANCE\t"
		}
		fmt.Fprintln(tw, header+"LOCALITY\tSTATUS")
		for _, r := range rows {
			a := r.asset
			line := a.GetName() + "\t" + clean(truncate(a.GetDisplayName(), maxNameColumn)) + "\t" + kindName(a.GetKind()) + "\t" +
				orDash(strings.Join(a.GetCategories(), ",")) + "\t"
			if withDistance && isRemote(a) {
				line += "remote\t"
			} else if withDistance {
				line += formatDistance(r.distance) + "\t"
			}
			line += orDash(clean(a.GetLocation().GetLocality())) + "\t" + statusName(a.GetStatus())
			fmt.Fprintln(tw, line)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if next := resp.GetNextPageToken(); next != "" && c.errOut != nil {
		fmt.Fprintf(c.errOut, "more results: repeat with --page-token %s (or --all)\n", next)
	}
	return nil
}

// printAsset prints the asset a call answered with as "field  value"
// lines, or as JSON; or returns the call's error.
func (c *cli) printAsset(a *sparcv1.Asset, err error) error {
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(a)
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, clean(v))
		}
	}
	row("name", a.GetName())
	row("display name", a.GetDisplayName())
	row("kind", kindName(a.GetKind()))
	row("status", statusName(a.GetStatus()))
	row("categories", strings.Join(a.GetCategories(), ", "))
	if l := a.GetLocation(); l != nil && !isRemote(a) {
		row("location", fmt.Sprintf("%.6f, %.6f", l.GetLatitude(), l.GetLongitude()))
	}
	if l := a.GetLocation(); l != nil {
		row("address", joinNonEmpty(", ", l.GetAddress(), l.GetPostcode(), l.GetLocality(), l.GetCountry()))
	}
	if isRemote(a) {
		row("delivery", shortEnum(a.GetDeliveryMode().String(), "DELIVERY_MODE_")+" (remote: no location, found by its service area)")
	}
	if a.GetServiceAreaGeojson() != "" {
		row("service area", fmt.Sprintf("GeoJSON, %d bytes (see -o json)", len(a.GetServiceAreaGeojson())))
	}
	if sa := a.GetServiceArea(); sa != nil {
		v := strings.Join(sa.GetAreaCodes(), ", ")
		if sa.GetCountry() != "" {
			v = "the whole of " + sa.GetCountry()
		}
		row("service area", v)
	}
	if av := a.GetAvailability(); av != sparcv1.Availability_AVAILABILITY_UNSPECIFIED {
		row("availability", strings.ToLower(strings.TrimPrefix(av.String(), "AVAILABILITY_")))
	}
	for _, s := range a.GetSessions() {
		row("session", formatSession(s))
	}
	if co := a.GetCost(); co != nil && co.GetKind() != sparcv1.CostKind_COST_KIND_UNSPECIFIED {
		row("cost", joinNonEmpty(": ", costName(co.GetKind()), co.GetNote()))
	}
	row("accessibility", strings.Join(a.GetAccessibility(), ", "))
	row("languages", strings.Join(a.GetLanguages(), ", "))
	row("ages", formatAges(a.GetAgeRange()))
	if a.Capacity != nil {
		row("capacity", strconv.Itoa(int(a.GetCapacity())))
	}
	row("referrals", map[bool]string{true: "accepting", false: "not accepting"}[a.GetAcceptingReferrals()])
	if ct := a.GetContact(); ct != nil {
		row("contact", joinNonEmpty(", ", ct.GetName(), ct.GetEmail(), ct.GetPhone(), ct.GetWebsite()))
	}
	row("owner", a.GetOwnerOrganisation())
	row("last verified", formatTime(a.GetLastVerifiedTime()))
	row("created", formatTime(a.GetCreateTime()))
	row("updated", formatTime(a.GetUpdateTime()))
	row("etag", a.GetEtag())
	row("description", a.GetDescription())
	return tw.Flush()
}

func formatDistance(m float64) string {
	if m < 1000 {
		return fmt.Sprintf("%.0f m", m)
	}
	return fmt.Sprintf("%.2f km", m/1000)
}

func formatSession(s *sparcv1.Session) string {
	day := strings.TrimPrefix(s.GetDay().String(), "WEEKDAY_")
	if len(day) > 3 {
		day = day[:1] + strings.ToLower(day[1:3])
	}
	out := fmt.Sprintf("%s %s-%s %s", day, s.GetStartTime(), s.GetEndTime(), s.GetTimezone())
	switch {
	case s.GetValidFrom() != "" && s.GetValidUntil() != "":
		out += fmt.Sprintf(" (%s to %s)", s.GetValidFrom(), s.GetValidUntil())
	case s.GetValidFrom() != "":
		out += " (from " + s.GetValidFrom() + ")"
	case s.GetValidUntil() != "":
		out += " (until " + s.GetValidUntil() + ")"
	}
	return out
}

func formatAges(r *sparcv1.AgeRange) string {
	switch {
	case r == nil || (r.MinAge == nil && r.MaxAge == nil):
		return ""
	case r.MaxAge == nil:
		return fmt.Sprintf("%d and over", r.GetMinAge())
	case r.MinAge == nil:
		return fmt.Sprintf("up to %d", r.GetMaxAge())
	}
	return fmt.Sprintf("%d to %d", r.GetMinAge(), r.GetMaxAge())
}

func kindName(k sparcv1.AssetKind) string {
	return shortEnum(k.String(), "ASSET_KIND_")
}

func statusName(s sparcv1.AssetStatus) string {
	return shortEnum(s.String(), "ASSET_STATUS_")
}

func costName(k sparcv1.CostKind) string {
	return shortEnum(k.String(), "COST_KIND_")
}

// --- parsing flag values ---

func parseKind(v string) (sparcv1.AssetKind, error) {
	n, err := parseEnum("kind", v, sparcv1.AssetKind_value, sparcv1.AssetKind_name, "ASSET_KIND_")
	return sparcv1.AssetKind(n), err
}

func parseStatus(v string) (sparcv1.AssetStatus, error) {
	n, err := parseEnum("status", v, sparcv1.AssetStatus_value, sparcv1.AssetStatus_name, "ASSET_STATUS_")
	return sparcv1.AssetStatus(n), err
}

// weekdays in English and Dutch, Monday first. Any prefix of two letters
// or more names a day ("tue", "di", "donderdag"): no two-letter prefix is
// shared by two days, in either language or across them.
var weekdays = [][]string{{"monday", "maandag"}, {"tuesday", "dinsdag"}, {"wednesday", "woensdag"},
	{"thursday", "donderdag"}, {"friday", "vrijdag"}, {"saturday", "zaterdag"}, {"sunday", "zondag"}}

// zoneOf is the time zone a session gets when --session names none.
var zoneOf = map[string]string{"GB": "Europe/London", "NL": "Europe/Amsterdam"}

// parseSession reads "DAY HH:MM-HH:MM [ZONE]". Only the shape is checked
// here; the server judges the times and the zone and names the field.
func parseSession(s, country string) (*sparcv1.Session, error) {
	bad := func(why string) error {
		return usagef("--session %q: %s (want \"DAY HH:MM-HH:MM [ZONE]\", e.g. \"tue 10:00-11:30 Europe/London\" or \"dinsdag 10:00-11:30\")", s, why)
	}
	parts := strings.Fields(s)
	if len(parts) < 2 || len(parts) > 3 {
		return nil, bad("wrong number of parts")
	}
	day := sparcv1.Weekday_WEEKDAY_UNSPECIFIED
	d := strings.ToLower(parts[0])
	for i, names := range weekdays {
		for _, w := range names {
			if len(d) >= 2 && strings.HasPrefix(w, d) {
				day = sparcv1.Weekday(i + 1)
			}
		}
	}
	if day == sparcv1.Weekday_WEEKDAY_UNSPECIFIED {
		return nil, bad(fmt.Sprintf("%q is not a day of the week", parts[0]))
	}
	start, end, ok := strings.Cut(parts[1], "-")
	if !ok || start == "" || end == "" {
		return nil, bad("times must be START-END")
	}
	zone := zoneOf[strings.ToUpper(country)]
	if len(parts) == 3 {
		zone = parts[2]
	}
	if zone == "" {
		return nil, bad("no time zone (add one, or give --country GB or NL)")
	}
	return &sparcv1.Session{Day: day, StartTime: start, EndTime: end, Timezone: zone}, nil
}

// parseDistance reads metres: "1500", "800m", "2km", "2.5 km".
func parseDistance(v string) (float64, error) {
	s := strings.ToLower(strings.ReplaceAll(v, " ", ""))
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "km"):
		s, mult = strings.TrimSuffix(s, "km"), 1000
	case strings.HasSuffix(s, "m"):
		s = strings.TrimSuffix(s, "m")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, usagef("--radius: %q is not a distance (metres, or with a unit: 800m, 2km)", v)
	}
	return f * mult, nil
}

func readAssetFile(c *cli, name string) (*sparcv1.Asset, error) {
	b, err := readInput(c, name)
	if err != nil {
		return nil, usagef("--file: %v", err)
	}
	a := &sparcv1.Asset{}
	if err := protojson.Unmarshal(b, a); err != nil {
		return nil, usagef("--file %s: not an Asset in JSON: %v", name, err)
	}
	return a, nil
}

// readGeometry reads a polygon file for --within or --service-area and
// sends the geometry alone: map tools export a Feature or a
// FeatureCollection holding one, and the server wants the geometry. The
// server still checks the polygon itself.
func readGeometry(c *cli, flagName, name string) (string, error) {
	b, err := readInput(c, name)
	if err != nil {
		return "", usagef("--%s: %v", flagName, err)
	}
	var doc struct {
		Type     string          `json:"type"`
		Geometry json.RawMessage `json:"geometry"`
		Features []struct {
			Geometry json.RawMessage `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return "", usagef("--%s %s: not GeoJSON: %v", flagName, name, err)
	}
	switch doc.Type {
	case "FeatureCollection":
		if len(doc.Features) != 1 {
			return "", usagef("--%s %s: a FeatureCollection must hold exactly one polygon feature, it has %d", flagName, name, len(doc.Features))
		}
		return string(doc.Features[0].Geometry), nil
	case "Feature":
		return string(doc.Geometry), nil
	}
	return string(b), nil
}

// clearPath unsets a top-level field or a field of a sub-message, so the
// masked path is emptied by the update.
func clearPath(a *sparcv1.Asset, path string) {
	m := a.ProtoReflect()
	top, sub, nested := strings.Cut(path, ".")
	fd := m.Descriptor().Fields().ByName(protoreflect.Name(top))
	if fd == nil {
		return
	}
	if !nested {
		m.Clear(fd)
		return
	}
	if fd.Kind() != protoreflect.MessageKind || fd.IsList() || !m.Has(fd) {
		return
	}
	sm := m.Get(fd).Message()
	if sfd := sm.Descriptor().Fields().ByName(protoreflect.Name(sub)); sfd != nil {
		m.Mutable(fd).Message().Clear(sfd)
	}
}

func dedupe(paths []string) []string {
	var out []string
	for _, p := range paths {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
