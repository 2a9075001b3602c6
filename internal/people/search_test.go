package people_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/people"
	"github.com/sparc-network/sparc/internal/testenv"
)

// Valid NHS numbers (modulus 11), and one with a wrong check digit.
const (
	nhsA1    = "9434765919"
	nhsA2    = "4010232137"
	nhsB1    = "9876543210"
	nhsBad   = "9434765918"
	nhsSpare = "6541237891"
)

// twoOrgs is a server with two link-worker organisations, A and B.
type twoOrgs struct {
	env        *testenv.Env
	orgA, orgB string
	keyA, keyB string
	a, b       sparcv1.PersonServiceClient
}

func newTwoOrgs(t *testing.T) *twoOrgs {
	t.Helper()
	env := testenv.NewServer(t)
	w := &twoOrgs{env: env, orgA: env.NewOrg(t, "Ladywood link workers", "link_worker_service"),
		orgB: env.NewOrg(t, "Saltley link workers", "link_worker_service")}
	w.keyA, w.keyB = env.Key(t, w.orgA, auth.RoleLinkWorker), env.Key(t, w.orgB, auth.RoleLinkWorker)
	w.a = sparcv1.NewPersonServiceClient(env.ConnWithKey(t, w.keyA))
	w.b = sparcv1.NewPersonServiceClient(env.ConnWithKey(t, w.keyB))
	return w
}

func create(t *testing.T, c sparcv1.PersonServiceClient, p *sparcv1.Person) *sparcv1.Person {
	t.Helper()
	out, err := c.CreatePerson(context.Background(), &sparcv1.CreatePersonRequest{Person: p})
	if err != nil {
		t.Fatalf("creating %s: %v", p.GetDisplayName(), err)
	}
	return out
}

func names(ps []*sparcv1.Person) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.GetDisplayName())
	}
	return out
}

// httpCall sends a call over the gateway with key and decodes the answer
// into out (when 200); it returns the HTTP status.
func (w *twoOrgs) httpCall(t *testing.T, key, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.env.HTTPBase+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// leaks runs every read path as A's link worker (gRPC, HTTP GET and POST)
// and reports any of B's people it returns, or any of A's it misses.
func (w *twoOrgs) leaks(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	var found []string
	check := func(what string, got []*sparcv1.Person, want ...string) {
		for _, p := range got {
			if p.GetOrganisation() != "organisations/"+w.orgA || strings.HasPrefix(p.GetDisplayName(), "B ") {
				found = append(found, fmt.Sprintf("%s returned %s of %s", what, p.GetDisplayName(), p.GetOrganisation()))
			}
		}
		if g := names(got); !slices.Equal(g, want) {
			found = append(found, fmt.Sprintf("%s returned %v, want %v", what, g, want))
		}
	}
	list, err := w.a.ListPeople(ctx, &sparcv1.ListPeopleRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	check("list", list.GetPeople(), "A Amira Khan", "A Bob Jones")
	searches := []struct {
		req  *sparcv1.SearchPeopleRequest
		want []string
	}{
		{&sparcv1.SearchPeopleRequest{NhsNumber: nhsA1}, []string{"A Amira Khan"}},
		{&sparcv1.SearchPeopleRequest{NhsNumber: nhsB1}, nil},    // B's person: nothing, as for a number nobody has
		{&sparcv1.SearchPeopleRequest{NhsNumber: nhsSpare}, nil}, // held by both: A's own copy only
		{&sparcv1.SearchPeopleRequest{DisplayNamePrefix: "a am"}, []string{"A Amira Khan"}},
		{&sparcv1.SearchPeopleRequest{DisplayNamePrefix: "b am"}, nil},
		{&sparcv1.SearchPeopleRequest{Postcode: "b8 1aa"}, []string{"A Amira Khan"}},
	}
	for _, s := range searches {
		got, err := w.a.SearchPeople(ctx, s.req)
		if err != nil {
			t.Fatalf("search %v: %v", s.req, err)
		}
		check(fmt.Sprintf("search %v", s.req), got.GetPeople(), s.want...)
		var resp struct {
			People []struct {
				Organisation string `json:"organisation"`
				DisplayName  string `json:"display_name"`
			} `json:"people"`
		}
		for _, via := range []string{"GET", "POST"} {
			resp.People = nil
			path, body := "/v1/people:search?nhs_number="+s.req.GetNhsNumber()+"&display_name_prefix="+strings.ReplaceAll(s.req.GetDisplayNamePrefix(), " ", "+")+
				"&postcode="+strings.ReplaceAll(s.req.GetPostcode(), " ", "+"), any(nil)
			if via == "POST" {
				path, body = "/v1/people:search", map[string]any{"nhs_number": s.req.GetNhsNumber(),
					"display_name_prefix": s.req.GetDisplayNamePrefix(), "postcode": s.req.GetPostcode()}
			}
			if code := w.httpCall(t, w.keyA, via, path, body, &resp); code != http.StatusOK {
				found = append(found, fmt.Sprintf("%s %s: HTTP %d", via, path, code))
				continue
			}
			var ps []*sparcv1.Person
			for _, p := range resp.People {
				ps = append(ps, &sparcv1.Person{Organisation: p.Organisation, DisplayName: p.DisplayName})
			}
			check(via+" "+path, ps, s.want...)
		}
	}
	return found
}

// People are found only inside the caller's organisation, by every key and
// over every transport, even by an NHS number another organisation holds.
// The service names the organisation in every query and row-level security
// binds it again: with the policy weakened to true, the service alone still
// holds (TestRowLevelSecurityAloneKeepsPeopleApart shows the other wall
// alone).
func TestPeopleStayInTheirOrganisation(t *testing.T) {
	t.Parallel()
	w := newTwoOrgs(t)
	create(t, w.a, &sparcv1.Person{DisplayName: "A Amira Khan", NhsNumber: nhsA1, Postcode: "B8 1AA", YearOfBirth: 1950})
	create(t, w.a, &sparcv1.Person{DisplayName: "A Bob Jones", Postcode: "B7 4AL"})
	create(t, w.b, &sparcv1.Person{DisplayName: "B Amira Khan", NhsNumber: nhsB1, Postcode: "B8 1AA", YearOfBirth: 1950})
	// One number in both: each organisation may hold the person (the rule
	// is per organisation, and A learns nothing of B's record).
	create(t, w.b, &sparcv1.Person{DisplayName: "B Carol Spare", NhsNumber: nhsSpare})
	if f := w.leaks(t); len(f) > 0 {
		t.Fatalf("with both walls:\n%s", strings.Join(f, "\n"))
	}
	ctx := context.Background()
	if _, err := w.env.Pool.Exec(ctx, `ALTER POLICY people_own ON people USING (true) WITH CHECK (true)`); err != nil {
		t.Fatal(err)
	}
	if f := w.leaks(t); len(f) > 0 {
		t.Fatalf("with row-level security weakened, the service's own check let through:\n%s", strings.Join(f, "\n"))
	}
}

// The list and search statements, asked as A's link worker for B's
// people (a service that forgot its check), return nothing: row-level
// security alone keeps B's people out. Weakened, they come through, so
// the check above is not vacuous.
func TestRowLevelSecurityAloneKeepsPeopleApart(t *testing.T) {
	t.Parallel()
	w := newTwoOrgs(t)
	create(t, w.b, &sparcv1.Person{DisplayName: "B Amira Khan", NhsNumber: nhsB1, Postcode: "B8 1AA"})
	ctx := context.Background()
	var index []byte
	if err := w.env.Pool.QueryRow(ctx, `SELECT nhs_number_index FROM people WHERE organisation_id = $1`, w.orgB).Scan(&index); err != nil {
		t.Fatal(err)
	}
	seen := func() int {
		t.Helper()
		n := 0
		for _, q := range []struct {
			sql string
			key []any
		}{{people.ListPeopleSQL, nil}, {people.SearchPeopleByNHSSQL, []any{index}}, {people.SearchPeopleByPostcodeSQL, []any{"B81AA"}},
			{people.SearchPeopleByNameSQL, []any{"b am", "b an"}}, {people.SearchPeopleByNameYearSQL, []any{"b am", "b an", 1950, []string{""}}}} {
			tx, err := w.env.AppPool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, `SELECT set_config('sparc.org', $1, true), set_config('sparc.role', 'link_worker', true)`, w.orgA); err != nil {
				t.Fatal(err)
			}
			rows, err := tx.Query(ctx, q.sql, append([]any{w.orgB, uuid.Nil, 10}, q.key...)...)
			if err != nil {
				t.Fatal(err)
			}
			k, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (int, error) { return 1, nil })
			if err != nil {
				t.Fatal(err)
			}
			n += len(k)
			tx.Rollback(ctx) //nolint:errcheck
		}
		return n
	}
	if n := seen(); n != 0 {
		t.Fatalf("A's link worker asking for B's people got %d rows", n)
	}
	if _, err := w.env.Pool.Exec(ctx, `ALTER POLICY people_own ON people USING (true) WITH CHECK (true)`); err != nil {
		t.Fatal(err)
	}
	if n := seen(); n != 5 {
		t.Fatalf("with the policy weakened, asking for B's people got %d rows, want 5 (the check above would not notice a leak)", n)
	}
}

// Only link workers and admins of the organisation list and search
// people: not its group editors or analysts, nor the network admin, over
// gRPC or HTTP; and every call, allowed or refused, is audited without the
// NHS number searched for.
func TestPeopleListsAreForLinkWorkersAndAdminsAndAudited(t *testing.T) {
	t.Parallel()
	w := newTwoOrgs(t)
	create(t, w.a, &sparcv1.Person{DisplayName: "A Amira Khan", NhsNumber: nhsA1})
	ctx := context.Background()
	for _, role := range []string{auth.RoleGroupEditor, auth.RoleAreaAnalyst, auth.RoleNetworkAdmin} {
		key := w.env.Key(t, w.orgA, role)
		c := sparcv1.NewPersonServiceClient(w.env.ConnWithKey(t, key))
		if _, err := c.ListPeople(ctx, &sparcv1.ListPeopleRequest{}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s lists people: %v, want PermissionDenied", role, err)
		}
		if _, err := c.SearchPeople(ctx, &sparcv1.SearchPeopleRequest{NhsNumber: nhsA1}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s searches people: %v, want PermissionDenied", role, err)
		}
		if code := w.httpCall(t, key, "POST", "/v1/people:search", map[string]any{"nhs_number": nhsA1}, nil); code != http.StatusForbidden {
			t.Errorf("%s POSTs a search: HTTP %d, want 403", role, code)
		}
	}
	admin := sparcv1.NewPersonServiceClient(w.env.ConnWithKey(t, w.env.Key(t, w.orgA, auth.RoleAdmin)))
	got, err := admin.SearchPeople(ctx, &sparcv1.SearchPeopleRequest{NhsNumber: nhsA1})
	if err != nil || len(got.GetPeople()) != 1 {
		t.Fatalf("the organisation's admin searches: %v, %v", got, err)
	}
	if _, err := w.a.ListPeople(ctx, &sparcv1.ListPeopleRequest{}); err != nil {
		t.Fatal(err)
	}
	// Allowed calls: one event each. Refusals are summed per caller and
	// minute (docs/security.md), so each refused role shows at least once.
	audited := func(method, outcome string) (calls, roles int) {
		t.Helper()
		if err := w.env.Pool.QueryRow(ctx, `SELECT coalesce(sum(count), 0), count(DISTINCT role) FROM audit_events
			WHERE method = $1 AND outcome = $2 AND organisation_id = $3`,
			"/sparc.v1.PersonService/"+method, outcome, w.orgA).Scan(&calls, &roles); err != nil {
			t.Fatal(err)
		}
		return calls, roles
	}
	testenv.Until(t, 10*time.Second, "audit events of the people calls", func() bool {
		searched, _ := audited("SearchPeople", "ok")
		listed, _ := audited("ListPeople", "ok")
		_, searchRefused := audited("SearchPeople", "denied")
		_, listRefused := audited("ListPeople", "denied")
		return searched == 1 && listed == 1 && searchRefused == 3 && listRefused == 3
	})
	var leaked int
	if err := w.env.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE resource LIKE '%' || $1 || '%'`, nhsA1).Scan(&leaked); err != nil || leaked != 0 {
		t.Errorf("%d audit events carry the NHS number searched (%v)", leaked, err)
	}
}

// A second person with an NHS number of the organisation is ALREADY_EXISTS
// naming the first, however the number is spelled, on create and update,
// and when creates race: exactly one wins.
func TestOneNHSNumberPerOrganisation(t *testing.T) {
	t.Parallel()
	w := newTwoOrgs(t)
	ctx := context.Background()
	first := create(t, w.a, &sparcv1.Person{DisplayName: "A Amira Khan", NhsNumber: nhsA1})
	wantExisting := func(what string, err error, existing string) {
		t.Helper()
		if status.Code(err) != codes.AlreadyExists || !strings.HasPrefix(status.Convert(err).Message(), existing+": already exists") {
			t.Errorf("%s: %v, want AlreadyExists naming %s", what, err, existing)
		}
	}
	_, err := w.a.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{DisplayName: "A. K.", NhsNumber: "943-476 5919"}})
	wantExisting("a second create", err, first.GetName())
	other := create(t, w.a, &sparcv1.Person{DisplayName: "A Bob Jones", NhsNumber: nhsA2})
	_, err = w.a.UpdatePerson(ctx, &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: other.GetName(), NhsNumber: nhsA1},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"nhs_number"}}})
	wantExisting("an update to another's number", err, first.GetName())
	// The refused update changed nothing; a person keeps their own number
	// through updates of other fields; without a number, anyone may have it.
	if p, err := w.a.UpdatePerson(ctx, &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: other.GetName(), WhatMatters: "Walking"}}); err != nil ||
		p.GetNhsNumber() != nhsA2 {
		t.Fatalf("updating another field: %v, %v", p, err)
	}
	if _, err := w.a.UpdatePerson(ctx, &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: first.GetName()},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"nhs_number"}}}); err != nil {
		t.Fatal(err)
	}
	moved, err := w.a.UpdatePerson(ctx, &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: other.GetName(), NhsNumber: nhsA1},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"nhs_number"}}})
	if err != nil || moved.GetNhsNumber() != nhsA1 {
		t.Fatalf("taking a number given up: %v, %v", moved, err)
	}
	// Another organisation is not concerned.
	create(t, w.b, &sparcv1.Person{DisplayName: "B Amira Khan", NhsNumber: nhsA1})

	// Concurrent creates of one number: one person, the others named it.
	const n = 8
	var wg sync.WaitGroup
	results := make([]error, n)
	made := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := w.a.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{DisplayName: fmt.Sprintf("Racer %d", i), NhsNumber: nhsSpare}})
			results[i], made[i] = err, p.GetName()
		}()
	}
	wg.Wait()
	var winner string
	for i, err := range results {
		if err == nil {
			if winner != "" {
				t.Fatalf("two creates of one NHS number both won: %s and %s", winner, made[i])
			}
			winner = made[i]
		}
	}
	if winner == "" {
		t.Fatalf("no create won: %v", results)
	}
	for _, err := range results {
		if err != nil {
			wantExisting("a racing create", err, winner)
		}
	}
	var held int
	if err := w.env.Pool.QueryRow(ctx, `SELECT count(*) FROM people WHERE organisation_id = $1 AND display_name LIKE 'Racer %'`, w.orgA).Scan(&held); err != nil || held != 1 {
		t.Fatalf("%d racers stored (%v), want 1", held, err)
	}
}

// Each search key finds what it should, and bad searches are
// INVALID_ARGUMENT naming the field.
func TestSearchPeopleByEachKey(t *testing.T) {
	t.Parallel()
	w := newTwoOrgs(t)
	ctx := context.Background()
	create(t, w.a, &sparcv1.Person{DisplayName: "Amira Khan", NhsNumber: nhsA1, Postcode: "B8 1AA", YearOfBirth: 1950,
		Contact: &sparcv1.PersonContact{Phone: "0121 496 0000"}, WhatMatters: "Gardening"})
	create(t, w.a, &sparcv1.Person{DisplayName: "amir Shah", Postcode: "b81aa", AgeBand: bandBornIn(1950)})
	create(t, w.a, &sparcv1.Person{DisplayName: "Amelia Stone", YearOfBirth: 1990, Postcode: "B7 4AL"})
	create(t, w.a, &sparcv1.Person{DisplayName: "Ämil Ö", AgeBand: "18-24"})
	create(t, w.a, &sparcv1.Person{DisplayName: "Amira Old", AgeBand: "18-24"})
	search := func(req *sparcv1.SearchPeopleRequest) []string {
		t.Helper()
		got, err := w.a.SearchPeople(ctx, req)
		if err != nil {
			t.Fatalf("search %v: %v", req, err)
		}
		for _, p := range got.GetPeople() {
			if p.GetContact() != nil || p.GetNhsNumber() != "" || p.GetWhatMatters() != "" {
				t.Errorf("a search returned more than the summary: %v", p)
			}
		}
		return names(got.GetPeople())
	}
	for _, tc := range []struct {
		req  *sparcv1.SearchPeopleRequest
		want []string
	}{
		{&sparcv1.SearchPeopleRequest{NhsNumber: nhsA1}, []string{"Amira Khan"}},
		{&sparcv1.SearchPeopleRequest{NhsNumber: "943 476 5919"}, []string{"Amira Khan"}},
		{&sparcv1.SearchPeopleRequest{NhsNumber: nhsA2}, nil},
		{&sparcv1.SearchPeopleRequest{DisplayNamePrefix: "AMI"}, []string{"amir Shah", "Amira Khan", "Amira Old"}},
		{&sparcv1.SearchPeopleRequest{DisplayNamePrefix: "amira"}, []string{"Amira Khan", "Amira Old"}},
		{&sparcv1.SearchPeopleRequest{DisplayNamePrefix: "ämi"}, []string{"Ämil Ö"}},
		{&sparcv1.SearchPeopleRequest{DisplayNamePrefix: "%a"}, nil},
		{&sparcv1.SearchPeopleRequest{DisplayNamePrefix: "am", YearOfBirth: 1950}, []string{"amir Shah", "Amira Khan"}},
		{&sparcv1.SearchPeopleRequest{DisplayNamePrefix: "am", YearOfBirth: 1990}, []string{"Amelia Stone"}},
		{&sparcv1.SearchPeopleRequest{Postcode: " b8 1AA"}, []string{"amir Shah", "Amira Khan"}},
		{&sparcv1.SearchPeopleRequest{Postcode: "B74AL"}, []string{"Amelia Stone"}},
		{&sparcv1.SearchPeopleRequest{Postcode: "B8"}, nil},
	} {
		if got := search(tc.req); !slices.Equal(got, tc.want) {
			t.Errorf("search %v: %v, want %v", tc.req, got, tc.want)
		}
	}
	for _, tc := range []struct {
		req   *sparcv1.SearchPeopleRequest
		field string
	}{
		{&sparcv1.SearchPeopleRequest{}, "nhs_number"},
		{&sparcv1.SearchPeopleRequest{NhsNumber: nhsBad}, "nhs_number"},
		{&sparcv1.SearchPeopleRequest{NhsNumber: "12345"}, "nhs_number"},
		{&sparcv1.SearchPeopleRequest{NhsNumber: nhsA1, Postcode: "B8 1AA"}, "nhs_number"},
		{&sparcv1.SearchPeopleRequest{DisplayNamePrefix: "a"}, "display_name_prefix"},
		{&sparcv1.SearchPeopleRequest{DisplayNamePrefix: "a\x00b"}, "display_name_prefix"},
		{&sparcv1.SearchPeopleRequest{Postcode: "B8 1AA", YearOfBirth: 1950}, "year_of_birth"},
		{&sparcv1.SearchPeopleRequest{DisplayNamePrefix: "am", YearOfBirth: 1850}, "year_of_birth"},
		{&sparcv1.SearchPeopleRequest{Postcode: "   "}, "postcode"},
		{&sparcv1.SearchPeopleRequest{Postcode: "B8 1AA", PageSize: -1}, "page_size"},
	} {
		_, err := w.a.SearchPeople(ctx, tc.req)
		if status.Code(err) != codes.InvalidArgument || !slices.Contains(violated(err), tc.field) {
			t.Errorf("search %v: %v (fields %v), want InvalidArgument on %s", tc.req, err, violated(err), tc.field)
		}
	}
}

// bandBornIn is the age band of someone born in year as of today (their
// birthday passed).
func bandBornIn(year int) string {
	age := time.Now().Year() - year
	switch {
	case age >= 75:
		return "75+"
	case age >= 65:
		return "65-74"
	}
	return "55-64"
}

// Lists and searches page in display-name order with AIP-158 tokens bound
// to their query; every person appears once.
func TestPeoplePages(t *testing.T) {
	t.Parallel()
	w := newTwoOrgs(t)
	ctx := context.Background()
	var want []string
	for i := range 25 {
		name := fmt.Sprintf("Person %02d", 24-i)
		create(t, w.a, &sparcv1.Person{DisplayName: name, Postcode: "B8 1AA"})
		want = append(want, name)
	}
	slices.Sort(want)
	var got []string
	token, pages := "", 0
	for {
		resp, err := w.a.ListPeople(ctx, &sparcv1.ListPeopleRequest{PageSize: 10, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, names(resp.GetPeople())...)
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
		if pages == 1 {
			_, err := w.a.SearchPeople(ctx, &sparcv1.SearchPeopleRequest{Postcode: "B8 1AA", PageToken: token})
			if status.Code(err) != codes.InvalidArgument || !slices.Contains(violated(err), "page_token") {
				t.Errorf("a list's token on a search: %v", err)
			}
		}
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("%d pages: %v, want 3 pages of %v", pages, got, want)
	}
	got, token = nil, ""
	for {
		resp, err := w.a.SearchPeople(ctx, &sparcv1.SearchPeopleRequest{Postcode: "b81aa", PageSize: 7, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, names(resp.GetPeople())...)
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("postcode search pages: %v", got)
	}
	resp, err := w.a.SearchPeople(ctx, &sparcv1.SearchPeopleRequest{DisplayNamePrefix: "person 1", PageSize: 4})
	if err != nil || !slices.Equal(names(resp.GetPeople()), want[10:14]) || resp.GetNextPageToken() == "" {
		t.Fatalf("name search page: %v, %v", names(resp.GetPeople()), err)
	}
	resp, err = w.a.SearchPeople(ctx, &sparcv1.SearchPeopleRequest{DisplayNamePrefix: "person 1", PageSize: 4, PageToken: resp.GetNextPageToken()})
	if err != nil || !slices.Equal(names(resp.GetPeople()), want[14:18]) {
		t.Fatalf("name search second page: %v, %v", names(resp.GetPeople()), err)
	}
}

// The NHS number is stored sealed and as a blind index that is neither the
// number nor its plain hash, differs between organisations holding one
// number, and goes when the number goes.
func TestNHSNumberStaysSealed(t *testing.T) {
	t.Parallel()
	w := newTwoOrgs(t)
	ctx := context.Background()
	pa := create(t, w.a, &sparcv1.Person{DisplayName: "A Amira Khan", NhsNumber: nhsA1})
	create(t, w.b, &sparcv1.Person{DisplayName: "B Amira Khan", NhsNumber: nhsA1})
	rows, err := w.env.Pool.Query(ctx, `SELECT nhs_number_sealed, nhs_number_index FROM people ORDER BY display_name`)
	if err != nil {
		t.Fatal(err)
	}
	type stored struct{ sealed, index []byte }
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stored, error) {
		var s stored
		err := r.Scan(&s.sealed, &s.index)
		return s, err
	})
	if err != nil || len(got) != 2 {
		t.Fatalf("%d rows: %v", len(got), err)
	}
	plainHash := sha256.Sum256([]byte(nhsA1))
	for _, s := range got {
		if len(s.index) != 32 || bytes.Equal(s.index, plainHash[:]) || bytes.Contains(s.index, []byte(nhsA1)) ||
			bytes.Contains(s.sealed, []byte(nhsA1)) {
			t.Errorf("stored %x / %x for %s", s.sealed, s.index, nhsA1)
		}
	}
	if bytes.Equal(got[0].index, got[1].index) {
		t.Error("one NHS number has one index in two organisations: a copy of the database links them")
	}
	if _, err := w.a.UpdatePerson(ctx, &sparcv1.UpdatePersonRequest{Person: &sparcv1.Person{Name: pa.GetName()},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"nhs_number"}}}); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := w.env.Pool.QueryRow(ctx, `SELECT count(*) FROM people WHERE organisation_id = $1 AND (nhs_number_index IS NOT NULL OR nhs_number_sealed IS NOT NULL)`,
		w.orgA).Scan(&left); err != nil || left != 0 {
		t.Fatalf("after removing the number, %d rows keep it or its index (%v)", left, err)
	}
	// The trigger: whatever clears the sealed number (the retention purge)
	// clears its index.
	if _, err := w.env.Pool.Exec(ctx, `UPDATE people SET nhs_number_sealed = NULL WHERE organisation_id = $1`, w.orgB); err != nil {
		t.Fatal(err)
	}
	if err := w.env.Pool.QueryRow(ctx, `SELECT count(*) FROM people WHERE nhs_number_index IS NOT NULL`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("an index outlived its number: %d (%v)", left, err)
	}
}

// Under row-level security PostgreSQL applies a query's conditions after
// the policy's unless they are leakproof: a search key behind a function
// (lower(), replace()) would walk the whole organisation. Each search,
// run as the server runs it, reaches its index with its key.
func TestSearchesUseTheirIndexUnderRowLevelSecurity(t *testing.T) {
	t.Parallel()
	w := newTwoOrgs(t)
	ctx := context.Background()
	if _, err := w.env.Pool.Exec(ctx, `INSERT INTO people (id, organisation_id, display_name, postcode)
		SELECT gen_random_uuid(), $1, 'Person ' || i, 'B' || (i % 50) || ' 1AA' FROM generate_series(1, 5000) i`, w.orgA); err != nil {
		t.Fatal(err)
	}
	if _, err := w.env.Pool.Exec(ctx, `ANALYZE people`); err != nil {
		t.Fatal(err)
	}
	lo, hi := people.BenchNameRange("person 49")
	for _, q := range []struct {
		name, sql, key string
		args           []any
	}{
		{"name", people.SearchPeopleByNameSQL, "ROW(name_key, id) >", []any{lo, hi}},
		{"name and year", people.SearchPeopleByNameYearSQL, "year_of_birth = ", []any{lo, hi, 1950, []string{"", "70-79"}}},
		{"postcode", people.SearchPeopleByPostcodeSQL, "postcode_key = ", []any{"B491AA"}},
		{"NHS number", people.SearchPeopleByNHSSQL, "nhs_number_index = ", []any{make([]byte, 32)}},
		{"list", people.ListPeopleSQL, "ROW(name_key, id) >", nil},
	} {
		tx, err := w.env.AppPool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('sparc.org', $1, true), set_config('sparc.role', 'link_worker', true)`, w.orgA); err != nil {
			t.Fatal(err)
		}
		rows, err := tx.Query(ctx, "EXPLAIN "+q.sql, append([]any{w.orgA, uuid.Nil, 21}, q.args...)...)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		tx.Rollback(ctx) //nolint:errcheck
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(plan, func(l string) bool {
			return strings.Contains(l, "Index Cond") && strings.Contains(l, q.key)
		}) {
			t.Errorf("%s search: %s is not an index condition under row-level security:\n%s", q.name, q.key, strings.Join(plan, "\n"))
		}
	}
}
