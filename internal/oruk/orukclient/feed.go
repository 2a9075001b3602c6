package orukclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RawRecord is one service of a feed, not yet decoded, with where it came
// from (for the report).
type RawRecord struct {
	Where string // "record 3", "page 2 item 7", "GET /services/{id}"
	JSON  json.RawMessage
}

// maxFeedBytes bounds one response or dump file read into memory.
const maxFeedBytes = 256 << 20

// ParseDump reads a dump: an ORUK page (its contents), a JSON array of
// services, or a single service object.
func ParseDump(b []byte) ([]RawRecord, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, errors.New("feed is empty")
	}
	var list []json.RawMessage
	switch b[0] {
	case '[':
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("feed is not valid JSON: %w", err)
		}
	case '{':
		// A page (contents), an organization with its services, or one
		// service.
		var probe struct {
			Contents *[]json.RawMessage `json:"contents"`
			Services *[]json.RawMessage `json:"services"`
		}
		if err := json.Unmarshal(b, &probe); err != nil {
			return nil, fmt.Errorf("feed is not valid JSON: %w", err)
		}
		switch {
		case probe.Contents != nil:
			list = *probe.Contents
		case probe.Services != nil:
			list = *probe.Services
		default:
			list = []json.RawMessage{json.RawMessage(b)}
		}
	default:
		return nil, errors.New("feed is not valid JSON: expected an object or an array")
	}
	out := make([]RawRecord, len(list))
	for i, r := range list {
		out[i] = RawRecord{Where: "record " + strconv.Itoa(i+1), JSON: r}
	}
	return out, nil
}

// Fetcher reads a remote ORUK API: the paged /services list, then the
// full /services/{id} of every listed service that the list did not give
// fully nested, a bounded number at a time, each request under a timeout.
type Fetcher struct {
	Client         *http.Client
	Concurrency    int           // detail requests at once (default 4)
	RequestTimeout time.Duration // per request (default 30 s)
	PerPage        int           // list page size asked for (default 100)
	MaxPages       int           // stop after this many pages (default 10,000)
}

// FetchError is a problem with one listed record's details.
type FetchError struct {
	Where string
	Err   error
}

// Fetch returns the records of the feed at base (the API root, e.g.
// https://example.org/openreferral). A failing list page fails the whole
// fetch, since the feed's content is then unknown; a failing detail
// request is reported for its record only.
func (f *Fetcher) Fetch(ctx context.Context, base string) ([]RawRecord, []FetchError, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, fmt.Errorf("feed URL %q is not an http(s) URL", base)
	}
	c := f.settings(u)
	listed, err := c.list(ctx)
	if err != nil {
		return nil, nil, err
	}
	out, errs := c.details(ctx, listed)
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("fetching service details: %w", err)
	}
	var recs []RawRecord
	var fetchErrs []FetchError
	for i := range out {
		if errs[i] != nil {
			fetchErrs = append(fetchErrs, *errs[i])
			continue
		}
		recs = append(recs, out[i])
	}
	return recs, fetchErrs, nil
}

// feed is one fetch's view of the feed: the Fetcher's settings with their
// defaults filled in, and the API root.
type feed struct {
	client                  *http.Client
	base                    *url.URL
	conc, perPage, maxPages int
	timeout                 time.Duration
}

func (f *Fetcher) settings(base *url.URL) *feed {
	c := &feed{client: f.Client, base: base, conc: f.Concurrency, timeout: f.RequestTimeout, perPage: f.PerPage, maxPages: f.MaxPages}
	if c.client == nil {
		c.client = http.DefaultClient
	}
	if c.conc <= 0 {
		c.conc = 4
	}
	if c.timeout <= 0 {
		c.timeout = 30 * time.Second
	}
	if c.perPage <= 0 {
		c.perPage = 100
	}
	if c.maxPages <= 0 {
		c.maxPages = 10000
	}
	return c
}

// get reads one response of the API under the request timeout, at most
// maxFeedBytes of it, and refuses any status but 200.
func (c *feed) get(ctx context.Context, path string, q url.Values) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ru := *c.base
	ru.Path = c.base.Path + path
	ru.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ru.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("GET %s: no answer within %s", ru.String(), c.timeout)
		}
		return nil, fmt.Errorf("GET %s: %w", ru.String(), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxFeedBytes+1))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("GET %s: response not complete within %s", ru.String(), c.timeout)
		}
		return nil, fmt.Errorf("GET %s: reading response: %w", ru.String(), err)
	}
	if len(b) > maxFeedBytes {
		return nil, fmt.Errorf("GET %s: response larger than %d bytes", ru.String(), maxFeedBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", ru.String(), resp.StatusCode)
	}
	return b, nil
}

// list reads the paged /services list to its last page.
func (c *feed) list(ctx context.Context) ([]RawRecord, error) {
	var listed []RawRecord
	for page := 1; page <= c.maxPages; page++ {
		b, err := c.get(ctx, "/services", url.Values{"page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(c.perPage)}})
		if err != nil {
			return nil, fmt.Errorf("listing services, page %d: %w", page, err)
		}
		var p struct {
			TotalPages *int              `json:"total_pages"`
			LastPage   *bool             `json:"last_page"`
			Contents   []json.RawMessage `json:"contents"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("listing services, page %d: not valid JSON: %w", page, err)
		}
		for i, r := range p.Contents {
			listed = append(listed, RawRecord{Where: fmt.Sprintf("page %d item %d", page, i+1), JSON: r})
		}
		if len(p.Contents) == 0 || (p.LastPage != nil && *p.LastPage) || (p.TotalPages != nil && page >= *p.TotalPages) {
			break
		}
		if page == c.maxPages {
			return nil, fmt.Errorf("listing services: more than %d pages", c.maxPages)
		}
	}
	return listed, nil
}

// details reads /services/{id} for every listed service the list did not
// give fully nested, a bounded number at a time. It returns the records,
// in list order, and for each one the error that kept it out, if any.
func (c *feed) details(ctx context.Context, listed []RawRecord) ([]RawRecord, []*FetchError) {
	out := make([]RawRecord, len(listed))
	errs := make([]*FetchError, len(listed))
	sem := make(chan struct{}, c.conc)
	var wg sync.WaitGroup
	for i, r := range listed {
		id, ok := needsDetails(r)
		if !ok {
			out[i] = r // already full, or broken: the import reports it
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = &FetchError{Where: r.Where, Err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			b, err := c.get(ctx, "/services/"+url.PathEscape(id), nil)
			if err != nil {
				errs[i] = &FetchError{Where: "service " + id, Err: err}
				return
			}
			out[i] = RawRecord{Where: "service " + id, JSON: b}
		}()
	}
	wg.Wait()
	return out, errs
}

// needsDetails returns the id of a listed service that lacks its nested
// locations: a readable record with a string id and no
// service_at_locations.
func needsDetails(r RawRecord) (string, bool) {
	var head struct {
		ID                 any             `json:"id"`
		ServiceAtLocations json.RawMessage `json:"service_at_locations"`
	}
	if json.Unmarshal(r.JSON, &head) != nil || head.ServiceAtLocations != nil {
		return "", false
	}
	id, ok := head.ID.(string)
	return id, ok && id != ""
}
