package people_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/app"
	"github.com/sparc-network/sparc/internal/auth"
	"github.com/sparc-network/sparc/internal/seal"
	"github.com/sparc-network/sparc/internal/testenv"
)

// People whose NHS numbers were sealed before the blind index existed get
// their index when the app starts (the migration cannot: the key is not in
// the database): they are found by number and hold it against a second
// person. A second person already sharing a number stays unindexed and is
// reported; starting again finds nothing new to do.
func TestNHSNumbersSealedBeforeTheIndexAreIndexedAtStartUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner := testenv.NewPool(t)
	pool := testenv.AppPool(t, owner)
	key := []byte("0123456789abcdef0123456789abcdef")
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	org := func(name string) string {
		var id string
		if err := owner.QueryRow(ctx, `INSERT INTO organisations (id, kind, name) VALUES (gen_random_uuid(), 'link_worker_service', $1)
			RETURNING id::text`, name).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	orgA, orgB := org("A"), org("B")
	// As a release before 0051 stored them: sealed, no index.
	old := func(org, name, nhs string) uuid.UUID {
		id := uuid.New()
		sealed, err := sealer.Seal([]byte(nhs), id[:])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := owner.Exec(ctx, `INSERT INTO people (id, organisation_id, display_name, nhs_number_sealed) VALUES ($1, $2, $3, $4)`,
			id, org, name, sealed); err != nil {
			t.Fatal(err)
		}
		return id
	}
	ids := []uuid.UUID{old(orgA, "A Amira Khan", nhsA1), old(orgA, "A Amira Khan again", nhsA1), old(orgB, "B Amira Khan", nhsA1)}
	for i := range 1100 { // more than one batch
		old(orgB, "B filler", []string{nhsA2, nhsB1}[i%2])
	}
	if _, err := owner.Exec(ctx, `UPDATE people SET nhs_number_index = NULL`); err != nil {
		t.Fatal(err)
	}
	// Fillers of one organisation share two numbers: two indexed, the
	// rest duplicates; A's pair: one indexed; B's Amira: indexed.
	appCtx, cancel := context.WithCancel(ctx)
	a, err := app.New(appCtx, pool, app.Config{DataKey: key, Auth: auth.Config{RatePerSecond: 1000, Burst: 1000}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	testenv.Serve(t, appCtx, cancel, a)
	var indexed, unindexed int
	if err := owner.QueryRow(ctx, `SELECT count(*) FILTER (WHERE nhs_number_index IS NOT NULL), count(*) FILTER (WHERE nhs_number_index IS NULL)
		FROM people`).Scan(&indexed, &unindexed); err != nil {
		t.Fatal(err)
	}
	if indexed != 4 || unindexed != 1099 {
		t.Fatalf("after start-up: %d indexed, %d not, want 4 and 1099", indexed, unindexed)
	}
	var aIndexed []uuid.UUID
	rows, _ := owner.Query(ctx, `SELECT id FROM people WHERE organisation_id = $1 AND nhs_number_index IS NOT NULL`, orgA)
	for rows.Next() {
		var id uuid.UUID
		rows.Scan(&id) //nolint:errcheck
		aIndexed = append(aIndexed, id)
	}
	if len(aIndexed) != 1 || !slices.Contains(ids[:2], aIndexed[0]) {
		t.Fatalf("A's indexed people: %v, want one of %v", aIndexed, ids[:2])
	}

	env := &testenv.Env{Pool: owner, Server: a.Server()}
	lw := sparcv1.NewPersonServiceClient(env.ConnWithKey(t, env.Key(t, orgA, auth.RoleLinkWorker)))
	got, err := lw.SearchPeople(ctx, &sparcv1.SearchPeopleRequest{NhsNumber: nhsA1})
	if err != nil || len(got.GetPeople()) != 1 || got.GetPeople()[0].GetName() != "people/"+aIndexed[0].String() {
		t.Fatalf("search by a backfilled number: %v, %v", got, err)
	}
	_, err = lw.CreatePerson(ctx, &sparcv1.CreatePersonRequest{Person: &sparcv1.Person{DisplayName: "A third", NhsNumber: nhsA1}})
	if status.Code(err) != codes.AlreadyExists || !strings.HasPrefix(status.Convert(err).Message(), "people/"+aIndexed[0].String()) {
		t.Fatalf("a new person with a backfilled number: %v", err)
	}

	// Starting again: nothing to index, the same duplicates reported.
	n, dups, err := a.People.IndexNHSNumbers(ctx)
	if err != nil || n != 0 || len(dups) != 1099 {
		t.Fatalf("second run: %d indexed, %d duplicates, %v; want 0, 1099", n, len(dups), err)
	}
}
