package server

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sparc-network/sparc/internal/apierr"
)

// Input at the edge. Every gRPC request (and so every gateway request) is
// walked once before authorisation and before any handler: a string that
// PostgreSQL cannot store (NUL) or that is not UTF-8, and a list or map
// longer than MaxListItems, is INVALID_ARGUMENT naming the field. Handlers
// then validate meaning, never bytes, and a list's items are validated
// only once the list is known to be of a sane length.

// MaxListItems bounds every repeated field and map of a request. The
// largest legitimate lists are import batches (the CLI sends at most 500
// areas, the ORUK importer 1,000 records).
const MaxListItems = 1000

// String problems, as field violation descriptions. They never quote the
// value: it is the bad part.
const (
	descNUL     = "must not contain the NUL character (\\u0000)"
	descBadUTF8 = "is not valid UTF-8 text"
)

// StringProblem says what is wrong with s as request text, or "".
func StringProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return descBadUTF8
	case strings.IndexByte(s, 0) >= 0:
		return descNUL
	}
	return ""
}

// CheckMessage walks m (strings, lists, maps, nested messages) and returns
// an *apierr.InvalidArgument for bad text and over-long lists, or nil.
func CheckMessage(m proto.Message) error {
	if m == nil {
		return nil
	}
	w := walker{}
	w.message(m.ProtoReflect())
	return w.v.Err()
}

// walker keeps the field path as a stack so that names are only built
// for violations: a good request costs no allocation.
type walker struct {
	v    apierr.InvalidArgument
	path []string
}

func (w *walker) full() bool { return len(w.v.Violations) >= apierr.MaxReported }

func (w *walker) add(desc string, args ...any) {
	w.v.Add(strings.Join(w.path, ""), desc, args...)
}

func (w *walker) push(s string) { w.path = append(w.path, s) }
func (w *walker) pop()          { w.path = w.path[:len(w.path)-1] }

func (w *walker) message(m protoreflect.Message) {
	if len(w.path) == 0 {
		if field, ok := decodeMarker(m.GetUnknown()); ok {
			w.v.Add(field, descBadUTF8)
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		if len(w.path) > 0 {
			w.push("." + string(fd.Name()))
		} else {
			w.push(string(fd.Name()))
		}
		defer w.pop()
		switch {
		case fd.IsList():
			l := val.List()
			if l.Len() > MaxListItems {
				w.add("has %d entries, more than the maximum of %d", l.Len(), MaxListItems)
				break
			}
			if !needsWalk(fd) {
				break
			}
			for i := 0; i < l.Len() && !w.full(); i++ {
				w.push("[" + strconv.Itoa(i) + "]")
				w.value(fd, l.Get(i))
				w.pop()
			}
		case fd.IsMap():
			mp := val.Map()
			if mp.Len() > MaxListItems {
				w.add("has %d entries, more than the maximum of %d", mp.Len(), MaxListItems)
				break
			}
			mp.Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				key := k.String()
				if p := StringProblem(key); p != "" {
					w.add("has a key that %s", strings.TrimPrefix(strings.TrimPrefix(p, "is "), "must "))
					return !w.full()
				}
				w.push("[" + key + "]")
				w.value(fd.MapValue(), mv)
				w.pop()
				return !w.full()
			})
		default:
			w.value(fd, val)
		}
		return !w.full()
	})
}

// needsWalk: lists of numbers, enums and bytes hold no text.
func needsWalk(fd protoreflect.FieldDescriptor) bool {
	k := fd.Kind()
	return k == protoreflect.StringKind || k == protoreflect.MessageKind || k == protoreflect.GroupKind
}

func (w *walker) value(fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if p := StringProblem(v.String()); p != "" {
			w.add("%s", p)
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		w.message(v.Message())
	}
}

// checkUnary is the unary interceptor: the request is checked before
// authorisation (which may look keys up and audit) and the handler.
func checkUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if m, ok := req.(proto.Message); ok {
		if err := CheckMessage(m); err != nil {
			return nil, err
		}
	}
	return h(ctx, req)
}

// checkStream checks every message a stream receives.
func checkStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, checkedStream{ss})
}

type checkedStream struct{ grpc.ServerStream }

func (s checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if pm, ok := m.(proto.Message); ok {
		return CheckMessage(pm)
	}
	return nil
}

// inputCodec is the server's proto codec. gRPC turns any decoding error
// into INTERNAL before an interceptor runs, and protobuf refuses a
// proto3 string that is not UTF-8, so a client sending one got a 500-class
// error. Here such a request decodes as an empty message marked with the
// field at fault, and CheckMessage reports it as INVALID_ARGUMENT.
type inputCodec struct{ encoding.CodecV2 }

func newInputCodec() inputCodec { return inputCodec{encoding.GetCodecV2("proto")} }

// markerField is an unknown field number no SPARC message uses (the
// largest valid one); it carries the path of the field that was not UTF-8.
const markerField protowire.Number = protowire.MaxValidNumber

func (c inputCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	var utf8Err interface{ InvalidUTF8() bool }
	m, ok := v.(proto.Message)
	if err == nil || !ok || !errors.As(err, &utf8Err) {
		return err
	}
	buf := data.Materialize()
	field := badUTF8Field(buf, m.ProtoReflect().Descriptor(), "", 0)
	if field == "" {
		field = "request"
	}
	proto.Reset(m)
	var b []byte
	b = protowire.AppendTag(b, markerField, protowire.BytesType)
	b = protowire.AppendString(b, field)
	m.ProtoReflect().SetUnknown(b)
	return nil
}

func decodeMarker(b []byte) (string, bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", false
		}
		b = b[n:]
		if num == markerField && typ == protowire.BytesType {
			s, n := protowire.ConsumeString(b)
			if n < 0 {
				return "", false
			}
			if StringProblem(s) != "" {
				s = "request"
			}
			return s, true
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return "", false
		}
		b = b[n:]
	}
	return "", false
}

// badUTF8Field finds, in wire-format b of a message md, the path of the
// first string field that is not UTF-8 ("" if none is found).
func badUTF8Field(b []byte, md protoreflect.MessageDescriptor, prefix string, depth int) string {
	if depth > 32 {
		return ""
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		size := protowire.ConsumeFieldValue(num, typ, b)
		if size < 0 {
			return ""
		}
		val := b[:size]
		b = b[size:]
		fd := md.Fields().ByNumber(num)
		if fd == nil || typ != protowire.BytesType {
			continue
		}
		inner, n := protowire.ConsumeBytes(val)
		if n < 0 {
			return ""
		}
		name := prefix + string(fd.Name())
		switch {
		case fd.IsMap():
			if f := badUTF8Field(inner, fd.Message(), name+".", depth+1); f != "" {
				return name
			}
		case fd.Kind() == protoreflect.StringKind:
			if !utf8.Valid(inner) {
				return name
			}
		case fd.Kind() == protoreflect.MessageKind:
			if f := badUTF8Field(inner, fd.Message(), name+".", depth+1); f != "" {
				return f
			}
		}
	}
	return ""
}

// maxStatusBytes bounds an error sent to a caller. An error travels in
// HTTP/2 trailers (grpc-message, grpc-status-details-bin); one larger than
// the peer's header limit breaks the whole connection, and the gateway
// shares one connection among all HTTP callers. apierr bounds its own
// errors; this is the backstop for any other.
const maxStatusBytes = 16 << 10

// boundStatus returns st, or when it is too large to send safely, its code
// with the message cut and the details left out.
func boundStatus(st *status.Status) *status.Status {
	if st == nil || proto.Size(st.Proto()) <= maxStatusBytes {
		return st
	}
	msg := strings.ToValidUTF8(st.Message(), "\ufffd")
	if len(msg) > 1024 {
		cut := 1024
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "… (cut: the error was too large to send)"
	}
	return status.New(st.Code(), msg)
}
