// Package seal encrypts personal details and secrets at rest (AES-256-GCM)
// with a key from configuration, never from the database: people's contact
// details and NHS numbers, and webhooks' signing secrets. Blind indexes
// (keyed HMACs, blind.go) let a sealed value be found by equality.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Sealer encrypts personal details at rest with AES-256-GCM. The key comes
// from configuration (SPARC_DATA_KEY), never from the database, so a copy
// of the database alone does not reveal contact details or NHS numbers.
type Sealer struct {
	aead cipher.AEAD
	// key derives the blind indexes' keys (blind.go); it never seals.
	key []byte
}

// New returns a sealer for a 32-byte key.
func New(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("data key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead, key: append([]byte(nil), key...)}, nil
}

// Seal encrypts plain; the nonce is stored in front of the ciphertext.
// additional binds the ciphertext to its record (the person id), so sealed
// values cannot be swapped between rows.
func (s *Sealer) Seal(plain, additional []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plain, additional), nil
}

// Open decrypts a value made by Seal.
func (s *Sealer) Open(sealed, additional []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed value too short")
	}
	return s.aead.Open(nil, sealed[:n], sealed[n:], additional)
}
