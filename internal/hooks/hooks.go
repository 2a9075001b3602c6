// Package hooks is what observation adds to the transport: interceptors,
// handler wrappers and callbacks, gathered in one value that the
// composition root (internal/app) hands the server. It exists so that
// internal/telemetry can build them without importing the transport
// package, which only the composition root may import.
package hooks

import (
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Hooks are what the server runs for metrics and traces. Each field is
// optional; the zero value adds nothing.
type Hooks struct {
	// Unary and Stream run first, outside the transport's own
	// interceptors, so they see the status the caller gets.
	Unary  []grpc.UnaryServerInterceptor
	Stream []grpc.StreamServerInterceptor
	// InnerUnary and InnerStream run last, after the authorisation layer,
	// where the caller's organisation is known.
	InnerUnary  []grpc.UnaryServerInterceptor
	InnerStream []grpc.StreamServerInterceptor
	// ServerOptions and DialOptions go to the gRPC server and to the
	// gateway's in-process client (trace context crosses that hop).
	ServerOptions []grpc.ServerOption
	DialOptions   []grpc.DialOption
	// HTTP wraps the whole HTTP port, outermost.
	HTTP []func(http.Handler) http.Handler
	// Refused is told of every refusal the transport answers with
	// RESOURCE_EXHAUSTED (rate limits, stream limits), gRPC or HTTP.
	Refused func(*status.Status)
	// Registered is told of the gRPC server once every service is
	// registered (metrics create each method's series).
	Registered func(*grpc.Server)
}

// Merge returns h with o's hooks after h's.
func (h Hooks) Merge(o Hooks) Hooks {
	h.Unary = append(h.Unary, o.Unary...)
	h.Stream = append(h.Stream, o.Stream...)
	h.InnerUnary = append(h.InnerUnary, o.InnerUnary...)
	h.InnerStream = append(h.InnerStream, o.InnerStream...)
	h.ServerOptions = append(h.ServerOptions, o.ServerOptions...)
	h.DialOptions = append(h.DialOptions, o.DialOptions...)
	h.HTTP = append(h.HTTP, o.HTTP...)
	if h.Refused == nil {
		h.Refused = o.Refused
	} else if o.Refused != nil {
		a, b := h.Refused, o.Refused
		h.Refused = func(st *status.Status) { a(st); b(st) }
	}
	if h.Registered == nil {
		h.Registered = o.Registered
	} else if o.Registered != nil {
		a, b := h.Registered, o.Registered
		h.Registered = func(g *grpc.Server) { a(g); b(g) }
	}
	return h
}

// WrapHTTP applies the HTTP hooks to next, the first outermost.
func (h Hooks) WrapHTTP(next http.Handler) http.Handler {
	for i := len(h.HTTP) - 1; i >= 0; i-- {
		next = h.HTTP[i](next)
	}
	return next
}
