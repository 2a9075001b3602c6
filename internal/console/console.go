// Package console serves the web console (web/, TypeScript built by
// esbuild into dist/ and embedded here) at /app/ on the HTTP port, and
// sends a browser that opens / there. The console is static: everything
// it shows it reads from the public HTTP/JSON API with the caller's own
// key, so these routes are public and carry no data.
//
// dist/ is built, not committed (`make web`; `make run`, `make test` and
// `make build` do it first). A clone that has not built it still compiles
// (dist/.gitkeep keeps the embed pattern matching) and serves a page
// saying how to build the console.
//
// Headers: a strict Content-Security-Policy (only this origin's scripts,
// styles, workers and connections; no inline script; no framing), no
// referrer, no MIME sniffing. Asset names carry a hash of their content,
// so they are cached for a year; index.html, which names them, is
// revalidated on every load (ETag).
package console

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/httproute"
)

//go:embed all:dist
var dist embed.FS

// Route patterns, each a key of the access policy (auth.Policy).
const (
	RootRoute  = "GET /{$}"
	IndexRoute = "GET /app/{$}"
	AssetRoute = "GET /app/assets/{file}"
)

// CSP is the console's Content-Security-Policy. style-src allows blob:
// for the printable referral, which the console fetches with the caller's
// key and opens from a blob: URL (it inherits this policy), its style
// moved to a blob: stylesheet; only this origin's script can make one.
// MapLibre's worker is a module served from here (worker-src 'self'); its
// stylesheet's control icons are data: images.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' blob:; img-src 'self' data: blob:; " +
	"connect-src 'self'; worker-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Routes are the console's plain HTTP routes.
func Routes(cfg Config) []httproute.Route {
	s := &server{}
	if cfg.OIDC.Issuer != "" {
		s.oidc = &discovery{cfg: cfg.OIDC}
	}
	return []httproute.Route{
		{Pattern: ConfigRoute, Handler: http.HandlerFunc(s.config)},
		{Pattern: RootRoute, Handler: http.HandlerFunc(root)},
		{Pattern: IndexRoute, Handler: http.HandlerFunc(s.index), Params: callbackParams},
		{Pattern: AssetRoute, Handler: http.HandlerFunc(s.asset)},
	}
}

// root sends a browser (one that accepts HTML) to the console; any other
// client gets the 404 the API answers for a path it does not serve, as
// before the console existed.
func root(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Accept")
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		http.Redirect(w, r, "/app/", http.StatusSeeOther)
		return
	}
	st, _ := status.FromError(apierr.Error(codes.NotFound, "ROUTE_NOT_FOUND", "Not Found"))
	b, _ := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(st.Proto()) // as the gateway writes it
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write(b)
}

// headers are the security headers of every console response.
func (s *server) headers(ctx context.Context, h http.Header) {
	h.Set("Content-Security-Policy", s.csp(ctx))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// notBuilt is served at /app/ by a binary built without `make web`.
const notBuilt = "The SPARC console is not built into this binary: run `make web` (or `make run`), then build sparcd again.\n"

type server struct {
	once  sync.Once
	files map[string]*file // by name under dist/assets
	oidc  *discovery       // nil: sign-in by API key only
}

// file is one embedded asset, with its gzip form when that is smaller.
type file struct {
	raw, gz []byte
	ctype   string
}

func (s *server) load() {
	s.files = map[string]*file{}
	entries, _ := fs.ReadDir(dist, "dist/assets")
	for _, e := range entries {
		b, err := dist.ReadFile("dist/assets/" + e.Name())
		if err != nil || e.IsDir() {
			continue
		}
		f := &file{raw: b, ctype: contentType(e.Name())}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		if buf.Len() < len(b) {
			f.gz = buf.Bytes()
		}
		s.files[e.Name()] = f
	}
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func (s *server) index(w http.ResponseWriter, r *http.Request) {
	s.headers(r.Context(), w.Header())
	b, err := dist.ReadFile("dist/index.html")
	if err != nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(notBuilt))
		return
	}
	sum := sha256.Sum256(b)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(b))
}

func (s *server) asset(w http.ResponseWriter, r *http.Request) {
	s.once.Do(s.load)
	s.headers(r.Context(), w.Header())
	f, ok := s.files[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Add("Vary", "Accept-Encoding")
	body := f.raw
	if f.gz != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		q, found := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		weight, err := strconv.ParseFloat(q, 64)
		return !found || (err == nil && weight > 0)
	}
	return false
}
