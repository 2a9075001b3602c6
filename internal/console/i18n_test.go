package console_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Every string the console shows is in English and Dutch: the two
// catalogues have the same keys, none empty, the same {placeholders};
// every key the source names is in them, and every key in them is named
// by the source (none left behind). A key is any quoted 'namespace.name'
// in web/src whose namespace the catalogue has.
func TestEveryConsoleStringIsInEnglishAndDutch(t *testing.T) {
	src := filepath.Join(repoRoot(t), "web", "src")
	catalogue := func(lang string) map[string]string {
		b, err := os.ReadFile(filepath.Join(src, "i18n", lang+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s.json: %v", lang, err)
		}
		return m
	}
	en, nl := catalogue("en"), catalogue("nl")
	placeholders := regexp.MustCompile(`\{\w+\}`)
	namespaces := map[string]bool{}
	for k, v := range en {
		namespaces[strings.SplitN(k, ".", 2)[0]] = true
		d, ok := nl[k]
		switch {
		case !ok:
			t.Errorf("nl.json lacks %q", k)
		case strings.TrimSpace(v) == "" || strings.TrimSpace(d) == "":
			t.Errorf("%q is empty in a catalogue", k)
		case !slices.Equal(sorted(placeholders.FindAllString(v, -1)), sorted(placeholders.FindAllString(d, -1))):
			t.Errorf("%q: placeholders differ: en %q, nl %q", k, v, d)
		}
	}
	for k := range nl {
		if _, ok := en[k]; !ok {
			t.Errorf("en.json lacks %q", k)
		}
	}

	used := map[string]bool{}
	literal := regexp.MustCompile(`'([a-z]+\.[a-zA-Z0-9.]+)'`)
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".ts") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			if namespaces[strings.SplitN(m[1], ".", 2)[0]] {
				used[m[1]] = true
				if _, ok := en[m[1]]; !ok {
					t.Errorf("%s uses %q, which no catalogue has", filepath.Base(path), m[1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(used) < 50 {
		t.Fatalf("found only %d keys in the source: the scan is broken", len(used))
	}
	for k := range en {
		if !used[k] {
			t.Errorf("%q is in the catalogues but no source uses it", k)
		}
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }
