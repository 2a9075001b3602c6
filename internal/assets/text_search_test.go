package assets_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/testenv"
)

// textAsset is a listing with only the text and categories a text test
// looks at, in Rotterdam (NL) or Birmingham (GB).
func textAsset(name, country string, categories ...string) *sparcv1.Asset {
	a := validAsset()
	a.DisplayName, a.Description, a.Categories, a.ServiceAreaGeojson = name, "", categories, ""
	if country == "NL" {
		a.Location = &sparcv1.Location{Latitude: 51.9225, Longitude: 4.4792, Country: "NL", Locality: "Rotterdam"}
		a.Sessions[0].Timezone = "Europe/Amsterdam"
	}
	return a
}

// searchNames runs a text-only search and returns the keys of the assets
// found, in result order.
func searchNames(t *testing.T, api sparcv1.AssetServiceClient, query string, keys map[string]string) []string {
	t.Helper()
	resp, err := api.SearchAssets(context.Background(), &sparcv1.SearchAssetsRequest{Query: query, PageSize: 100})
	if err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	var got []string
	for _, r := range resp.GetResults() {
		got = append(got, keys[r.GetAsset().GetName()])
	}
	return got
}

// Search finds what people type (issue 14): Dutch compound words from
// their parts, a word start longer than its stem, category labels in
// English and Dutch; and no more than that (English words are not
// searched inside, short junk finds nothing).
func TestTextSearchFindsCompoundPartsWordStartsAndCategoryLabels(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	listings := map[string]*sparcv1.Asset{
		"koor":     textAsset("Buurtkoor Delfshaven", "NL", "arts_creativity"),
		"moestuin": textAsset("Moestuin Het Lage Land", "NL", "food"),
		"tuinclub": textAsset("Tuinclub Noord", "NL", "food"),
		"zorg":     textAsset("Mantelzorgcafé Kralingen", "NL", "carers"),
		"zwem":     textAsset("Zwemmen voor ouderen", "NL", "physical_activity"),
		"garden":   textAsset("Community gardening club", "GB", "social_connection"),
		"housing":  textAsset("Housing advice surgery", "GB", "housing"),
		"walk":     textAsset("Walking group", "GB", "social_connection"),
		"welzijn":  textAsset("Wellbeing walk", "GB", "mental_wellbeing"),
	}
	keys := map[string]string{}
	for k, a := range listings {
		keys[create(t, env.Assets, a).GetName()] = k
	}
	cases := []struct {
		query string
		want  []string // sorted, unless ordered
		order bool     // want is the result order
	}{
		{query: "koor", want: []string{"koor"}},
		{query: "KOOR", want: []string{"koor"}},
		{query: "buurt koor", want: []string{"koor"}},
		// Full-text hits rank first: "Tuinclub" starts with the word,
		// "Moestuin" only contains it.
		{query: "tuin", want: []string{"tuinclub", "moestuin"}, order: true},
		{query: "zorg", want: []string{"zorg"}},
		{query: "mantelzorgcafe", want: []string{"zorg"}},
		{query: "gardeni", want: []string{"garden"}},
		{query: "gardening", want: []string{"garden"}},
		// Category labels, Dutch and English.
		{query: "bewegen", want: []string{"zwem"}},
		{query: "sport", want: []string{"zwem"}},
		{query: "physical", want: []string{"zwem"}},
		{query: "mantelzorg", want: []string{"zorg"}},
		{query: "carers", want: []string{"zorg"}},
		{query: "wonen", want: []string{"housing"}},
		{query: "eten", want: []string{"moestuin", "tuinclub"}},
		{query: "bewegen ouderen", want: []string{"zwem"}},
		{query: "bewegen koor", want: nil},
		{query: "mentaal", want: []string{"welzijn"}},
		// A label is matched by word start only: "taal" is inside
		// "Mentaal" (welzijn) but finds no listing.
		{query: "taal", want: nil},
		// English words are not searched inside: "sing" is not "housing".
		{query: "sing", want: nil},
		{query: "ing", want: nil},
		// Short junk and nonsense find nothing.
		{query: "xq", want: nil},
		{query: "zzz", want: nil},
		{query: "qwertyuiop", want: nil},
		{query: "koor tuin", want: nil},
		{query: strings.Repeat("a", 200), want: nil},
		// Operators and wildcards are not passed on.
		{query: "koor & !tuin", want: nil},
		{query: "ko_r", want: nil},
		{query: "k%r", want: nil},
		{query: "walk | tuin:*", want: nil},
		{query: "the walk", want: []string{"walk", "welzijn"}},
	}
	for _, tr := range transports(t, env) {
		for _, tc := range cases {
			t.Run(tr.name+"/"+tc.query[:min(len(tc.query), 20)], func(t *testing.T) {
				got := searchNames(t, tr.api, tc.query, keys)
				if !tc.order {
					slices.Sort(got)
				}
				if !slices.Equal(got, tc.want) {
					t.Fatalf("query %q found %v, want %v", tc.query, got, tc.want)
				}
			})
		}
	}
}

// Hostile text is a clean INVALID_ARGUMENT naming query (HTTP 400: the
// transport checks the status code), never an internal error.
func TestTextSearchRefusesQueriesWithNothingToSearch(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	create(t, env.Assets, textAsset("Buurtkoor Delfshaven", "NL", "arts_creativity"))
	for _, tr := range transports(t, env) {
		for _, q := range []string{
			"the and of", "de het een van", "THE", "!!! ;; --", "%_%", "'", "men's", // only stop words or no words
			"one two three four five six seven eight nine ten eleven", // too many words
			strings.Repeat("koor ", 41),                               // too long
		} {
			t.Run(tr.name+"/"+q[:min(len(q), 20)], func(t *testing.T) {
				_, err := tr.api.SearchAssets(context.Background(), &sparcv1.SearchAssetsRequest{Query: q})
				if status.Code(err) != codes.InvalidArgument || !slices.Equal(violations(err), []string{"query"}) {
					t.Fatalf("query %q: got %v, want INVALID_ARGUMENT on query", q, err)
				}
			})
		}
	}
}

// The availability of an asset decides what open_at matches; read back
// and updated as any field.
func TestOpenAtFollowsAvailability(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	ctx := context.Background()
	mk := func(av sparcv1.Availability, sessions ...*sparcv1.Session) *sparcv1.Asset {
		a := validAsset()
		a.Availability, a.Sessions = av, sessions
		return a
	}
	tue := &sparcv1.Session{Day: sparcv1.Weekday_WEEKDAY_TUESDAY, StartTime: "10:00", EndTime: "11:00", Timezone: "Europe/London"}
	wed := &sparcv1.Session{Day: sparcv1.Weekday_WEEKDAY_WEDNESDAY, StartTime: "14:00", EndTime: "16:00", Timezone: "Europe/London"}
	mon := &sparcv1.Session{Day: sparcv1.Weekday_WEEKDAY_MONDAY, StartTime: "09:00", EndTime: "17:00", Timezone: "Europe/London"}
	listings := map[string]*sparcv1.Asset{
		"sessions":         mk(sparcv1.Availability_AVAILABILITY_UNSPECIFIED, tue),
		"no sessions":      mk(sparcv1.Availability_AVAILABILITY_SESSIONS),
		"always":           mk(sparcv1.Availability_AVAILABILITY_ALWAYS_AVAILABLE),
		"appointment":      mk(sparcv1.Availability_AVAILABILITY_BY_APPOINTMENT),
		"appointment, wed": mk(sparcv1.Availability_AVAILABILITY_BY_APPOINTMENT, wed),
		"drop-in, mon":     mk(sparcv1.Availability_AVAILABILITY_DROP_IN, mon),
	}
	keys := map[string]string{}
	for k, a := range listings {
		out := create(t, env.Assets, a)
		keys[out.GetName()] = k
		// Read back as written; unspecified runs in sessions.
		if out.GetAvailability() != a.GetAvailability() {
			t.Errorf("%s: stored availability %v, want %v", k, out.GetAvailability(), a.GetAvailability())
		}
	}
	// 1 December 2026 is a Tuesday; London is on UTC in winter.
	for _, tc := range []struct {
		at   time.Time
		want []string
	}{
		{time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC), []string{"always", "appointment", "sessions"}},
		{time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC), []string{"always", "appointment", "appointment, wed"}},
		{time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), []string{"always", "appointment", "drop-in, mon"}},
		{time.Date(2026, 11, 30, 18, 0, 0, 0, time.UTC), []string{"always", "appointment"}},
	} {
		for _, tr := range transports(t, env) {
			resp, err := tr.api.SearchAssets(ctx, &sparcv1.SearchAssetsRequest{OpenAt: timestamppb.New(tc.at), PageSize: 100})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range resp.GetResults() {
				got = append(got, keys[r.GetAsset().GetName()])
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: open at %v found %v, want %v", tr.name, tc.at, got, tc.want)
			}
		}
	}

	// A drop-in needs its opening hours.
	_, err := env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: mk(sparcv1.Availability_AVAILABILITY_DROP_IN)})
	if status.Code(err) != codes.InvalidArgument || !slices.Equal(violations(err), []string{"asset.sessions"}) {
		t.Fatalf("drop-in without sessions: %v", err)
	}
	_, err = env.Assets.CreateAsset(ctx, &sparcv1.CreateAssetRequest{Asset: mk(99)})
	if status.Code(err) != codes.InvalidArgument || !slices.Equal(violations(err), []string{"asset.availability"}) {
		t.Fatalf("unknown availability: %v", err)
	}
	// Availability is updatable by mask.
	var name string
	for n, k := range keys {
		if k == "no sessions" {
			name = n
		}
	}
	up, err := env.Assets.UpdateAsset(ctx, &sparcv1.UpdateAssetRequest{
		Asset:      &sparcv1.Asset{Name: name, Availability: sparcv1.Availability_AVAILABILITY_ALWAYS_AVAILABLE},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"availability"}}})
	if err != nil || up.GetAvailability() != sparcv1.Availability_AVAILABILITY_ALWAYS_AVAILABLE {
		t.Fatalf("updating availability: %v, %v", err, up.GetAvailability())
	}
}

// open_at=now over HTTP is the server's current time: an asset open all
// day every day is found, one whose sessions ended in 2020 is not.
func TestOpenAtNowOverHTTP(t *testing.T) {
	t.Parallel()
	env := testenv.NewServer(t)
	var allDay, past []*sparcv1.Session
	for d := sparcv1.Weekday_WEEKDAY_MONDAY; d <= sparcv1.Weekday_WEEKDAY_SUNDAY; d++ {
		// Two zones twelve hours apart cover the last minute of a UTC day.
		for _, z := range []string{"Etc/UTC", "Etc/GMT-12"} {
			allDay = append(allDay, &sparcv1.Session{Day: d, StartTime: "00:00", EndTime: "23:59", Timezone: z})
			past = append(past, &sparcv1.Session{Day: d, StartTime: "00:00", EndTime: "23:59", Timezone: z, ValidUntil: "2020-01-01"})
		}
	}
	open, closed := validAsset(), validAsset()
	open.Sessions, closed.Sessions = allDay, past
	openName, closedName := create(t, env.Assets, open).GetName(), create(t, env.Assets, closed).GetName()

	get := func(query string) (int, []string) {
		resp, err := env.HTTP.Get(env.HTTPBase + "/v1/assets:search?" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var out struct {
			Results []struct {
				Asset struct{ Name string } `json:"asset"`
			} `json:"results"`
		}
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
		}
		var names []string
		for _, r := range out.Results {
			names = append(names, r.Asset.Name)
		}
		return resp.StatusCode, names
	}
	for _, q := range []string{"open_at=now", "open_at=NOW", "openAt=now"} {
		code, names := get(q)
		if code != http.StatusOK || !slices.Contains(names, openName) || slices.Contains(names, closedName) {
			t.Errorf("%s: HTTP %d, %v; want %s and not %s", q, code, names, openName, closedName)
		}
	}
	// Without open_at both are found; a vague time is still refused.
	if code, names := get("page_size=100"); code != http.StatusOK || !slices.Contains(names, closedName) {
		t.Errorf("no filter: HTTP %d, %v", code, names)
	}
	if code, _ := get("open_at=tomorrow"); code != http.StatusBadRequest {
		t.Errorf("open_at=tomorrow: HTTP %d, want 400", code)
	}
}
