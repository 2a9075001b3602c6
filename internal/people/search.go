package people

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/aip"
	"github.com/sparc-network/sparc/internal/apierr"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/db"
)

// Page sizes of lists and searches (AIP-158: more is capped, not refused).
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// ListPeople lists the caller's organisation's people as summaries, in
// display-name order.
func (s *Service) ListPeople(ctx context.Context, req *sparcv1.ListPeopleRequest) (*sparcv1.ListPeopleResponse, error) {
	var v apierr.InvalidArgument
	page := aip.StartPage[uuid.UUID](&v, s.tokens, req, defaultPageSize, maxPageSize)
	if err := v.Err(); err != nil {
		return nil, err
	}
	resp := &sparcv1.ListPeopleResponse{}
	var err error
	resp.People, resp.NextPageToken, err = s.page(ctx, page, listPeopleSQL)
	return resp, err
}

// SearchPeople finds people of the caller's organisation by one key: NHS
// number (its blind index), display-name prefix (with an optional year of
// birth) or postcode.
func (s *Service) SearchPeople(ctx context.Context, req *sparcv1.SearchPeopleRequest) (*sparcv1.SearchPeopleResponse, error) {
	var v apierr.InvalidArgument
	page := aip.StartPage[uuid.UUID](&v, s.tokens, req, defaultPageSize, maxPageSize)
	key := parseSearch(req, &v)
	org, _ := uuid.Parse(auth.FromContext(ctx).Org)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var q string
	var args []any
	switch {
	case key.nhs != "":
		// One page however small page_size is: a token would carry a hash
		// of the request, and so of the number.
		page.Size = maxPageSize
		q, args = searchPeopleByNHSSQL, []any{s.nhsIndex(org, key.nhs)}
	case key.postcode != "":
		q, args = searchPeopleByPostcodeSQL, []any{key.postcode}
	case key.year != nil:
		q, args = searchPeopleByNameYearSQL, []any{key.nameLower, key.nameUpper, *key.year, key.bands}
	default:
		q, args = searchPeopleByNameSQL, []any{key.nameLower, key.nameUpper}
	}
	resp := &sparcv1.SearchPeopleResponse{}
	var err error
	resp.People, resp.NextPageToken, err = s.page(ctx, page, q, args...)
	return resp, err
}

// page reads one page of a list or search query: the caller's organisation
// named in the query (row-level security binds it again), after the
// page's position, key arguments last.
func (s *Service) page(ctx context.Context, page *aip.Page[uuid.UUID], q string, key ...any) ([]*sparcv1.Person, string, error) {
	org, err := uuid.Parse(auth.FromContext(ctx).Org)
	if err != nil {
		return nil, "", nil // no organisation, no people (the policy admits none such)
	}
	after := uuid.Nil
	if page.After != nil {
		after = *page.After
	}
	// One round trip: the caller's identity (row-level security), the
	// call's audit event and the query, as one implicit transaction.
	var rows []summaryRow
	if err := db.Read(ctx, s.pool, func(b *pgx.Batch) {
		querySummaries(b, &rows, q, append([]any{org, after, page.Size + 1}, key...)...)
	}); err != nil {
		return nil, "", err
	}
	rows, token, err := aip.Next(page, rows, func(r summaryRow) uuid.UUID { return r.id })
	if err != nil {
		return nil, "", err
	}
	people := make([]*sparcv1.Person, len(rows))
	for i, r := range rows {
		people[i] = r.person
	}
	return people, token, nil
}

// BenchSearchStatements are the statements SearchPeople runs by NHS number,
// by name and by name and year of birth, for the benchmark's raw SQL path
// (cmd/sparcbench): $1 organisation, $2 the page's position (uuid.Nil
// first), $3 rows, then the key (byNHS: its blind index; byName: lower
// bound, upper bound; byNameYear: those, the year and BenchYearBands).
func BenchSearchStatements() (byNHS, byName, byNameYear string) {
	return searchPeopleByNHSSQL, searchPeopleByNameSQL, searchPeopleByNameYearSQL
}

// BenchNameRange is the name range SearchPeople searches for prefix.
func BenchNameRange(prefix string) (lower, upper string) {
	lower = strings.ToLower(strings.TrimSpace(prefix))
	return lower, prefixEnd(lower)
}

// BenchYearBands are the age bands SearchPeople accepts, besides the
// year itself, for a year of birth.
func BenchYearBands(year int32) []string { return bandsOfYear(year, time.Now().Year()) }
