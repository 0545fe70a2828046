package seal_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/seal"
)

func TestSealOpens(t *testing.T) {
	s, err := seal.New(bytes.Repeat([]byte("k"), seal.MinKeyBytes))
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal("owner-1", []byte("a secret"))
	if bytes.Contains(sealed, []byte("a secret")) {
		t.Fatal("the sealed bytes contain the plain text")
	}
	if again := s.Seal("owner-1", []byte("a secret")); bytes.Equal(again, sealed) {
		t.Fatal("two seals of the same secret are equal: the nonce is not random")
	}
	plain, err := s.Open("owner-1", sealed)
	if err != nil || string(plain) != "a secret" {
		t.Fatalf("Open = %q, %v", plain, err)
	}
}

// TestSealRefuses: another owner, another key, an edited or cut ciphertext
// and a short key-encryption key are refused.
func TestSealRefuses(t *testing.T) {
	s, _ := seal.New(bytes.Repeat([]byte("k"), 32))
	other, _ := seal.New(bytes.Repeat([]byte("o"), 32))
	sealed := s.Seal("owner-1", []byte("a secret"))
	edited := bytes.Clone(sealed)
	edited[len(edited)-1] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"another owner": func() ([]byte, error) { return s.Open("owner-2", sealed) },
		"another key":   func() ([]byte, error) { return other.Open("owner-1", sealed) },
		"edited":        func() ([]byte, error) { return s.Open("owner-1", edited) },
		"cut":           func() ([]byte, error) { return s.Open("owner-1", sealed[:10]) },
	} {
		if _, err := open(); !errors.Is(err, seal.ErrWrongKey) {
			t.Errorf("%s: %v, want ErrWrongKey", name, err)
		}
	}
	if _, err := seal.New(bytes.Repeat([]byte("k"), seal.MinKeyBytes-1)); !errors.Is(err, domain.ErrKEKRequired) {
		t.Errorf("a %d-byte key: %v, want ErrKEKRequired", seal.MinKeyBytes-1, err)
	}
}

// MAC depends on the key-encryption key, the owner and the message, and on
// nothing else.
func TestMAC(t *testing.T) {
	a, err := seal.New(bytes.Repeat([]byte("a"), seal.MinKeyBytes))
	if err != nil {
		t.Fatal(err)
	}
	b, err := seal.New(bytes.Repeat([]byte("b"), seal.MinKeyBytes))
	if err != nil {
		t.Fatal(err)
	}
	base := a.MAC("recovery:1", []byte("abcdefghij"))
	if len(base) != 32 || !bytes.Equal(base, a.MAC("recovery:1", []byte("abcdefghij"))) {
		t.Fatalf("MAC is not a stable 32-byte value: %x", base)
	}
	for name, other := range map[string][]byte{
		"another key":                  b.MAC("recovery:1", []byte("abcdefghij")),
		"another owner":                a.MAC("recovery:2", []byte("abcdefghij")),
		"another message":              a.MAC("recovery:1", []byte("abcdefghik")),
		"owner/message boundary moved": a.MAC("recovery:1a", []byte("bcdefghij")),
	} {
		if bytes.Equal(base, other) {
			t.Errorf("%s gives the same MAC", name)
		}
	}
}
