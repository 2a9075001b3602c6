package server

// The edge: what one client can hold (time, header bytes, connections) and
// who it is (its address through trusted proxies, its request id). A slow
// client cannot keep a connection open past the timeouts, one address
// cannot take every connection, and neither X-Forwarded-For nor
// X-Request-Id is believed unless a trusted proxy sent it. The gateway's
// own hop to gRPC carries its decision in x-sparc-client-addr, which the
// gRPC side accepts only on the gateway's in-process connection
// (ViaGateway), which no network client can open.

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/sparc-network/sparc/internal/caller"
)

// Edge bounds what one client can hold and says whom to believe about
// the client's address. The zero value gives the defaults below.
type Edge struct {
	// TrustedProxies may speak for a client: their X-Forwarded-For gives
	// the client address and their X-Request-Id is kept. Empty: nobody.
	TrustedProxies caller.Proxies
	// ReadHeaderTimeout bounds reading a request's headers (and a gRPC
	// connection's handshake). Default 10 s.
	ReadHeaderTimeout time.Duration
	// BodyTimeout bounds reading a whole request body. Default 30 s.
	BodyTimeout time.Duration
	// WriteTimeout bounds writing a response, from the end of its headers;
	// for a stream (WatchReferrals over HTTP), each message. Default 2 min.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections (HTTP and gRPC) idle this
	// long. Default 2 min.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps a request's line and headers. Default 1 MiB (Go's
	// own): a search within a drawn polygon sends the GeoJSON in the query
	// string, and the search itself refuses a polygon over its vertex
	// limit with a clear 400; the read-header timeout bounds slow senders.
	MaxHeaderBytes int
	// MaxConns caps the open connections of each listener; MaxConnsPerAddr
	// those from one client address (trusted proxies exempt). Connections
	// beyond are closed at once. Defaults 10,000 and 2,000; negative: none.
	MaxConns, MaxConnsPerAddr int
}

func (e Edge) withDefaults() Edge {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&e.ReadHeaderTimeout, 10*time.Second)
	def(&e.BodyTimeout, 30*time.Second)
	def(&e.WriteTimeout, 2*time.Minute)
	def(&e.IdleTimeout, 2*time.Minute)
	if e.MaxHeaderBytes <= 0 {
		e.MaxHeaderBytes = 1 << 20
	}
	if e.MaxConns == 0 {
		e.MaxConns = 10_000
	}
	if e.MaxConnsPerAddr == 0 {
		e.MaxConnsPerAddr = 2_000
	}
	return e
}

// gatewayClientKey carries the gateway's decision about the client's
// address to the gRPC side, over the gateway's own connections only.
const gatewayClientKey = "x-sparc-client-addr"

// grpcEdgeOptions bound the gRPC side. There is no MaxConcurrentStreams:
// the gateway sends every HTTP call (watches included) over one loopback
// connection, which a per-connection cap would throttle for everyone;
// streams are bounded instead by the rate limits and the per-key cap on
// open watches (internal/auth).
func (s *Server) grpcEdgeOptions() []grpc.ServerOption {
	e := s.cfg.Edge
	return []grpc.ServerOption{
		grpc.ConnectionTimeout(e.ReadHeaderTimeout),
		grpc.MaxHeaderListSize(uint32(2 * e.MaxHeaderBytes)),
		// Idle connections are closed; connections with streams are pinged
		// after a minute of silence, so a watcher that vanished is noticed
		// (and its stream slot freed) within a minute and a half.
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: e.IdleTimeout, Time: time.Minute, Timeout: 20 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Minute}),
	}
}

// grpcCaller decides who a gRPC call is from. On the gateway's own
// in-process connection, the gateway already decided (from the HTTP request) and says so
// in metadata; from anyone else that metadata means nothing. A trusted
// proxy's x-forwarded-for and x-request-id count; nobody else's.
func (s *Server) grpcCaller(ctx context.Context) context.Context {
	var addr net.Addr
	if p, ok := peer.FromContext(ctx); ok {
		addr = p.Addr
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if ViaGateway(ctx) {
		v, id := md.Get(gatewayClientKey), md.Get("x-request-id")
		if len(v) == 1 && len(id) == 1 && caller.ValidRequestID(id[0]) {
			if a, ok := caller.ParseAddr(v[0]); ok {
				return caller.With(ctx, caller.Info{Addr: a, RequestID: id[0]})
			}
		}
	}
	from := caller.AddrOf(addr)
	proxies := s.cfg.Edge.TrustedProxies
	info := caller.Info{Addr: proxies.Client(from, md.Get("x-forwarded-for")), RequestID: caller.NewRequestID()}
	if id := md.Get("x-request-id"); proxies.Contains(from) && len(id) == 1 && caller.ValidRequestID(id[0]) {
		info.RequestID = id[0]
	}
	return caller.With(ctx, info)
}

// httpCaller decides who an HTTP request is from, as grpcCaller does.
func (s *Server) httpCaller(r *http.Request) caller.Info {
	var from netip.Addr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		from = ap.Addr().Unmap()
	}
	proxies := s.cfg.Edge.TrustedProxies
	info := caller.Info{Addr: proxies.Client(from, r.Header.Values("X-Forwarded-For")), RequestID: caller.NewRequestID()}
	if id := r.Header.Values("X-Request-Id"); proxies.Contains(from) && len(id) == 1 && caller.ValidRequestID(id[0]) {
		info.RequestID = id[0]
	}
	return info
}

// gatewayMetadata hands the edge's decision to the gRPC side. Annotator
// values replace whatever the request's headers put under the same keys
// (Grpc-Metadata-X-Sparc-Client-Addr), and incomingHeader drops those too.
func gatewayMetadata(ctx context.Context, r *http.Request) metadata.MD {
	info, ok := caller.From(r.Context())
	if !ok {
		return nil
	}
	return metadata.Pairs(gatewayClientKey, info.Addr.String(), "x-request-id", info.RequestID)
}

// edgeHTTP decides who the request is from, answers with its request id,
// and bounds it in time: the body must arrive within BodyTimeout, the
// response be written within WriteTimeout. These are per-request deadlines
// rather than the server's ReadTimeout and WriteTimeout so that streams
// can lift them (streamDeadlines), and so that a handler still running
// after its body was read is not cancelled by an expired read deadline.
func (s *Server) edgeHTTP(next http.Handler) http.Handler {
	e := s.cfg.Edge
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := s.httpCaller(r)
		w.Header().Set("X-Request-Id", info.RequestID)
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Now().Add(e.WriteTimeout))
		if r.Body != nil && r.Body != http.NoBody {
			_ = rc.SetReadDeadline(time.Now().Add(e.BodyTimeout))
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
		next.ServeHTTP(w, r.WithContext(caller.With(r.Context(), info)))
	})
}

// deadlineBody lifts the read deadline once the body has been read: the
// server then reads only to notice the client going away, and an expired
// deadline there would cancel the request.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// streamRoutes lists the gateway routes of server-streaming methods, as
// "VERB pattern" in the form runtime.Pattern.String gives.
func streamRoutes(g *grpc.Server) map[string]bool {
	routes := map[string]bool{}
	vars := regexp.MustCompile(`\{([^}=]+)\}`)
	add := func(rule *annotations.HttpRule) {
		for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
			verb, path := "", ""
			switch p := r.GetPattern().(type) {
			case *annotations.HttpRule_Get:
				verb, path = "GET", p.Get
			case *annotations.HttpRule_Post:
				verb, path = "POST", p.Post
			case *annotations.HttpRule_Put:
				verb, path = "PUT", p.Put
			case *annotations.HttpRule_Patch:
				verb, path = "PATCH", p.Patch
			case *annotations.HttpRule_Delete:
				verb, path = "DELETE", p.Delete
			default:
				continue
			}
			routes[verb+" "+vars.ReplaceAllString(path, "{$1=*}")] = true
		}
	}
	for name, info := range g.GetServiceInfo() {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			continue
		}
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			continue
		}
		for _, m := range info.Methods {
			md := sd.Methods().ByName(protoreflect.Name(m.Name))
			if !m.IsServerStream || md == nil {
				continue
			}
			if rule, ok := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule); ok && rule != nil {
				add(rule)
			}
		}
	}
	return routes
}

// streamDeadlines lifts the response deadline of a streaming route, which
// stays open as long as the client wants: each message must instead be
// written within WriteTimeout, so a client that stops reading is still
// cut off. (Its request has no body, so no read deadline is set.)
func (s *Server) streamDeadlines(routes map[string]bool) runtime.Middleware {
	return func(next runtime.HandlerFunc) runtime.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
			if pat, ok := runtime.HTTPPattern(r.Context()); ok && routes[r.Method+" "+pat.String()] {
				rc := http.NewResponseController(w)
				_ = rc.SetWriteDeadline(time.Time{})
				w = &streamWriter{ResponseWriter: w, rc: rc, timeout: s.cfg.Edge.WriteTimeout}
			}
			next(w, r, params)
		}
	}
}

// streamWriter gives each message of a stream its own write deadline,
// lifted again once the message is flushed (an HTTP/2 stream would be
// reset by a deadline passing while it waits for the next change).
type streamWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (w *streamWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	return w.ResponseWriter.Write(p)
}

func (w *streamWriter) Flush() {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	_ = w.rc.Flush()
	_ = w.rc.SetWriteDeadline(time.Time{})
}

func (w *streamWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// releasedConn runs release once, before the connection closes (so the
// address is forgotten before anyone else can be given it).
type releasedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *releasedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// CloseWrite keeps the half-close net/http uses to let a client read an
// error before the connection goes.
func (c *releasedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// limitConns caps a listener's connections in all and per client address
// (trusted proxies exempt: many clients share their address). A
// connection beyond a cap is closed at once, before it costs more than a
// file descriptor for a moment.
func (s *Server) limitConns(l net.Listener) net.Listener {
	e := s.cfg.Edge
	if e.MaxConns < 0 && e.MaxConnsPerAddr < 0 {
		return l
	}
	return &connLimiter{Listener: l, max: e.MaxConns, perAddr: e.MaxConnsPerAddr, exempt: e.TrustedProxies.Contains,
		byAddr: map[netip.Addr]int{}, refused: func(addr netip.Addr, which string) {
			if s.refusedLog.throttle() {
				s.log.Warn("connection refused: limit reached (logged at most every 10 s)", "limit", which, "addr", addr.String())
			}
		}}
}

type connLimiter struct {
	net.Listener
	max, perAddr int
	exempt       func(netip.Addr) bool
	refused      func(netip.Addr, string)

	mu     sync.Mutex
	total  int
	byAddr map[netip.Addr]int
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := caller.AddrOf(c.RemoteAddr())
		if which := l.admit(addr); which != "" {
			_ = c.Close()
			l.refused(addr, which)
			continue
		}
		return &releasedConn{Conn: c, release: func() { l.done(addr) }}, nil
	}
}

func (l *connLimiter) admit(addr netip.Addr) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.total >= l.max {
		return "connections"
	}
	perAddr := l.perAddr > 0 && !l.exempt(addr)
	if perAddr && l.byAddr[addr] >= l.perAddr {
		return "connections per address"
	}
	l.total++
	l.byAddr[addr]++
	return ""
}

func (l *connLimiter) done(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byAddr[addr]--; l.byAddr[addr] <= 0 {
		delete(l.byAddr, addr)
	}
}

// throttle lets a warning through at most every 10 s.
type throttle struct{ last atomic.Int64 }

func (t *throttle) throttle() bool {
	now := time.Now().UnixNano()
	last := t.last.Load()
	return now-last >= int64(10*time.Second) && t.last.CompareAndSwap(last, now)
}
