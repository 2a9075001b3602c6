package server

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/httproute"
)

// The HTTP side of input at the edge. Before any route runs: the path and
// every query parameter name and value must be UTF-8 without NUL (the
// gateway would otherwise put them into a message that gRPC refuses to
// marshal, a 500); the query must be well formed; and every parameter
// must be one the route takes: the gateway's query parser refuses names
// that are not fields of the request message, routes whose body is the
// whole message take none, and plain routes declare theirs
// (httproute.Route.Params). A method the path does not serve is 405 with Allow.

// gwRoute is one HTTP binding of a gRPC method (google.api.http).
type gwRoute struct {
	method string
	segs   []string // literal segments; "" for a variable
	vars   []string // variable name per segment, "" for literals
	verb   string   // custom method after ":" in the last segment
	// noQuery: the gateway reads no query parameters for this binding
	// (the body is the whole message, or the path and body bind every
	// field), so it would ignore any silently.
	noQuery bool
}

// gatewayRoutes reads the HTTP bindings of every registered sparc.v1
// service from its descriptors: the same rules the gateway was generated
// from.
func gatewayRoutes() []gwRoute {
	var out []gwRoute
	protoregistry.GlobalFiles.RangeFilesByPackage("sparc.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			ms := fd.Services().Get(i).Methods()
			for j := 0; j < ms.Len(); j++ {
				rule, _ := proto.GetExtension(ms.Get(j).Options(), annotations.E_Http).(*annotations.HttpRule)
				if rule == nil {
					continue
				}
				for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
					if rt, ok := parseRule(r, ms.Get(j).Input()); ok {
						out = append(out, rt)
					}
				}
			}
		}
		return true
	})
	return out
}

func parseRule(r *annotations.HttpRule, in protoreflect.MessageDescriptor) (gwRoute, bool) {
	var method, path string
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		method, path = http.MethodGet, p.Get
	case *annotations.HttpRule_Post:
		method, path = http.MethodPost, p.Post
	case *annotations.HttpRule_Put:
		method, path = http.MethodPut, p.Put
	case *annotations.HttpRule_Patch:
		method, path = http.MethodPatch, p.Patch
	case *annotations.HttpRule_Delete:
		method, path = http.MethodDelete, p.Delete
	case *annotations.HttpRule_Custom:
		method, path = p.Custom.GetKind(), p.Custom.GetPath()
	default:
		return gwRoute{}, false
	}
	rt := gwRoute{method: method}
	segs := templateSegments(strings.TrimPrefix(path, "/"))
	last := segs[len(segs)-1]
	if i := strings.LastIndex(last, ":"); i >= 0 && !strings.Contains(last[i:], "}") {
		segs[len(segs)-1], rt.verb = last[:i], last[i+1:]
	}
	var bound []string // the path's variables, even one without a wildcard ({name=coverageSettings})
	for _, s := range segs {
		if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
			rt.segs, rt.vars = append(rt.segs, s), append(rt.vars, "")
			continue
		}
		// A variable is one segment ({id}) or, for a resource name, the
		// segments of its pattern ({name=assets/*}: "assets" and one
		// variable segment).
		name, pattern, _ := strings.Cut(s[1:len(s)-1], "=")
		bound = append(bound, name)
		for _, p := range strings.Split(cmp.Or(pattern, "*"), "/") {
			if p == "*" {
				rt.segs, rt.vars = append(rt.segs, ""), append(rt.vars, name)
			} else {
				rt.segs, rt.vars = append(rt.segs, p), append(rt.vars, "")
			}
		}
	}
	// As protoc-gen-grpc-gateway decides whether to parse the query: a
	// top-level field is bound when the body or a path variable names it
	// exactly.
	rt.noQuery = r.GetBody() == "*"
	if !rt.noQuery {
		unbound := 0
		for i := 0; i < in.Fields().Len(); i++ {
			name := string(in.Fields().Get(i).Name())
			if name != r.GetBody() && !slices.Contains(bound, name) {
				unbound++
			}
		}
		rt.noQuery = unbound == 0
	}
	return rt, true
}

// templateSegments splits a path template at the slashes outside its
// variables: "v1/{name=assets/*}" is "v1" and "{name=assets/*}".
func templateSegments(path string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range path {
		switch {
		case c == '{':
			depth++
		case c == '}':
			depth--
		case c == '/' && depth == 0:
			out, start = append(out, path[start:i]), i+1
		}
	}
	return append(out, path[start:])
}

// match reports whether path (decoded) is one of the route's.
func (rt gwRoute) match(path string) bool {
	return rt.matchSegs(strings.Split(strings.TrimPrefix(path, "/"), "/"))
}

// matchSegs is match on the path split at "/" (not modified).
func (rt gwRoute) matchSegs(segs []string) bool {
	if len(segs) != len(rt.segs) {
		return false
	}
	for i, s := range segs {
		if i == len(segs)-1 && rt.verb != "" {
			var ok bool
			if s, ok = strings.CutSuffix(s, ":"+rt.verb); !ok {
				return false
			}
		}
		if (rt.segs[i] == "" && s == "") || (rt.segs[i] != "" && rt.segs[i] != s) {
			return false
		}
	}
	return true
}

// pathField names the path variable holding the bad segment, or "path".
func (rt gwRoute) pathField(path string) string {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i, s := range segs {
		if i < len(rt.vars) && rt.vars[i] != "" && StringProblem(s) != "" {
			return rt.vars[i]
		}
	}
	return "path"
}

// edge checks every HTTP request before it is routed.
type inputGuard struct {
	mux    *http.ServeMux
	next   http.Handler
	gw     []gwRoute
	routes map[string]Route // plain routes by pattern
}

func newInputGuard(mux *http.ServeMux, routes []Route) *inputGuard {
	e := &inputGuard{mux: mux, next: mux, gw: gatewayRoutes(), routes: map[string]Route{}}
	for _, r := range routes {
		e.routes[r.Pattern] = r
	}
	return e
}

// gatewayPattern is the pattern the gateway is mounted on.
const gatewayPattern = "/"

func (e *inputGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := e.mux.Handler(r)
	plain := pattern != gatewayPattern && pattern != ""
	reject := writeStatus
	var gw *gwRoute
	if plain {
		if rt, ok := e.routes[pattern]; ok && rt.BadRequest != nil {
			reject = rt.BadRequest
		}
	} else {
		segs := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		for i := range e.gw {
			if e.gw[i].method == r.Method && e.gw[i].matchSegs(segs) {
				gw = &e.gw[i]
				break
			}
		}
	}
	if p := StringProblem(r.URL.Path); p != "" {
		field := "path"
		if gw != nil {
			field = gw.pathField(r.URL.Path)
		}
		reject(w, r, field, p)
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		reject(w, r, "query", "is not a well-formed query string (name=value pairs joined by &, percent-encoded)")
		return
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if p := StringProblem(k); p != "" {
			reject(w, r, "query", "has a parameter name that "+strings.TrimPrefix(strings.TrimPrefix(p, "is "), "must "))
			return
		}
		if k == "" {
			reject(w, r, "query", "has a parameter without a name")
			return
		}
		for _, v := range q[k] {
			if p := StringProblem(v); p != "" {
				reject(w, r, k, p)
				return
			}
		}
	}
	switch {
	case plain:
		allowed := e.routes[pattern].Params
		for _, k := range keys {
			if !slices.Contains(allowed, k) {
				reject(w, r, k, unknownParam(allowed))
				return
			}
		}
	case gw != nil && gw.noQuery && len(keys) > 0:
		reject(w, r, keys[0], "is not a parameter of this request: it takes no query parameters")
		return
	}
	e.next.ServeHTTP(w, r)
}

func unknownParam(allowed []string) string {
	if len(allowed) == 0 {
		return "is not a parameter of this request: it takes none"
	}
	return "is not a parameter of this request; it takes " + strings.Join(allowed, ", ")
}

// writeStatus answers 400 with a google.rpc.Status naming the field, as
// the gateway answers bad input.
func writeStatus(w http.ResponseWriter, _ *http.Request, field, description string) {
	writeStatusCode(w, http.StatusBadRequest, violation(codes.InvalidArgument, field, description))
}

func writeStatusCode(w http.ResponseWriter, httpStatus int, st *status.Status) {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(st.Proto())
	if err != nil {
		b = []byte(`{"code":13,"message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(b)
}

// probeMethods are the methods tried when working out Allow.
var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions}

// allowed lists the methods served at r's path, by the gateway or a
// plain route.
func (e *inputGuard) allowed(r *http.Request) []string {
	var out []string
	for _, m := range probeMethods {
		if m == r.Method {
			continue
		}
		probe := *r
		probe.Method = m
		if _, p := e.mux.Handler(&probe); p != gatewayPattern && p != "" {
			out = append(out, m)
			continue
		}
		for _, rt := range e.gw {
			if rt.method == m && rt.match(r.URL.Path) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// routingError answers a request the gateway has no route for: 405 with
// Allow when the path is served for other methods (the gateway alone
// says 501, and 404 for plain routes), else the default (404).
func (e *inputGuard) routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	if httpStatus == http.StatusMethodNotAllowed || httpStatus == http.StatusNotFound {
		if allow := e.allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeStatusCode(w, http.StatusMethodNotAllowed, apierr.WithReason(status.New(codes.Unimplemented,
				fmt.Sprintf("method %s is not allowed here; allowed: %s", r.Method, strings.Join(allow, ", "))), "METHOD_NOT_ALLOWED", nil))
			return
		}
		httpStatus = http.StatusNotFound
	}
	if httpStatus == http.StatusNotFound {
		// A path no route serves, told apart from a resource that does
		// not exist (RESOURCE_NOT_FOUND) by its reason.
		runtime.HTTPError(ctx, mux, m, w, r, apierr.Error(codes.NotFound, "ROUTE_NOT_FOUND", "Not Found"))
		return
	}
	runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, httpStatus)
}

// strictQuery is the gateway's query parser: the default one, but a
// parameter that is not a field of the request message, or that names a
// field bound by the path or the body, is refused instead of ignored
// (?lat=&lng= on a search returned the whole directory), and a value of
// the wrong type is described without Go's parser text.
type strictQuery struct{}

// The parser is process-wide in grpc-gateway (SetQueryParameterParser
// sets a global), so it is installed once, here, not per server.
func init() { runtime.SetQueryParameterParser(strictQuery{})(nil) }

var mapKeyRe = regexp.MustCompile(`^(.*)\[(.*)\]$`)

func (strictQuery) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	// A search's query, the common case, without reflection (searchQuery);
	// anything it does not take is parsed below from a clean message.
	if m, ok := msg.(*sparcv1.SearchAssetsRequest); ok && len(filter.Encoding) == 0 && emptySearch(m) {
		if searchQuery(m, values) {
			return nil
		}
		proto.Reset(m)
	}
	return parseQuery(msg, values, filter)
}

// parseQuery is strictQuery's general way, for every request message.
func parseQuery(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	md := msg.ProtoReflect().Descriptor()
	for _, k := range keys {
		path, fd, ok := resolveQueryKey(md, k)
		switch {
		case k == "":
			return queryViolation("query", "has a parameter without a name")
		case !ok:
			return queryViolation(k, "is not a parameter of this request")
		case filter.HasCommonPrefix(path):
			return queryViolation(k, "is given in the path or the body of this request, not the query")
		case !fd.IsList() && !fd.IsMap() && len(values[k]) > 1:
			return queryViolation(k, "is given %d times; give it once", len(values[k]))
		}
	}
	values = queryShorthands(md, values)
	def := &runtime.DefaultQueryParser{}
	err := def.Parse(msg, values, filter)
	if err == nil {
		return nil
	}
	// Find the parameter at fault: parse each alone into a scratch message.
	for _, k := range keys {
		scratch := msg.ProtoReflect().New().Interface()
		if def.Parse(scratch, url.Values{k: values[k]}, filter) != nil {
			_, fd, _ := resolveQueryKey(md, k)
			return queryViolation(k, "%s", expected(fd))
		}
	}
	return queryViolation(keys[0], "conflicts with another parameter (the same field given twice, or two choices of one group)")
}

// queryShorthands rewrites the two shorthands a person types in a URL
// before the standard parser reads the query:
//   - "now" in a timestamp parameter is the server's current time
//     (open_at=now): a browser or curl user has no clock to put in the URL,
//     and the server's is the one that decides what is open;
//   - an enum value without its type's prefix (remote=only for
//     REMOTE_FILTER_ONLY, any case), since AIP-126 prefixes every value with
//     its enum's name only to keep them unique in the proto namespace.
//
// The full forms keep working; values that are neither are left for the
// parser to refuse with its usual field violation.
func queryShorthands(md protoreflect.MessageDescriptor, values url.Values) url.Values {
	var out url.Values
	set := func(k, v string) {
		if out == nil {
			out = make(url.Values, len(values))
			for k2, v2 := range values {
				out[k2] = v2
			}
		}
		out[k] = []string{v}
	}
	for k, vs := range values {
		if len(vs) != 1 {
			continue
		}
		_, fd, ok := resolveQueryKey(md, k)
		if !ok {
			continue
		}
		switch {
		case fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Timestamp" && strings.EqualFold(vs[0], "now"):
			set(k, time.Now().UTC().Format(time.RFC3339Nano))
		case fd.Enum() != nil:
			if full, ok := enumShorthand(fd.Enum(), vs[0]); ok {
				set(k, full)
			}
		}
	}
	if out == nil {
		return values
	}
	return out
}

// enumShorthand finds the value whose name is the enum's common prefix
// followed by short (REMOTE_FILTER_ + ONLY), when short is not already a
// value's full name or number.
func enumShorthand(ed protoreflect.EnumDescriptor, short string) (string, bool) {
	vals := ed.Values()
	if short == "" || vals.Len() == 0 || vals.ByName(protoreflect.Name(short)) != nil {
		return "", false
	}
	prefix := string(vals.Get(0).Name())
	for i := 1; i < vals.Len(); i++ {
		name := string(vals.Get(i).Name())
		for !strings.HasPrefix(name, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	if j := strings.LastIndexByte(prefix, '_'); j >= 0 {
		prefix = prefix[:j+1]
	} else {
		return "", false
	}
	if v := vals.ByName(protoreflect.Name(prefix + strings.ToUpper(short))); v != nil {
		return string(v.Name()), true
	}
	return "", false
}

// queryViolation is an error the generated gateway code turns into an
// INVALID_ARGUMENT status by its text; httpError reads the field back.
var queryViolation = httproute.QueryViolation

// resolveQueryKey finds the field a query key names (proto or JSON names,
// dotted through singular messages, field[key] for maps).
func resolveQueryKey(md protoreflect.MessageDescriptor, key string) ([]string, protoreflect.FieldDescriptor, bool) {
	fieldKey, isMapKey := key, false
	if m := mapKeyRe.FindStringSubmatch(key); m != nil {
		fieldKey, isMapKey = m[1], true
	}
	parts := strings.Split(fieldKey, ".")
	path := make([]string, 0, len(parts))
	var fd protoreflect.FieldDescriptor
	for i, p := range parts {
		if md == nil {
			return nil, nil, false
		}
		fd = md.Fields().ByTextName(p)
		if fd == nil {
			fd = md.Fields().ByJSONName(p)
		}
		if fd == nil {
			return nil, nil, false
		}
		path = append(path, string(fd.Name()))
		if i < len(parts)-1 {
			if fd.Message() == nil || fd.IsList() || fd.IsMap() {
				return nil, nil, false
			}
			md = fd.Message()
		}
	}
	if isMapKey != fd.IsMap() {
		return nil, nil, false
	}
	return path, fd, true
}

// expected describes the values a field takes, for a value that did not
// parse.
func expected(fd protoreflect.FieldDescriptor) string {
	if fd == nil {
		return "has a value of the wrong type"
	}
	if fd.IsMap() {
		fd = fd.MapValue()
	}
	if md := fd.Message(); md != nil {
		switch md.FullName() {
		case "google.protobuf.Timestamp":
			return "must be a time in RFC 3339 form, e.g. 2026-01-31T09:00:00Z"
		case "google.protobuf.Duration":
			return "must be a duration in seconds, e.g. 1.5s"
		case "google.protobuf.FieldMask":
			return "must be field names separated by commas"
		}
		if v := md.Fields().ByName("value"); v != nil && strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
			fd = v // wrappers
		} else {
			return "has a value of the wrong type"
		}
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return "must be true or false"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return "must be a whole number"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "must be a whole number, 0 or more"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "must be a finite number"
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		names := make([]string, 0, vals.Len())
		for i := 0; i < vals.Len(); i++ {
			names = append(names, string(vals.Get(i).Name()))
		}
		return "must be one of " + strings.Join(names, ", ")
	case protoreflect.BytesKind:
		return "must be base64"
	}
	return "has a value of the wrong type"
}
