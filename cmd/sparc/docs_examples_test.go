package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/demo"
	"github.com/sparc-network/sparc/internal/testenv"
)

// The examples of README.md and docs/cli.md are run against a server
// holding the demo directory, as a new user would run them after `make
// run`, and each must find something: a documented query that returns
// nothing on the demo data teaches nothing. Examples are read from the
// documents themselves, so a new one is covered when it is written and an
// edited one is checked as edited. The few that cannot run here are
// skipped by name below, each with the reason.

// docsDemoServer is a server with the demo organisations and directory.
func docsDemoServer(t *testing.T) *testenv.Env {
	t.Helper()
	env := testenv.NewServer(t)
	if n, err := demo.Load(context.Background(), env.Pool, env.App.Assets); err != nil || n == 0 {
		t.Fatalf("loading the demo directory: %d, %v", n, err)
	}
	// make run (sparcd --demo) loads the demo postcodes too.
	if _, err := demo.LoadPostcodes(context.Background(), env.Pool); err != nil {
		t.Fatalf("loading the demo postcodes: %v", err)
	}
	return env
}

func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile("../../" + path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// codeLines returns the lines of the document's fenced code blocks, with
// backslash continuations joined and "$ " prompts and trailing comments
// removed.
func codeLines(doc string) []string {
	var out []string
	in := false
	pending := ""
	for _, l := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			in = !in
			continue
		}
		if !in {
			continue
		}
		l = strings.TrimPrefix(strings.TrimSpace(l), "$ ")
		if strings.HasSuffix(l, "\\") {
			pending += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		l = pending + l
		pending = ""
		if i := strings.Index(l, "  #"); i >= 0 {
			l = l[:i]
		}
		out = append(out, strings.TrimSpace(l))
	}
	return out
}

// shellWords splits a command line as sh would for the plain quoting the
// docs use ('…' and "…").
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// Every curl query of the README on the directory (native and ORUK) gets
// a 200 with at least one result.
func TestREADMEQueriesFindDemoAssets(t *testing.T) {
	t.Parallel()
	env := docsDemoServer(t)
	readme := readDoc(t, "README.md")
	urls := regexp.MustCompile(`'http://127\.0\.0\.1:8080(/(?:v1/assets|openreferral)[^' ]*)'`).FindAllStringSubmatch(readme, -1)
	ran := 0
	for _, m := range urls {
		path := m[1]
		if strings.Contains(path, "…") || strings.Contains(path, "{") || path == "/openreferral/" {
			continue // placeholders to fill in, and the version document
		}
		if strings.Contains(path, "open_at=now") {
			continue // depends on the hour the test runs, as --open-at now below
		}
		ran++
		t.Run(path, func(t *testing.T) {
			resp, err := http.Get(env.HTTPBase + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("HTTP %d: %s", resp.StatusCode, b)
			}
			var body map[string]json.RawMessage
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatalf("not JSON: %s", b)
			}
			n := -1
			for _, k := range []string{"results", "assets", "contents"} {
				var list []json.RawMessage
				if raw, ok := body[k]; ok && json.Unmarshal(raw, &list) == nil {
					n = len(list)
				}
			}
			if n <= 0 {
				t.Errorf("no results on the demo data: %.500s", b)
			}
		})
	}
	if ran < 3 {
		t.Fatalf("found %d README queries to run; has the README's form changed?", ran)
	}

	// The referral walk-through refers to one asset named in the README,
	// not to whichever happens to be nearest: it must be a demo asset
	// that takes referrals and counts places.
	m := regexp.MustCompile(`ASSET=(assets/[0-9a-f-]{36})`).FindStringSubmatch(readme)
	if m == nil {
		t.Fatal("the referral walk-through names no asset (ASSET=assets/…)")
	}
	a, err := env.Assets.GetAsset(context.Background(), &sparcv1.GetAssetRequest{Name: m[1]})
	if err != nil {
		t.Fatalf("the walk-through's asset %s: %v", m[1], err)
	}
	if !a.GetAcceptingReferrals() || a.GetCapacity() == 0 || a.GetStatus() != sparcv1.AssetStatus_ASSET_STATUS_ACTIVE {
		t.Errorf("the walk-through's asset %s does not take referrals with places: %v", m[1], a)
	}
}

// docsCLISkip are CLI examples that cannot run in this test, with why.
var docsCLISkip = map[string]string{
	"--within":      "reads a file the reader draws",
	"--open-at now": "depends on the hour the test runs",
	"NAME":          "a placeholder for the reader's asset",
	"$":             "uses the reader's shell variables",
	"--page-token":  "continues a page of the reader's own",
	" -h":           "prints help",
	"--lat 95":      "shows a refused request",
	"--kind club":   "shows a refused request",
}

// The CLI's asset examples (search, list, get, create, update) in README.md and
// docs/cli.md succeed on the demo data, and searches and lists find
// something. An update example's etag is the one the reader would have
// read, so the test reads it first.
func TestDocsCLIExamplesWorkOnDemoData(t *testing.T) {
	t.Parallel()
	env := docsDemoServer(t)
	owner := target{addr: env.Server.GRPCAddr(), key: env.Key(t, demo.Owner, auth.RoleAdmin)}
	ran := 0
	for _, doc := range []string{"README.md", "docs/cli.md"} {
		for _, line := range codeLines(readDoc(t, doc)) {
			for _, p := range []string{"go run ./cmd/sparc ", "bin/sparc "} {
				if strings.HasPrefix(line, p) {
					line = "sparc " + strings.TrimPrefix(line, p)
				}
			}
			if !strings.HasPrefix(line, "sparc assets ") {
				continue
			}
			skip := ""
			for s, why := range docsCLISkip {
				if strings.Contains(line, s) {
					skip = why
				}
			}
			words := shellWords(line)[1:]
			verb := words[1]
			if skip != "" || (verb != "search" && verb != "list" && verb != "get" && verb != "update" && verb != "create") {
				continue
			}
			ran++
			t.Run(doc+": "+line, func(t *testing.T) {
				args := words
				if verb == "update" {
					name := args[2]
					a, err := env.Assets.GetAsset(context.Background(), &sparcv1.GetAssetRequest{Name: name})
					if err != nil {
						t.Fatalf("the example's asset: %v", err)
					}
					args = append([]string(nil), args...)
					for i := range args[:len(args)-1] {
						if args[i] == "--etag" {
							args[i+1] = a.GetEtag()
						}
					}
				}
				out := mustSparc(t, owner, args...)
				if verb == "search" || verb == "list" {
					if n := resultCount(t, out); n == 0 {
						t.Errorf("no results on the demo data:\n%s", out)
					}
				}
			})
		}
	}
	if ran < 5 {
		t.Fatalf("ran %d CLI examples; has the docs' form changed?", ran)
	}
}

// resultCount counts the rows of a table or the results of -o json.
func resultCount(t *testing.T, out string) int {
	t.Helper()
	if !strings.HasPrefix(strings.TrimSpace(out), "{") {
		return len(tableRows(t, out))
	}
	var body struct{ Assets, Results []json.RawMessage }
	if err := json.Unmarshal([]byte(out), &body); err != nil {
		t.Fatalf("not JSON: %v\n%.500s", err, out)
	}
	return len(body.Assets) + len(body.Results)
}
