package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"strings"
)

// An API key reads "sparc_<id>_<secret>": the "sparc_<id>" prefix is
// public (listed, logged, audited); the 64 hex digit secret carries 256 bits
// of entropy and only its SHA-256 is stored. High entropy is why a fast
// hash is enough here, unlike for passwords.
const keyScheme = "sparc_"

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewKey returns a fresh key, its public prefix and the hash to store.
func NewKey() (key, prefix string, hash []byte, err error) {
	id := make([]byte, 5)
	secret := make([]byte, 32)
	if _, err = rand.Read(id); err != nil {
		return "", "", nil, err
	}
	if _, err = rand.Read(secret); err != nil {
		return "", "", nil, err
	}
	prefix = keyScheme + lowerBase32.EncodeToString(id)
	s := hex.EncodeToString(secret)
	sum := sha256.Sum256([]byte(s))
	return prefix + "_" + s, prefix, sum[:], nil
}

var errMalformedKey = errors.New("malformed API key")

// ParseKey splits a presented key into its prefix and the secret's hash.
func ParseKey(key string) (prefix string, hash []byte, err error) {
	if !strings.HasPrefix(key, keyScheme) || len(key) != len(keyScheme)+8+1+64 || key[len(keyScheme)+8] != '_' {
		return "", nil, errMalformedKey
	}
	prefix, secret := key[:len(keyScheme)+8], key[len(keyScheme)+9:]
	if _, err := lowerBase32.DecodeString(prefix[len(keyScheme):]); err != nil {
		return "", nil, errMalformedKey
	}
	if _, err := hex.DecodeString(secret); err != nil || strings.ToLower(secret) != secret {
		return "", nil, errMalformedKey
	}
	sum := sha256.Sum256([]byte(secret))
	return prefix, sum[:], nil
}
