package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/httproute"
)

// Fuzz targets for the input checks at the edge; `make fuzz` runs each
// for FUZZTIME, starting from the corpus in testdata/fuzz.

// StringProblem is exactly "valid UTF-8 without NUL".
func FuzzStringProblem(f *testing.F) {
	for _, s := range []string{"", "walk", "a\x00b", "\xff\xfe", "é", "\xed\xa0\x80", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ok := utf8.ValidString(s) && !strings.ContainsRune(s, 0)
		if got := StringProblem(s) == ""; got != ok {
			t.Fatalf("StringProblem(%q) accepts=%v, want %v", s, got, ok)
		}
	})
}

// fuzzMessages are the request types the walker is fuzzed with: strings,
// lists, maps, nested and repeated messages, oneofs, a stream message.
var fuzzMessages = []func() proto.Message{
	func() proto.Message { return &sparcv1.SearchAssetsRequest{} },
	func() proto.Message { return &sparcv1.CreateAssetRequest{} },
	func() proto.Message { return &sparcv1.CreateReferralRequest{} },
	func() proto.Message { return &sparcv1.ImportAreaAttributesRequest{} },
	func() proto.Message { return &sparcv1.UpsertSourcedAssetsRequest{} },
}

// Whatever bytes a client sends, the codec and the walker never panic;
// a request they pass can be marshalled again (all text UTF-8), has no
// NUL and no list over the cap; a request they refuse gets an error that
// can be sent and is small.
func FuzzRequestWalker(f *testing.F) {
	seed := func(kind byte, m proto.Message) {
		b, err := proto.MarshalOptions{}.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte{kind}, b...))
	}
	seed(0, &sparcv1.SearchAssetsRequest{Query: "walk", Categories: []string{"food"}})
	seed(1, &sparcv1.CreateAssetRequest{Asset: &sparcv1.Asset{DisplayName: "x\x00", Sessions: []*sparcv1.Session{{Timezone: "Europe/London"}}}})
	seed(2, &sparcv1.CreateReferralRequest{Reasons: make([]string, 1001)})
	seed(3, &sparcv1.ImportAreaAttributesRequest{Part: &sparcv1.ImportAreaAttributesRequest_Batch{
		Batch: &sparcv1.AttributeRowBatch{Rows: []*sparcv1.AttributeRow{{Code: "E01", Values: map[string]float64{"a\x00": 1}}}}}})
	f.Add([]byte{0, 0x7a, 2, 0xff, 0xfe}) // a string field that is not UTF-8
	codec := newInputCodec()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		m := fuzzMessages[int(data[0])%len(fuzzMessages)]()
		if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(data[1:])}, m); err != nil {
			return // not protobuf at all: gRPC answers that itself
		}
		err := CheckMessage(m)
		if err != nil {
			st := boundStatus(status.Convert(err))
			b, merr := proto.Marshal(st.Proto())
			if merr != nil || len(b) > maxStatusBytes {
				t.Fatalf("refusal cannot be sent (%v) or is %d bytes", merr, len(b))
			}
			return
		}
		if _, err := proto.Marshal(m); err != nil {
			t.Fatalf("passed a message that cannot be marshalled: %v", err)
		}
		var bad string
		walkAll(m.ProtoReflect(), func(fd protoreflect.FieldDescriptor, v protoreflect.Value) {
			switch {
			case fd.IsList() && v.List().Len() > MaxListItems, fd.IsMap() && v.Map().Len() > MaxListItems:
				bad = string(fd.Name()) + " over the cap"
			case fd.Kind() == protoreflect.StringKind && fd.IsList():
				for i := 0; i < v.List().Len(); i++ {
					if strings.ContainsRune(v.List().Get(i).String(), 0) {
						bad = string(fd.Name()) + " has NUL"
					}
				}
			case fd.Kind() == protoreflect.StringKind && !fd.IsMap() && strings.ContainsRune(v.String(), 0):
				bad = string(fd.Name()) + " has NUL"
			}
		})
		if bad != "" {
			t.Fatalf("passed a request whose %s", bad)
		}
	})
}

// walkAll calls fn for every populated field, at any depth.
func walkAll(m protoreflect.Message, fn func(protoreflect.FieldDescriptor, protoreflect.Value)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		fn(fd, v)
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				walkAll(v.List().Get(i).Message(), fn)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				walkAll(mv.Message(), fn)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			walkAll(v.Message(), fn)
		}
		return true
	})
}

// The strict query parser never panics, accepts only keys that are
// fields of the message, and describes a refusal without Go's parser text.
func FuzzQueryParser(f *testing.F) {
	for _, q := range []string{"latitude=52.4&longitude=-1.9&radius_meters=100", "lat=1&lng=2", "latitude=1e309",
		"page_size=many", "kinds=CHOIR", "open_at=tuesday", "categories=food&categories=housing", "pageSize=1",
		"page_size=1&pageSize=2", "bbox=1,2,3,4&latitude=1", "x[y]=1", "categories[a]=b", "free_only=perhaps"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		values, err := url.ParseQuery(raw)
		if err != nil {
			return // the edge refuses a malformed query before the parser
		}
		msg := &sparcv1.SearchAssetsRequest{}
		err = strictQuery{}.Parse(msg, values, utilities.NewDoubleArray(nil))
		if err == nil {
			for k := range values {
				if _, _, ok := resolveQueryKey(msg.ProtoReflect().Descriptor(), k); !ok {
					t.Fatalf("accepted %q, not a field of the request", k)
				}
			}
			return
		}
		field, desc, ok := httproute.ParseQueryViolation(err.Error())
		if !ok || field == "" || desc == "" {
			t.Fatalf("refusal %q is not a query violation naming its parameter", err)
		}
		for _, internal := range []string{"strconv", "parsing "} {
			if strings.Contains(desc, internal) {
				t.Fatalf("refusal quotes Go internals: %q", desc)
			}
		}
	})
}

// Whatever the path and query, a request the edge lets through has only
// UTF-8 text without NUL in its path and parameters, and a refusal is a
// 4xx.
func FuzzEdge(f *testing.F) {
	for _, s := range [][2]string{{"/v1/assets:search", "query=walk"}, {"/v1/assets/\xff\xfe", ""}, {"/v1/assets", "categories=%ff"},
		{"/v1/assets", "page_token=%ff%00"}, {"/healthz", "verbose=1"}, {"/v1/referrals", "x=1"}, {"/v1/a\x00", ""}, {"/", "a=%zz"}} {
		f.Add(s[0], s[1])
	}
	mux := http.NewServeMux()
	var reached bool
	mux.HandleFunc("/", func(http.ResponseWriter, *http.Request) { reached = true })
	mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) { reached = true })
	e := newInputGuard(mux, nil)
	f.Fuzz(func(t *testing.T, path, rawQuery string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.Path, r.URL.RawPath, r.URL.RawQuery = path, "", rawQuery
		w := httptest.NewRecorder()
		reached = false
		e.ServeHTTP(w, r)
		if !reached {
			if w.Code < 300 || w.Code >= 500 {
				t.Fatalf("refused with HTTP %d", w.Code)
			}
			return
		}
		if StringProblem(r.URL.Path) != "" {
			t.Fatalf("path %q let through", r.URL.Path)
		}
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			t.Fatalf("malformed query %q let through", rawQuery)
		}
		for k, vs := range q {
			if StringProblem(k) != "" {
				t.Fatalf("parameter name %q let through", k)
			}
			for _, v := range vs {
				if StringProblem(v) != "" {
					t.Fatalf("value %q of %s let through", v, k)
				}
			}
		}
	})
}
