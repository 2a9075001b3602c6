package app_test

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// The process-wide loggers (slog.Default, the log package, an http.Server
// without ErrorLog) ignore --log-format: a JSON log pipeline then gets
// plain text lines it cannot parse. Nothing in internal/ may use them;
// every component takes the configured *slog.Logger.
func TestNothingInInternalLogsThroughTheProcessDefaultLogger(t *testing.T) {
	t.Parallel()
	// slog's package-level functions that write through the default logger.
	viaDefault := map[string]bool{"Default": true, "SetDefault": true, "Debug": true, "Info": true, "Warn": true,
		"Error": true, "Log": true, "LogAttrs": true, "DebugContext": true, "InfoContext": true, "WarnContext": true,
		"ErrorContext": true}
	var found []string
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		names := map[string]string{} // local name -> import path
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			name := p[strings.LastIndex(p, "/")+1:]
			if imp.Name != nil {
				name = imp.Name.Name
			}
			names[name] = p
			if p == "log" {
				found = append(found, fset.Position(imp.Pos()).String()+": imports the log package")
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && names[id.Name] == "log/slog" && viaDefault[n.Sel.Name] {
					found = append(found, fset.Position(n.Pos()).String()+": slog."+n.Sel.Name)
				}
			case *ast.CompositeLit:
				// An http.Server without ErrorLog logs through the log package.
				if sel, ok := n.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Server" {
					if id, ok := sel.X.(*ast.Ident); ok && names[id.Name] == "net/http" && !hasField(n, "ErrorLog") {
						found = append(found, fset.Position(n.Pos()).String()+": http.Server without ErrorLog")
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Error(f)
	}
}

func hasField(lit *ast.CompositeLit, name string) bool {
	for _, e := range lit.Elts {
		if kv, ok := e.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok && id.Name == name {
				return true
			}
		}
	}
	return false
}

// The ORUK and coverage handlers (served beside the gateway, outside its
// logging) report failures through the app's configured logger, in its
// format, and nothing reaches the process default.
func TestPlainHTTPRoutesLogThroughTheConfiguredLogger(t *testing.T) {
	// Not parallel: it replaces the process default logger to watch it.
	var stray bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&stray, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) }) // SetDefault also routes the log package to stray

	var configured bytes.Buffer
	owner := testenv.NewPool(t)
	pool := testenv.AppPool(t, owner)
	a, err := app.New(t.Context(), pool, app.Config{Logger: slog.New(slog.NewJSONHandler(&configured, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, r := range a.Routes() {
		mux.Handle(r.Pattern, r.Handler)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	// With its database gone every handler fails unexpectedly and logs.
	pool.Close()
	for _, path := range []string{"/openreferral/services", "/v1/coverage.csv?kind=lsoa"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusInternalServerError {
			t.Errorf("%s: %d, want 500 with the database closed", path, resp.StatusCode)
		}
	}
	var messages []string
	for _, line := range bytes.Split(bytes.TrimSpace(configured.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var rec struct{ Msg, Path string }
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("configured logger wrote %q: not JSON: %v", line, err)
		}
		messages = append(messages, rec.Msg+" "+rec.Path)
	}
	want := []string{"openreferral request failed /openreferral/services", "coverage request failed /v1/coverage.csv"}
	if strings.Join(messages, "|") != strings.Join(want, "|") {
		t.Errorf("configured logger got %q, want %q", messages, want)
	}
	if stray.Len() > 0 {
		t.Errorf("the process default logger got %q", stray.String())
	}
}
