// Package pagetoken makes opaque, signed page tokens bound to the query that
// produced them. A token carries the keyset position of the last result
// (never an offset, so pages stay consistent while data changes) and a hash
// of the query; decoding checks the signature and that hash, so a tampered
// token or one reused with a different query is rejected instead of quietly
// returning the wrong page.
package pagetoken

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"github.com/sparc-network/sparc/internal/apierr"
)

// ErrInvalid is returned for malformed, tampered or mismatched tokens.
var ErrInvalid = errors.New("invalid page token")

// Signer signs and verifies tokens with a key shared by all replicas.
type Signer struct {
	key []byte
}

// NewSigner returns a signer using key (at least 16 bytes).
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < 16 {
		return nil, errors.New("page token key must be at least 16 bytes")
	}
	return &Signer{key: key}, nil
}

// LoadSigner reads the signing key from server_secrets, creating it on first
// use, so every replica and every restart accepts the same tokens.
func LoadSigner(ctx context.Context, pool *pgxpool.Pool) (*Signer, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	var key []byte
	var err error
	// When another replica inserts the key concurrently, our INSERT waits
	// for it and does nothing, and our SELECT's snapshot predates its
	// commit: no row. The next statement's snapshot sees it.
	for attempt := 0; attempt < 3; attempt++ {
		err = pool.QueryRow(ctx, `
			WITH ins AS (
				INSERT INTO server_secrets (name, secret) VALUES ('page_token_key', $1)
				ON CONFLICT (name) DO NOTHING RETURNING secret)
			SELECT secret FROM ins
			UNION ALL
			SELECT secret FROM server_secrets WHERE name = 'page_token_key'
			LIMIT 1`, fresh).Scan(&key)
		if !errors.Is(err, pgx.ErrNoRows) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("loading page token key: %w", err)
	}
	return NewSigner(key)
}

// QueryHash fingerprints a request with its paging fields cleared, so a
// token is only accepted for the query that made it. clear must reset the
// page token and page size on the copy it is given. The message type is
// part of the hash: an empty search and an empty list encode to the same
// (no) bytes, and one's token must not be taken by the other.
func QueryHash[M proto.Message](req M, clear func(M)) []byte {
	c := proto.Clone(req).(M)
	clear(c)
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	h := sha256.New()
	h.Write([]byte(c.ProtoReflect().Descriptor().FullName()))
	h.Write([]byte{0})
	h.Write(b)
	return h.Sum(nil)[:16]
}

const macLen = 16

type envelope struct {
	Q []byte          `json:"q"`
	P json.RawMessage `json:"p"`
}

// Encode returns the token for position (any JSON-encodable keyset value)
// under query hash q.
func (s *Signer) Encode(q []byte, position any) (string, error) {
	p, err := json.Marshal(position)
	if err != nil {
		return "", fmt.Errorf("encoding page position: %w", err)
	}
	body, err := json.Marshal(envelope{Q: q, P: p})
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, s.key)
	m.Write(body)
	return base64.RawURLEncoding.EncodeToString(append(body, m.Sum(nil)[:macLen]...)), nil
}

// Decode verifies token against query hash q and fills position.
func (s *Signer) Decode(token string, q []byte, position any) error {
	if len(token) > 4096 {
		return fmt.Errorf("%w: malformed", ErrInvalid)
	}
	// Only the exact spelling Encode produced is accepted: the decoder
	// alone would also take line breaks and non-zero unused bits.
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) <= macLen || base64.RawURLEncoding.EncodeToString(raw) != token {
		return fmt.Errorf("%w: malformed", ErrInvalid)
	}
	body, mac := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	m := hmac.New(sha256.New, s.key)
	m.Write(body)
	if !hmac.Equal(mac, m.Sum(nil)[:macLen]) {
		return fmt.Errorf("%w: signature mismatch (tampered or from another server)", ErrInvalid)
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("%w: malformed", ErrInvalid)
	}
	if !hmac.Equal(env.Q, q) {
		return fmt.Errorf("%w: the token belongs to a different query; repeat the original query or drop page_token", ErrInvalid)
	}
	if err := json.Unmarshal(env.P, position); err != nil {
		return fmt.Errorf("%w: malformed position", ErrInvalid)
	}
	return nil
}

// Size applies a list call's default and cap to the requested page_size:
// zero means def, anything above max is coerced to max (AIP-158: a client
// asking for too much gets less, not an error), a negative size is a
// violation recorded in v.
func Size(requested int32, def, max int, v *apierr.InvalidArgument) int {
	switch {
	case requested < 0:
		v.Add("page_size", "must not be negative")
		return def
	case requested == 0:
		return def
	case int(requested) > max:
		return max
	}
	return int(requested)
}

// After decodes a list call's page token into the position it carries:
// nil for the first page (no token), and for a bad token a page_token
// violation in v (the position is then the zero value and the call
// answers INVALID_ARGUMENT before using it).
func After[T any](s *Signer, token string, queryHash []byte, v *apierr.InvalidArgument) *T {
	if token == "" {
		return nil
	}
	after := new(T)
	if err := s.Decode(token, queryHash, after); err != nil {
		v.Add("page_token", "%v", err)
	}
	return after
}
