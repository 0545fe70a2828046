// Package apikey is the format of authsvc's API keys: "ask_", then 32
// random bytes in base62 (43 characters), then a 6-character base62 CRC32
// checksum of those 43 characters. The checksum lets a secret scanner, the
// admin CLI and the server itself reject a mistyped or made-up key offline,
// before any database query. Keys are stored only as their SHA-256 (a
// 256-bit random secret needs no slow hash).
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"math/big"
	"strings"
)

// Prefix starts every key, so that it is recognisable in logs and code.
const Prefix = "ask_"

const (
	bodyLen     = 43 // base62 digits of 32 bytes: 62^43 > 2^256
	checksumLen = 6  // base62 digits of a CRC32: 62^6 > 2^32
	randomBytes = 32
	// Len is the length of every key.
	Len = len(Prefix) + bodyLen + checksumLen
	// ShownLen is how many leading characters of a key are kept and listed
	// so that its owner can tell keys apart.
	ShownLen = 8
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Errors of Check, from the cheapest test to the last.
var (
	ErrPrefix   = errors.New("not an API key: it does not start with " + Prefix)
	ErrLength   = errors.New("not an API key: wrong length")
	ErrCharset  = errors.New("not an API key: a character outside base62")
	ErrChecksum = errors.New("not an API key: the checksum does not match (mistyped or altered)")
)

// New returns a fresh key from crypto/rand.
func New() (string, error) {
	b := make([]byte, randomBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return FromBytes(b), nil
}

// FromBytes builds the key whose secret is b (32 bytes); New uses it, tests
// use it for fixed keys.
func FromBytes(b []byte) string {
	body := base62(new(big.Int).SetBytes(b), bodyLen)
	return Prefix + body + checksum(body)
}

// Check validates a key's format and checksum without any I/O.
func Check(key string) error {
	if !strings.HasPrefix(key, Prefix) {
		return ErrPrefix
	}
	if len(key) != Len {
		return ErrLength
	}
	rest := key[len(Prefix):]
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(alphabet, rest[i]) < 0 {
			return ErrCharset
		}
	}
	body, sum := rest[:bodyLen], rest[bodyLen:]
	if checksum(body) != sum {
		return ErrChecksum
	}
	return nil
}

// Looks reports whether s is shaped like a key (the prefix), which is how a
// bearer token is told apart from a JWT before it is checked.
func Looks(s string) bool { return strings.HasPrefix(s, Prefix) }

// Hash is the stored form of a key: the hex SHA-256 of the whole key.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Shown is the part of a key kept in clear for listings.
func Shown(key string) string {
	if len(key) < ShownLen {
		return key
	}
	return key[:ShownLen]
}

func checksum(body string) string {
	return base62(new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE([]byte(body)))), checksumLen)
}

// base62 writes n in exactly width digits, left-padded with '0'.
func base62(n *big.Int, width int) string {
	out := make([]byte, width)
	base := big.NewInt(62)
	rem := new(big.Int)
	n = new(big.Int).Set(n)
	for i := width - 1; i >= 0; i-- {
		n.DivMod(n, base, rem)
		out[i] = alphabet[rem.Int64()]
	}
	return string(out)
}
