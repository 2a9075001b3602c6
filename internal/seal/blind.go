package seal

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
)

// A BlindIndex turns a personal value into a keyed, deterministic token
// that can be stored in an indexed column and compared for equality,
// while the value itself stays sealed (Seal uses a random nonce, so two
// seals of one value differ and cannot be searched). It is HMAC-SHA256
// under a key derived from the data key for one purpose only, so a copy
// of the database alone cannot test guesses (an NHS number has about 10⁹
// possible values: an unkeyed hash would be reversed in seconds), and
// tokens of one purpose say nothing about another's.
type BlindIndex struct {
	key []byte
}

// BlindIndex returns the blind index for purpose ("nhs_number"). Its key
// is HKDF-SHA256 of the data key with the purpose as the info string:
// never the data key itself, and another key for every purpose.
func (s *Sealer) BlindIndex(purpose string) (*BlindIndex, error) {
	if purpose == "" {
		return nil, errors.New("a blind index needs a purpose")
	}
	key, err := hkdf.Key(sha256.New, s.key, nil, "sparc blind index v1: "+purpose, 32)
	if err != nil {
		return nil, err
	}
	return &BlindIndex{key: key}, nil
}

// Of returns the index of value (32 bytes). Callers normalise value
// first: the index matches byte-equal values only.
func (b *BlindIndex) Of(value []byte) []byte {
	m := hmac.New(sha256.New, b.key)
	m.Write(value)
	return m.Sum(nil)
}
