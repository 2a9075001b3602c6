package server

import (
	"bytes"
	"math/rand/v2"
	"net/url"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// Search query strings, random and hostile, parsed by strictQuery (with
// its reflection-free search decoder) and by the general parser alone:
// the same request or the same error, every time.
func TestSearchQueryMatchesGateway(t *testing.T) {
	keys := []string{
		"latitude", "longitude", "radius_meters", "bbox", "within_geojson", "categories", "kinds",
		"free_only", "accessibility", "language", "age", "accepting_referrals", "open_at", "query",
		"statuses", "page_size", "page_token", "has_places", "postcode", "remote", "view",
		// JSON names, paths, maps, unknown and empty names
		"radiusMeters", "pageSize", "freeOnly", "acceptingReferrals", "withinGeojson", "pageToken",
		"hasPlaces", "openAt", "open_at.seconds", "open_at.nanos", "latitude.value", "categories[x]",
		"unknown", "", "view ", "VIEW", "page_size[]",
	}
	values := []string{
		// numbers
		"52.4862", "-1.8904", "5000", "0", "-0", "1e3", "1E-3", "+1", " 1", "1 ", "1.", ".5", "1e400",
		"-1e400", "NaN", "nan", "Infinity", "-Infinity", "inf", "+Inf", "0x1p3", "1_000", "20", "-1",
		"2147483647", "2147483648", "-2147483649", "020", "1.5", "9999999999999999999",
		// booleans
		"true", "false", "1", "t", "F", "TRUE", "True", "yes", "on",
		// enums: full names, numbers, shorthands, wrong case
		"ASSET_VIEW_BASIC", "ASSET_VIEW_FULL", "ASSET_VIEW_UNSPECIFIED", "basic", "BASIC", "Full",
		"REMOTE_FILTER_ONLY", "REMOTE_FILTER_EXCLUDE", "REMOTE_FILTER_INCLUDE", "only", "ASSET_KIND_ASSOCIATION", "ASSET_KIND_PHYSICAL_SPACE",
		"ASSET_KIND_CULTURE", "association", "ASSET_STATUS_ACTIVE", "ASSET_STATUS_PAUSED", "ASSET_STATUS_CLOSED", "active",
		"2", "3", "99", "-5", "ASSET_VIEW_BASIC ", "asset_view_basic",
		// strings and times
		"", "walking group", "physical_activity", "B1 1AA", "ü", "-2,52,-1,53",
		`{"type":"Polygon"}`, "2026-01-31T09:00:00Z", "2026-13-01T00:00:00Z", "12:00", "abc",
	}
	// Values of the kind each key takes, so that most queries are
	// accepted and the decoder is exercised, not only the fallback.
	kindValues := map[string][]string{
		"latitude": {"52.4862", "-1.8904", "0", "1e3"}, "longitude": {"-1.8904", "0"},
		"radius_meters": {"5000", "2000.5"}, "page_size": {"20", "1", "100"}, "age": {"30", "0"},
		"free_only": {"true", "false"}, "has_places": {"true"}, "accepting_referrals": {"true", "false"},
		"view":     {"ASSET_VIEW_BASIC", "ASSET_VIEW_FULL"},
		"remote":   {"REMOTE_FILTER_ONLY", "REMOTE_FILTER_EXCLUDE"},
		"kinds":    {"ASSET_KIND_ASSOCIATION", "ASSET_KIND_PHYSICAL_SPACE"},
		"statuses": {"ASSET_STATUS_ACTIVE"}, "categories": {"physical_activity", "nature_green_space"},
		"accessibility": {"step_free"}, "query": {"walking group"}, "language": {"en"},
		"page_token": {"abc"}, "postcode": {"B1 1AA"}, "bbox": {"-2,52,-1,53"},
	}
	rng := rand.New(rand.NewPCG(16, 2026))
	fast := 0
	const cases = 30000
	for range cases {
		q := url.Values{}
		for range 1 + rng.IntN(6) {
			k := keys[rng.IntN(len(keys))]
			if rng.IntN(2) == 0 {
				k = keys[rng.IntN(21)] // a field's proto name more often
			}
			n := 1
			if rng.IntN(5) == 0 {
				n = 2 + rng.IntN(2)
			}
			for range n {
				if kv := kindValues[k]; len(kv) > 0 && rng.IntN(4) != 0 {
					q.Add(k, kv[rng.IntN(len(kv))])
				} else {
					q.Add(k, values[rng.IntN(len(values))])
				}
			}
		}
		got, want := &sparcv1.SearchAssetsRequest{}, &sparcv1.SearchAssetsRequest{}
		gotErr := strictQuery{}.Parse(got, q, utilities.NewDoubleArray(nil))
		wantErr := parseQuery(want, q, utilities.NewDoubleArray(nil))
		if errText(gotErr) != errText(wantErr) {
			t.Fatalf("?%s: error %q, the general parser's %q", q.Encode(), errText(gotErr), errText(wantErr))
		}
		// A refused query's message is never used (and the general
		// parser fills it in map order).
		if g, w := wire(t, got), wire(t, want); gotErr == nil && !bytes.Equal(g, w) {
			t.Fatalf("?%s:\n got %v\nwant %v", q.Encode(), got, want)
		}
		if searchQuery(&sparcv1.SearchAssetsRequest{}, q) {
			fast++
		}
	}
	// Both ways must have been compared often.
	if fast < cases/10 || fast > cases*9/10 {
		t.Fatalf("the decoder took %d of %d queries; the comparison needs both ways exercised", fast, cases)
	}
	t.Logf("%d of %d queries decoded without reflection", fast, cases)
}

// The decoder is what a search's query goes through: it costs a few
// allocations, where the general parser makes about 45.
func TestSearchQueryDecodedWithoutReflection(t *testing.T) {
	q, err := url.ParseQuery("latitude=52.4862&longitude=-1.8904&radius_meters=2000&page_size=20&view=ASSET_VIEW_BASIC" +
		"&categories=physical_activity&categories=nature_green_space&free_only=true&kinds=ASSET_KIND_ASSOCIATION")
	if err != nil {
		t.Fatal(err)
	}
	if !searchQuery(&sparcv1.SearchAssetsRequest{}, q) {
		t.Fatal("the decoder refused a plain search query")
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := (strictQuery{}).Parse(&sparcv1.SearchAssetsRequest{}, q, utilities.NewDoubleArray(nil)); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 10 {
		t.Fatalf("parsing a search query made %v allocations; the decoder makes about 8", allocs)
	}
}

// emptySearch must notice every field of the request, including any added
// to the API later: the decoder would otherwise overwrite, not add to, a
// message that already held something.
func TestEmptySearchSeesEveryField(t *testing.T) {
	if !emptySearch(&sparcv1.SearchAssetsRequest{}) {
		t.Fatal("a fresh request is not empty")
	}
	fields := (&sparcv1.SearchAssetsRequest{}).ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		m := &sparcv1.SearchAssetsRequest{}
		r := m.ProtoReflect()
		switch {
		case fd.IsList():
			r.Mutable(fd).List().Append(r.Mutable(fd).List().NewElement())
		case fd.Message() != nil:
			r.Mutable(fd)
		default:
			// Present with its default value (optional) or a non-zero one.
			v := fd.Default()
			switch fd.Kind() {
			case protoreflect.StringKind:
				v = protoreflect.ValueOfString("x")
			case protoreflect.BoolKind:
				v = protoreflect.ValueOfBool(true)
			case protoreflect.EnumKind:
				v = protoreflect.ValueOfEnum(1)
			case protoreflect.Int32Kind:
				v = protoreflect.ValueOfInt32(1)
			case protoreflect.DoubleKind:
				v = protoreflect.ValueOfFloat64(1)
			}
			r.Set(fd, v)
		}
		if !r.Has(fd) {
			t.Fatalf("could not set %s (kind %s) for the test", fd.Name(), fd.Kind())
		}
		if emptySearch(m) {
			t.Errorf("emptySearch misses %s", fd.Name())
		}
	}
	m := &sparcv1.SearchAssetsRequest{}
	m.ProtoReflect().SetUnknown(protoreflect.RawFields{0x08, 0x01})
	if emptySearch(m) {
		t.Error("emptySearch misses unknown fields")
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func wire(t *testing.T, m proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
