package oruk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const schemaBase = "https://openreferraluk.org/specifications/3.0/schema/"

var (
	schemaOnce sync.Once
	compiler   *jsonschema.Compiler
	schemaErr  error
	schemaMu   sync.Mutex
	compiled   = map[string]*jsonschema.Schema{}
)

// orukSchema compiles one published ORUK 3.0 schema (testdata copy, under
// its published URL so the cross-file $refs resolve), asserting formats
// (uuid, uri, email, date-time) rather than only annotating them.
func orukSchema(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		compiler = jsonschema.NewCompiler()
		compiler.DefaultDraft(jsonschema.Draft2020)
		compiler.AssertFormat()
		files, err := filepath.Glob("testdata/oruk-3.0/schema/*.json")
		if err != nil || len(files) == 0 {
			schemaErr = err
			return
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				schemaErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				schemaErr = err
				return
			}
			if err := compiler.AddResource(schemaBase+filepath.Base(f), doc); err != nil {
				schemaErr = err
				return
			}
		}
	})
	if schemaErr != nil {
		t.Fatalf("loading ORUK schemas: %v", schemaErr)
	}
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if s, ok := compiled[name]; ok {
		return s
	}
	s, err := compiler.Compile(schemaBase + name)
	if err != nil {
		t.Fatalf("compiling %s: %v", name, err)
	}
	compiled[name] = s
	return s
}

// validate checks a JSON document against a published schema.
func validate(t *testing.T, schema string, body []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, body)
	}
	if err := orukSchema(t, schema).Validate(inst); err != nil {
		t.Errorf("does not validate against %s: %v\n%.2000s", schema, err, body)
	}
}

// get fetches an ORUK path anonymously (the API is public).
func get(t *testing.T, base, path string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(base + "/openreferral" + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func getJSON(t *testing.T, base, path string, v any) []byte {
	t.Helper()
	code, _, b := get(t, base, path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d: %s", path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return b
}

// demoServer is a server holding the demo directory.
func demoServer(t *testing.T) *testenv.Env {
	t.Helper()
	env := testenv.NewServer(t)
	n, err := demo.Load(context.Background(), env.Pool, env.App.Assets)
	if err != nil || n == 0 {
		t.Fatalf("loading demo data: %d, %v", n, err)
	}
	return env
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
