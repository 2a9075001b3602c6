package pagetoken_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
	"github.com/sparc-network/sparc/internal/pagetoken"
	"github.com/sparc-network/sparc/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type position struct {
	D  float64 `json:"d"`
	ID string  `json:"i"`
}

func signer(t testing.TB, key string) *pagetoken.Signer {
	t.Helper()
	s, err := pagetoken.NewSigner([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const key = "0123456789abcdef0123456789abcdef"

var queryA = []byte("query-hash-A....")

func TestRoundTrip(t *testing.T) {
	s := signer(t, key)
	want := position{D: 1234.5678901234, ID: "3f2504e0-4f89-41d3-9a0c-0305e82c3301"}
	tok, err := s.Encode(queryA, want)
	if err != nil {
		t.Fatal(err)
	}
	var got position
	if err := s.Decode(tok, queryA, &got); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestNewSignerNeedsALongKey(t *testing.T) {
	if _, err := pagetoken.NewSigner([]byte("short")); err == nil {
		t.Fatal("accepted a 5-byte key")
	}
}

func TestDecodeRejects(t *testing.T) {
	s := signer(t, key)
	tok, err := s.Encode(queryA, position{D: 1, ID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	flipped := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	other, _ := signer(t, "another key, also long enough").Encode(queryA, position{D: 1, ID: "x"})
	cases := []struct {
		name, token string
		query       []byte
	}{
		{"empty", "", queryA},
		{"not base64", "!!!not-a-token!!!", queryA},
		{"standard base64 padding", tok + "==", queryA},
		{"too short", tok[:10], queryA},
		{"truncated", tok[:len(tok)-1], queryA},
		{"body byte flipped", flipped(2), queryA},
		{"signature byte flipped", flipped(len(raw) - 1), queryA},
		{"signed with another key", other, queryA},
		{"different query", tok, []byte("query-hash-B....")},
		{"line break inserted", tok[:8] + "\n" + tok[8:], queryA},
		{"huge", string(bytes.Repeat([]byte("A"), 5000)), queryA},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p position
			err := s.Decode(tc.token, tc.query, &p)
			if !errors.Is(err, pagetoken.ErrInvalid) {
				t.Fatalf("Decode = %v, want ErrInvalid", err)
			}
		})
	}
}

// Each base64 character of a token must matter: no other spelling of a
// token is accepted (the decoder is strict about the unused low bits).
func TestEveryCharacterChangeIsRejected(t *testing.T) {
	s := signer(t, key)
	tok, err := s.Encode(queryA, position{D: 3, ID: "y"})
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range tok {
		for _, c := range []byte(alphabet) {
			if c == tok[i] {
				continue
			}
			mod := tok[:i] + string(c) + tok[i+1:]
			var p position
			if err := s.Decode(mod, queryA, &p); err == nil {
				t.Fatalf("accepted %q (character %d changed from %q to %q)", mod, i, tok[i], c)
			}
		}
	}
}

func TestQueryHashIgnoresOnlyPagingFields(t *testing.T) {
	clear := func(r *sparcv1.SearchAssetsRequest) { r.PageToken, r.PageSize = "", 0 }
	lat := 52.5
	base := &sparcv1.SearchAssetsRequest{Latitude: &lat, Categories: []string{"food"}}
	paged := &sparcv1.SearchAssetsRequest{Latitude: &lat, Categories: []string{"food"}, PageSize: 7, PageToken: "abc"}
	other := &sparcv1.SearchAssetsRequest{Latitude: &lat, Categories: []string{"food", "faith"}}
	if !bytes.Equal(pagetoken.QueryHash(base, clear), pagetoken.QueryHash(paged, clear)) {
		t.Fatal("page size and token changed the query hash")
	}
	if bytes.Equal(pagetoken.QueryHash(base, clear), pagetoken.QueryHash(other, clear)) {
		t.Fatal("a different filter gave the same query hash")
	}
	if paged.GetPageToken() != "abc" || paged.GetPageSize() != 7 {
		t.Fatal("QueryHash modified its argument")
	}
}

// Replicas starting together on a fresh database must agree on one key:
// a token from any of them is accepted by all. Each round starts from an
// empty server_secrets with warm connections, so the first-use inserts
// really do overlap.
func TestLoadSignerConcurrentFirstUseAgreesOnOneKey(t *testing.T) {
	t.Parallel()
	pool := testenv.NewPool(t)
	ctx := context.Background()
	const n = 8
	for round := 0; round < 20; round++ {
		if _, err := pool.Exec(ctx, `DELETE FROM server_secrets WHERE name = 'page_token_key'`); err != nil {
			t.Fatal(err)
		}
		var conns sync.WaitGroup
		for i := 0; i < n; i++ {
			conns.Add(1)
			go func() { defer conns.Done(); _ = pool.Ping(ctx) }()
		}
		conns.Wait()
		signers := make([]*pagetoken.Signer, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				signers[i], errs[i] = pagetoken.LoadSigner(ctx, pool)
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: LoadSigner %d: %v", round, i, err)
			}
		}
		tok, err := signers[0].Encode(queryA, position{D: 1})
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range signers {
			var p position
			if err := s.Decode(tok, queryA, &p); err != nil {
				t.Fatalf("round %d: signer %d rejects signer 0's token: %v", round, i, err)
			}
		}
		// A later start (a restart) loads the same key.
		again, err := pagetoken.LoadSigner(ctx, pool)
		if err != nil {
			t.Fatal(err)
		}
		var p position
		if err := again.Decode(tok, queryA, &p); err != nil {
			t.Fatalf("round %d: restarted signer rejects an earlier token: %v", round, err)
		}
	}
}

// The narrow case of the race above, made certain: another replica has
// inserted the key but not yet committed when this one starts loading.
func TestLoadSignerWaitsForAnotherReplicasUncommittedKey(t *testing.T) {
	t.Parallel()
	pool := testenv.NewPool(t)
	ctx := context.Background()
	other := []byte("the other replica's key, 32 byte")
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO server_secrets (name, secret) VALUES ('page_token_key', $1)`, other); err != nil {
		t.Fatal(err)
	}
	type result struct {
		s   *pagetoken.Signer
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := pagetoken.LoadSigner(ctx, pool)
		done <- result{s, err}
	}()
	waitForLockWait(t, pool)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("LoadSigner: %v", r.err)
	}
	tok, err := signer(t, string(other)).Encode(queryA, position{D: 2})
	if err != nil {
		t.Fatal(err)
	}
	var p position
	if err := r.s.Decode(tok, queryA, &p); err != nil {
		t.Fatalf("loaded a different key than the committed one: %v", err)
	}
}

// waitForLockWait returns once some session of the database is blocked
// on a lock (here LoadSigner, on the other replica's uncommitted row):
// committing before then would test the easy case only.
func waitForLockWait(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		var waiting bool
		if err := pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			return
		}
		time.Sleep(5 * time.Millisecond) // poll interval, not an assumption about timing
	}
	t.Fatal("LoadSigner never waited on the uncommitted key")
}

// FuzzDecode: Decode never panics, and it only accepts a token that is
// exactly what Encode produced for the same query.
func FuzzDecode(f *testing.F) {
	s := signer(f, key)
	good, err := s.Encode(queryA, position{D: 12.5, ID: "3f2504e0-4f89-41d3-9a0c-0305e82c3301"})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{good, "", "e30", good[:len(good)-1] + "A", good + "A", "!!", good[:20]} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		var p position
		if err := s.Decode(token, queryA, &p); err != nil {
			if !errors.Is(err, pagetoken.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		// Accepted: it must be the one token Encode gives for p.
		again, err := s.Encode(queryA, p)
		if err != nil {
			t.Fatal(err)
		}
		if again != token {
			t.Fatalf("accepted %q, which Encode never produced (it gives %q for %+v)", token, again, p)
		}
	})
}
