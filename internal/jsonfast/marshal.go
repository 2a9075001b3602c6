package jsonfast

import (
	"sync"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// GatewayOptions are the protojson options whose output Encode
// reproduces: the gateway's.
var GatewayOptions = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

// Encode returns v as JSON, as protojson with GatewayOptions writes it,
// when v is a response this package knows (a search or list answer, an
// asset, the vocabulary, a postcode). It returns false for any other
// value, and for a value protojson must write or refuse itself (invalid
// UTF-8, a timestamp out of range, a nil list element).
func Encode(v any) ([]byte, bool) {
	var e enc
	bp := buffers.Get().(*[]byte)
	b := (*bp)[:0]
	switch m := v.(type) {
	case *sparcv1.SearchAssetsResponse:
		if m == nil {
			return release(bp, b, false)
		}
		b = e.searchAssetsResponse(b, m)
	case *sparcv1.Asset:
		if m == nil {
			return release(bp, b, false)
		}
		b = e.asset(b, m)
	case *sparcv1.ListAssetsResponse:
		if m == nil {
			return release(bp, b, false)
		}
		b = e.listAssetsResponse(b, m)
	case *sparcv1.ListVocabularyResponse:
		if m == nil {
			return release(bp, b, false)
		}
		b = e.listVocabularyResponse(b, m)
	case *sparcv1.Postcode:
		if m == nil {
			return release(bp, b, false)
		}
		b = e.postcode(b, m)
	default:
		return release(bp, b, false)
	}
	return release(bp, b, !e.refused)
}

// buffers keep the encoding space between responses, so that a response
// costs one allocation of its exact size (the gateway keeps the slice it
// is given, so the pooled one cannot be handed out).
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// maxPooled bounds the buffers kept: one huge answer should not pin its
// buffer for good.
const maxPooled = 1 << 20

func release(bp *[]byte, b []byte, ok bool) ([]byte, bool) {
	var out []byte
	if ok {
		out = make([]byte, len(b))
		copy(out, b)
	}
	if cap(b) <= maxPooled {
		*bp = b[:0]
		buffers.Put(bp)
	}
	return out, ok
}

// Marshaler is the gateway's JSON marshaler: Encode for the responses it
// knows, the wrapped JSONPb for everything else (errors, streams, other
// services) and for decoding, content type and delimiter.
type Marshaler struct {
	*runtime.JSONPb
	fast bool
}

// NewMarshaler wraps j. The fast path is on only when j's marshal options
// are GatewayOptions, the only ones Encode reproduces.
func NewMarshaler(j *runtime.JSONPb) *Marshaler {
	// Resolver first: == on an interface holding an incomparable type
	// panics, and a resolver only matters for Any, which Encode never
	// writes.
	o := j.MarshalOptions
	return &Marshaler{JSONPb: j, fast: o.Resolver == nil && o == GatewayOptions}
}

// Marshal writes v as j would.
func (m *Marshaler) Marshal(v any) ([]byte, error) {
	if m.fast {
		if b, ok := Encode(v); ok {
			return b, nil
		}
	}
	return m.JSONPb.Marshal(v)
}
