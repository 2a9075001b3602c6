package jsonfast

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// hot are the responses Encode writes; each one is compared with
// protojson below.
var hot = []proto.Message{
	&sparcv1.SearchAssetsResponse{},
	&sparcv1.ListAssetsResponse{},
	&sparcv1.Asset{},
	&sparcv1.ListVocabularyResponse{},
	&sparcv1.Postcode{},
}

// sameAsProtojson fails t unless Encode writes m exactly as protojson
// with the gateway's options does, apart from protojson's random spaces:
// its output, compacted, must equal Encode's byte for byte (so escapes,
// number formats and key order count), and Encode's must be compact
// already.
func sameAsProtojson(t *testing.T, m proto.Message, what string) {
	t.Helper()
	want, err := GatewayOptions.Marshal(m)
	if err != nil {
		t.Fatalf("%s: protojson: %v", what, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, want); err != nil {
		t.Fatalf("%s: protojson wrote invalid JSON: %v", what, err)
	}
	got, ok := Encode(m)
	if !ok {
		t.Fatalf("%s: Encode left a valid %T to protojson", what, m)
	}
	if !bytes.Equal(got, compact.Bytes()) {
		t.Fatalf("%s: Encode differs from protojson %s", what, firstDifference(got, compact.Bytes()))
	}
}

func firstDifference(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-80)
	return fmt.Sprintf("at byte %d:\n got: …%s\nwant: …%s", i, got[from:min(len(got), i+80)], want[from:min(len(want), i+80)])
}

// TestEncodeWritesWhatProtojsonWrites fills every response type at random
// (every field, every enum value and some undeclared ones, absent and
// empty messages and lists, awkward strings, float edges, timestamps
// across the whole range) and compares the two encoders. The seed is
// fixed, so a failure repeats.
func TestEncodeWritesWhatProtojsonWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 3))
	for _, m := range hot {
		name := string(m.ProtoReflect().Descriptor().Name())
		sameAsProtojson(t, m, name+" empty")
		for i := range 3000 {
			msg := m.ProtoReflect().New()
			fill(r, msg, 0)
			sameAsProtojson(t, msg.Interface(), fmt.Sprintf("%s #%d", name, i))
		}
	}
}

// fill sets m's fields at random through protoreflect, so that a field
// added to the proto is filled too.
func fill(r *rand.Rand, m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if r.IntN(6) == 0 {
			continue // unset: null, [], a default or absent
		}
		switch {
		case fd.IsList():
			list := m.Mutable(fd).List()
			n := r.IntN(4)
			if depth == 0 && fd.Message() != nil {
				n = r.IntN(8) // pages of results: variety per asset matters more than length
			}
			for range n {
				if fd.Message() != nil {
					el := list.NewElement()
					fillMessage(r, el.Message(), depth+1)
					list.Append(el)
				} else {
					list.Append(scalar(r, fd))
				}
			}
		case fd.Message() != nil:
			fillMessage(r, m.Mutable(fd).Message(), depth+1)
		default:
			m.Set(fd, scalar(r, fd))
		}
	}
}

func fillMessage(r *rand.Rand, m protoreflect.Message, depth int) {
	if ts, ok := m.Interface().(*timestamppb.Timestamp); ok {
		v := timestamp(r)
		ts.Seconds, ts.Nanos = v.Seconds, v.Nanos
		return
	}
	if r.IntN(8) == 0 {
		return // set but empty
	}
	fill(r, m, depth)
}

func scalar(r *rand.Rand, fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(text(r))
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(r.IntN(2) == 0)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float(r))
	case protoreflect.Int32Kind:
		return protoreflect.ValueOfInt32(int32s[r.IntN(len(int32s))] + int32(r.IntN(3)-1)*int32(r.IntN(2)))
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		if r.IntN(20) == 0 {
			// A number the enum does not declare (a newer server's,
			// or a negative one): protojson writes it as a number.
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber([]int32{99, -3, math.MaxInt32}[r.IntN(3)]))
		}
		return protoreflect.ValueOfEnum(vals.Get(r.IntN(vals.Len())).Number())
	}
	panic(fmt.Sprintf("no random values of kind %v (%s): teach the test, and Encode", fd.Kind(), fd.FullName()))
}

var int32s = []int32{0, 1, -1, 7, 42, 100, -100, math.MaxInt32, math.MinInt32, 1 << 24}

var strs = []string{
	"", "a", "Buurtkoor Noord", "Café Müller — ‘quotes’", `"quoted"`, `back\slash`, `\"`, "<script>&amp;</script>",
	"line\nbreak\ttab\rreturn\bback\fform", "\x00\x01\x1f\x7f", "\u2028\u2029", "👋🏽 👨‍👩‍👧 🏳️‍🌈", "\ufffd", "\uFEFF", "日本語",
	"E08000025", "assets/2f0cbc0e-6b6c-4e5a-9d1e-3f0a0c7c9b11", "https://example.org/?a=1&b=<2>",
}

// text is a string from strs, or random runes from the whole range
// (controls, ASCII, Latin, line separators, astral planes).
func text(r *rand.Rand) string {
	if r.IntN(3) > 0 {
		return strs[r.IntN(len(strs))]
	}
	var b strings.Builder
	for range r.IntN(40) {
		switch r.IntN(5) {
		case 0:
			b.WriteByte(byte(r.IntN(0x80)))
		case 1:
			b.WriteRune(rune(0x80 + r.IntN(0x800-0x80)))
		case 2:
			b.WriteRune(rune(0x2000 + r.IntN(0x40)))
		case 3:
			b.WriteRune(rune(0x10000 + r.IntN(0x10FFFF-0x10000)))
		default:
			b.WriteString(strs[r.IntN(len(strs))])
		}
	}
	return b.String()
}

var floats = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.1, 52.4862, -1.8904, 1500.25, 1e20, 1e21, -1e21, 9.999999999999999e20, 1e-6, 1e-7, -1e-7,
	0.000001, 0.0000009999, 1e-300, 5e-324, math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64,
	math.NaN(), math.Inf(1), math.Inf(-1), 123456789012345680, 1 << 53, 1e100, 3.14159e-10,
}

func float(r *rand.Rand) float64 {
	switch r.IntN(4) {
	case 0:
		return floats[r.IntN(len(floats))]
	case 1:
		return math.Float64frombits(r.Uint64()) // anything, NaNs included
	case 2:
		return r.NormFloat64() * math.Pow(10, float64(r.IntN(50)-25))
	}
	return math.Round(r.Float64()*2000000) / 100 // metres, to the centimetre
}

// timestamp is any time protojson accepts, with 0, 3, 6 or 9 fractional
// digits.
func timestamp(r *rand.Rand) *timestamppb.Timestamp {
	secs := minTimestampSeconds + r.Int64N(maxTimestampSeconds-minTimestampSeconds+1)
	switch r.IntN(4) {
	case 0:
		secs = []int64{minTimestampSeconds, maxTimestampSeconds, 0, -1, 1_700_000_000}[r.IntN(5)]
	case 1:
		secs = 1_600_000_000 + r.Int64N(400_000_000) // this century
	}
	var nanos int32
	switch r.IntN(5) {
	case 1:
		nanos = r.Int32N(1000) * 1e6
	case 2:
		nanos = r.Int32N(1e6) * 1e3
	case 3:
		nanos = r.Int32N(1e9)
	case 4:
		nanos = []int32{1, 999999999, 100000000, 1000, 1000000, 10}[r.IntN(6)]
	}
	return &timestamppb.Timestamp{Seconds: secs, Nanos: nanos}
}

// TestEveryFieldIsEncoded checks each response type against its
// descriptor. Each message inside it, set but empty, must carry exactly
// the descriptor's keys (all but unset proto3 optional fields), so a field
// added to the proto fails here, named, until Encode writes it. Then each
// field is set alone, at the end of a path of otherwise empty messages,
// and the two encoders compared.
func TestEveryFieldIsEncoded(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 4))
	for _, m := range hot {
		root := m.ProtoReflect().Descriptor()
		sameKeys(t, m, nil)
		walk(root, nil, map[protoreflect.FullName]bool{}, func(path []protoreflect.FieldDescriptor) {
			if md := path[len(path)-1].Message(); md != nil && !wellKnown(md) {
				sameKeys(t, m, path)
			}
			for range 3 { // a few values: one may be the default
				msg := m.ProtoReflect().New()
				setAlong(r, msg, path)
				want, _ := GatewayOptions.Marshal(msg.Interface())
				var compact bytes.Buffer
				_ = json.Compact(&compact, want)
				got, ok := Encode(msg.Interface())
				if !ok || !bytes.Equal(got, compact.Bytes()) {
					t.Errorf("%s: Encode does not write %s as protojson does (ok %v) %s",
						root.Name(), pathName(path), ok, firstDifference(got, compact.Bytes()))
					return
				}
			}
		})
	}
}

// sameKeys fails t unless the object Encode writes for the message at the
// end of path in a message like m (set, empty; m itself when path is
// empty) has the keys of its descriptor's fields, in their order.
func sameKeys(t *testing.T, m proto.Message, path []protoreflect.FieldDescriptor) {
	t.Helper()
	msg := m.ProtoReflect().New()
	root := msg.Descriptor()
	r := rand.New(rand.NewPCG(0, 0))
	setAlong(r, msg, path)
	got, ok := Encode(msg.Interface())
	if !ok {
		t.Fatalf("%s: Encode refused an empty %s", root.Name(), pathName(path))
	}
	md := root
	if len(path) > 0 {
		md = path[len(path)-1].Message()
	}
	var want []string
	for i := range md.Fields().Len() {
		if fd := md.Fields().Get(i); fd.ContainingOneof() == nil {
			want = append(want, fd.TextName())
		}
	}
	keys, err := keysAt(got, path)
	if err != nil {
		t.Fatalf("%s: %s in %s: %v", root.Name(), pathName(path), got, err)
	}
	if strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Errorf("%s: Encode writes %s (%s) with keys\n %v\nbut its fields are\n %v",
			root.Name(), md.FullName(), pathName(path), keys, want)
	}
}

// keysAt returns the keys, in order, of the object at path in doc (first
// elements of lists).
func keysAt(doc []byte, path []protoreflect.FieldDescriptor) ([]string, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	n, err := readNode(d)
	if err != nil {
		return nil, err
	}
	for _, fd := range path {
		if n = n.fields[fd.TextName()]; n == nil {
			return nil, fmt.Errorf("no %s", fd.TextName())
		}
		if fd.IsList() {
			if len(n.list) == 0 {
				return nil, fmt.Errorf("%s is an empty list", fd.TextName())
			}
			n = n.list[0]
		}
	}
	if n.fields == nil {
		return nil, fmt.Errorf("not an object")
	}
	return n.keys, nil
}

// node is a JSON value that keeps its objects' key order.
type node struct {
	keys   []string
	fields map[string]*node
	list   []*node
}

func readNode(d *json.Decoder) (*node, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	n := &node{}
	switch tok {
	case json.Delim('{'):
		n.fields = map[string]*node{}
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return nil, err
			}
			v, err := readNode(d)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k.(string))
			n.fields[k.(string)] = v
		}
		_, err = d.Token()
	case json.Delim('['):
		for d.More() {
			v, err := readNode(d)
			if err != nil {
				return nil, err
			}
			n.list = append(n.list, v)
		}
		_, err = d.Token()
	}
	return n, err
}

func wellKnown(md protoreflect.MessageDescriptor) bool {
	return strings.HasPrefix(string(md.FullName()), "google.protobuf.")
}

// walk calls f with the path to every field under d; well-known types
// (Timestamp) are leaves, written whole.
func walk(d protoreflect.MessageDescriptor, path []protoreflect.FieldDescriptor, seen map[protoreflect.FullName]bool, f func([]protoreflect.FieldDescriptor)) {
	if seen[d.FullName()] {
		return
	}
	seen[d.FullName()] = true
	defer delete(seen, d.FullName())
	for i := range d.Fields().Len() {
		fd := d.Fields().Get(i)
		p := append(path[:len(path):len(path)], fd)
		f(p)
		if md := fd.Message(); md != nil && !strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
			walk(md, p, seen, f)
		}
	}
}

// setAlong makes the messages on path (one element of each list) and
// sets its last field: a random scalar or timestamp, or an empty message.
func setAlong(r *rand.Rand, m protoreflect.Message, path []protoreflect.FieldDescriptor) {
	for _, fd := range path {
		var next protoreflect.Message
		switch {
		case fd.IsList() && fd.Message() != nil:
			next = m.Mutable(fd).List().AppendMutable().Message()
		case fd.IsList():
			m.Mutable(fd).List().Append(scalar(r, fd))
		case fd.Message() != nil:
			next = m.Mutable(fd).Message()
		default:
			m.Set(fd, scalar(r, fd))
		}
		if next != nil {
			if ts, ok := next.Interface().(*timestamppb.Timestamp); ok {
				v := timestamp(r)
				ts.Seconds, ts.Nanos = v.Seconds, v.Nanos
			}
			m = next
		}
	}
}

func pathName(path []protoreflect.FieldDescriptor) string {
	var names []string
	for _, fd := range path {
		names = append(names, string(fd.Name()))
	}
	return strings.Join(names, ".")
}

// TestWhatProtojsonRefusesIsLeftToIt: invalid UTF-8, timestamps out of
// protojson's range and nil list elements go to protojson, so the
// gateway's marshaler answers (or fails) exactly as before.
func TestWhatProtojsonRefusesIsLeftToIt(t *testing.T) {
	jsonpb := &runtime.JSONPb{MarshalOptions: GatewayOptions}
	fast := NewMarshaler(jsonpb)
	for _, c := range []struct {
		name string
		m    proto.Message
	}{
		{"invalid UTF-8 in a name", &sparcv1.Asset{DisplayName: "caf\xe9"}},
		{"invalid UTF-8 deep inside", &sparcv1.SearchAssetsResponse{Results: []*sparcv1.SearchResult{{Asset: &sparcv1.Asset{Sessions: []*sparcv1.Session{{Timezone: "Europe/\xffLondon"}}}}}}},
		{"a truncated rune", &sparcv1.ListAssetsResponse{Assets: []*sparcv1.Asset{{Categories: []string{"ok", "\xf0\x9f\x91"}}}}},
		{"year 10000", &sparcv1.Asset{CreateTime: &timestamppb.Timestamp{Seconds: maxTimestampSeconds + 1}}},
		{"before year 1", &sparcv1.Asset{UpdateTime: &timestamppb.Timestamp{Seconds: minTimestampSeconds - 1}}},
		{"negative nanos", &sparcv1.Asset{NextSessionTime: &timestamppb.Timestamp{Nanos: -1}}},
		{"a billion nanos", &sparcv1.Asset{LastVerifiedTime: &timestamppb.Timestamp{Nanos: 1e9}}},
		{"a nil result", &sparcv1.SearchAssetsResponse{Results: []*sparcv1.SearchResult{{}, nil}}},
		{"a nil asset in a list", &sparcv1.ListAssetsResponse{Assets: []*sparcv1.Asset{nil}}},
		{"a nil session", &sparcv1.Asset{Sessions: []*sparcv1.Session{nil}}},
		{"a nil response", (*sparcv1.SearchAssetsResponse)(nil)},
		{"a nil term", &sparcv1.ListVocabularyResponse{Terms: []*sparcv1.Term{nil}}},
		{"invalid UTF-8 in a postcode's attribution", &sparcv1.Postcode{Attribution: "\xc3("}},
		{"another message", &sparcv1.Term{Code: "x"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, ok := Encode(c.m); ok {
				t.Fatal("Encode wrote it; protojson must")
			}
			want, wantErr := jsonpb.Marshal(c.m)
			got, err := fast.Marshal(c.m)
			if !bytes.Equal(got, want) || !sameError(err, wantErr) {
				t.Fatalf("marshaler: %s, %v; JSONPb: %s, %v", got, err, want, wantErr)
			}
		})
	}
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return errors.Is(a, b)
	}
	return a.Error() == b.Error()
}

// TestOnlyTheGatewayOptionsTakeTheFastPath: with other options the
// marshaler is JSONPb itself.
func TestOnlyTheGatewayOptionsTakeTheFastPath(t *testing.T) {
	m := &sparcv1.Asset{Name: "assets/x"}
	if !NewMarshaler(&runtime.JSONPb{MarshalOptions: GatewayOptions}).fast {
		t.Fatal("the gateway's options do not take the fast path")
	}
	camel := &runtime.JSONPb{}
	camel.EmitUnpopulated = true
	fm := NewMarshaler(camel)
	if fm.fast {
		t.Fatal("JSON names take the fast path, which writes proto names")
	}
	got, _ := fm.Marshal(m)
	if !bytes.Contains(got, []byte(`"displayName"`)) {
		t.Fatalf("JSON names: %s", got)
	}
}
