package reports

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/areas"
	"github.com/sparc-network/sparc/internal/window"
)

// request is a report request, checked.
type request struct {
	area   string // the area's code
	window window.Window
	format string // "html" or "pdf"
	lang   string // "en" or "nl"
}

// now is the clock for the default window; a variable for tests.
var now = time.Now

// parseRequest reads and checks the query. The server's input guard
// already refuses NUL, invalid UTF-8 and parameters the route does not
// take; the handler checks again, so it is safe wherever it is mounted.
// Every problem found is reported, as field violations.
func parseRequest(r *http.Request) (request, error) {
	var v apierr.InvalidArgument
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return request{}, apierr.Invalid("query", "is not a well-formed query string (name=value pairs joined by &, percent-encoded)")
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case !utf8.ValidString(k) || strings.ContainsFunc(k, unicode.IsControl):
			v.Add("query", "has a parameter name that is not valid UTF-8 text")
		case !slices.Contains(params, k):
			v.Add(k, "is not a parameter of this request; it takes %s", strings.Join(params, ", "))
		case len(q[k]) > 1:
			v.Add(k, "is given %d times; give it once", len(q[k]))
		case !utf8.ValidString(q[k][0]):
			v.Add(k, "is not valid UTF-8")
		case strings.ContainsFunc(q[k][0], unicode.IsControl):
			v.Add(k, "holds a control character")
		}
	}
	if err := v.Err(); err != nil {
		return request{}, err
	}
	out := request{lang: "en", format: "html"}

	switch a := q.Get("area"); a {
	case "":
		v.Add("area", "is required: an area's code (a council, MSOA, LSOA or buurt), e.g. E08000025 or BU05990110")
	default:
		out.area = areas.ParseParentCode(&v, "area", a)
	}

	if s := q.Get("window"); s == "" {
		// The last quarter that has ended: the period a meeting looks back on.
		out.window = window.LastEnded(now(), window.Quarter)
	} else if w, err := window.Parse(s); err != nil {
		v.Add("window", "%s", err.Error())
	} else {
		out.window = w
	}

	if l, ok := pickLanguage(r, q.Get("lang")); ok {
		out.lang = l
	} else {
		v.Add("lang", "must be en or nl")
	}
	if f, ok := pickFormat(r, q.Get("format")); ok {
		out.format = f
	} else {
		v.Add("format", "must be html or pdf")
	}
	return out, v.Err()
}

// pickLanguage is lang when given (en or nl), else the first of
// Accept-Language's tags that is Dutch or English, else English.
func pickLanguage(r *http.Request, lang string) (string, bool) {
	if lang != "" {
		_, ok := texts[lang]
		return lang, ok
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if _, ok := texts[base]; ok {
			return base, true
		}
	}
	return "en", true
}

// pickFormat is f when given (html or pdf), else the one of text/html and
// application/pdf that Accept prefers (by q, then order), else HTML: a
// browser's Accept (text/html, */*) gets the page. As the printable
// referral (internal/referrals).
func pickFormat(r *http.Request, f string) (string, bool) {
	if f != "" {
		return f, f == "html" || f == "pdf"
	}
	best, bestQ := "html", 0.0
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		ps := strings.Split(part, ";")
		var kind string
		switch strings.ToLower(strings.TrimSpace(ps[0])) {
		case "application/pdf":
			kind = "pdf"
		case "text/html":
			kind = "html"
		default:
			continue
		}
		qv := 1.0
		for _, p := range ps[1:] {
			if k, val, _ := strings.Cut(strings.TrimSpace(p), "="); strings.EqualFold(k, "q") {
				if x, err := strconv.ParseFloat(val, 64); err == nil {
					qv = x
				} else {
					qv = 0
				}
			}
		}
		if qv > bestQ {
			best, bestQ = kind, qv
		}
	}
	return best, true
}
