// Package jsonfast writes the gateway's hottest responses (searches,
// listings and single assets) as JSON without protojson's reflection.
//
// Over HTTP a search cost about three times the server CPU of the same
// search over gRPC (0.9 ms against 0.3 ms), and most of the difference was
// protojson walking the answer through protoreflect, one field and one
// interface call at a time. The encoders here read the generated structs
// directly and append to one buffer.
//
// The JSON is the API's, byte for byte: the same as protojson with the
// gateway's options (proto names, unpopulated fields emitted) apart from
// the insignificant spaces protojson inserts at random. The tests prove
// it: every response type is filled at random through protoreflect
// thousands of times and both encoders' outputs compared token by token,
// and a field the proto gains but these encoders do not know fails a test
// until it is added here. What the encoders cannot write exactly as
// protojson would (invalid UTF-8, a timestamp out of range, a nil list
// element) is handed to protojson, so errors stay protojson's.
package jsonfast

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// enc remembers whether a value must be left to protojson. The buffer is
// passed and returned rather than kept in enc: a slice stored through a
// pointer costs a GC write barrier on every append.
type enc struct {
	refused bool
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

func appendInt32(b []byte, v int32) []byte { return strconv.AppendInt(b, int64(v), 10) }

// appendOptionalInt32 writes a proto3 optional int32 that is set; an unset
// one is left out, as protojson leaves out unset members of a oneof.
func appendOptionalInt32(b []byte, name string, v *int32) []byte {
	if v != nil {
		b = append(b, name...)
		b = appendInt32(b, *v)
	}
	return b
}

// appendDouble is protojson's float formatting (its internal json
// encoder, after encoding/json): NaN and infinities as strings, shortest
// round-trip digits, exponent form below 1e-6 and from 1e21 with "e-07"
// shortened to "e-7".
func appendDouble(b []byte, n float64) []byte {
	switch {
	case math.IsNaN(n):
		return append(b, `"NaN"`...)
	case math.IsInf(n, +1):
		return append(b, `"Infinity"`...)
	case math.IsInf(n, -1):
		return append(b, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(n); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, n, format, -1, 64)
	if format == 'e' {
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// plain marks the ASCII bytes a JSON string carries as they are: protojson
// escapes only '"', '\\' and the control characters below 0x20 (not '<',
// '>', '&', DEL or U+2028/U+2029, unlike encoding/json).
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hex = "0123456789abcdef"

// str writes s as protojson does; invalid UTF-8 is left to protojson,
// which refuses it.
func (e *enc) str(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			e.refused = true
			return b
		}
		i += n
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func (e *enc) strs(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = e.str(b, s)
	}
	return append(b, ']')
}

// enumNames holds an enum's value names as JSON strings, indexed by
// number; a number without a name is written as a number, as protojson
// does.
type enumNames []string

func namesOf(d protoreflect.EnumDescriptor) enumNames {
	vals := d.Values()
	var max protoreflect.EnumNumber
	for i := 0; i < vals.Len(); i++ {
		max = maxNum(max, vals.Get(i).Number())
	}
	names := make(enumNames, max+1)
	for i := 0; i < vals.Len(); i++ {
		v := vals.Get(i)
		// protojson names the first value declared with a number.
		if v.Number() >= 0 && names[v.Number()] == "" {
			names[v.Number()] = `"` + string(v.Name()) + `"`
		}
	}
	return names
}

func maxNum(a, b protoreflect.EnumNumber) protoreflect.EnumNumber {
	if b > a {
		return b
	}
	return a
}

func appendEnum(b []byte, names enumNames, v int32) []byte {
	if v >= 0 && int(v) < len(names) && names[v] != "" {
		return append(b, names[v]...)
	}
	return appendInt32(b, v)
}

// The range protojson accepts: 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59Z.
const (
	minTimestampSeconds = -62135596800
	maxTimestampSeconds = 253402300799
)

// timestamp is RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, as
// protojson writes google.protobuf.Timestamp; null when unset.
func (e *enc) timestamp(b []byte, t *timestamppb.Timestamp) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	secs, nanos := t.GetSeconds(), t.GetNanos()
	if secs < minTimestampSeconds || secs > maxTimestampSeconds || nanos < 0 || nanos > 999999999 {
		e.refused = true
		return b
	}
	u := time.Unix(secs, 0).UTC()
	year, month, day := u.Date()
	hour, minute, second := u.Clock()
	b = append(b, '"')
	b = digits(b, year, 4)
	b = append(b, '-')
	b = digits(b, int(month), 2)
	b = append(b, '-')
	b = digits(b, day, 2)
	b = append(b, 'T')
	b = digits(b, hour, 2)
	b = append(b, ':')
	b = digits(b, minute, 2)
	b = append(b, ':')
	b = digits(b, second, 2)
	if nanos != 0 {
		b = append(b, '.')
		switch {
		case nanos%1e6 == 0:
			b = digits(b, int(nanos/1e6), 3)
		case nanos%1e3 == 0:
			b = digits(b, int(nanos/1e3), 6)
		default:
			b = digits(b, int(nanos), 9)
		}
	}
	return append(b, 'Z', '"')
}

// digits appends v, 0 <= v < 10^width, zero-padded to width.
func digits(b []byte, v, width int) []byte {
	n := len(b)
	for range width {
		b = append(b, '0')
	}
	for i := len(b) - 1; i >= n; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}
