package apikey

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestNewHasTheFormatAndPassesCheck(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		k, err := New()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(k, "ask_") || len(k) != Len || Len != 53 {
			t.Fatalf("key %q: want ask_ + 49 characters", k)
		}
		if err := Check(k); err != nil {
			t.Fatalf("Check(%q) = %v", k, err)
		}
		if seen[k] {
			t.Fatalf("duplicate key %q", k)
		}
		seen[k] = true
	}
}

func TestFromBytesEdgeValuesRoundTrip(t *testing.T) {
	for _, b := range [][]byte{make([]byte, 32), bytes.Repeat([]byte{0xff}, 32)} {
		k := FromBytes(b)
		if len(k) != Len {
			t.Fatalf("len(%q) = %d, want %d", k, len(k), Len)
		}
		if err := Check(k); err != nil {
			t.Fatalf("Check(%q) = %v", k, err)
		}
	}
	if FromBytes(make([]byte, 32))[:len(Prefix)+bodyLen] != Prefix+strings.Repeat("0", bodyLen) {
		t.Fatal("zero secret is not padded with '0'")
	}
}

// Every one-character change of a key, anywhere after the prefix, fails
// Check; Check does no I/O, so this is the offline rejection.
func TestOneCharacterChangeFailsChecksum(t *testing.T) {
	k, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for i := len(Prefix); i < len(k); i++ {
		for _, c := range []byte(alphabet) {
			if c == k[i] {
				continue
			}
			changed := k[:i] + string(c) + k[i+1:]
			if err := Check(changed); !errors.Is(err, ErrChecksum) {
				t.Fatalf("Check with position %d changed to %q = %v, want ErrChecksum", i, c, err)
			}
		}
	}
}

func TestCheckRejectsMalformed(t *testing.T) {
	k := FromBytes(bytes.Repeat([]byte{7}, 32))
	for _, c := range []struct {
		key  string
		want error
	}{
		{"", ErrPrefix},
		{"sk_" + k[4:], ErrPrefix},
		{"ASK_" + k[4:], ErrPrefix},
		{k[:len(k)-1], ErrLength},
		{k + "0", ErrLength},
		{k[:10] + "-" + k[11:], ErrCharset},
		{k[:10] + "é"[:1] + k[11:], ErrCharset},
	} {
		if err := Check(c.key); !errors.Is(err, c.want) {
			t.Errorf("Check(%q) = %v, want %v", c.key, err, c.want)
		}
	}
}

func TestHashAndShown(t *testing.T) {
	k := FromBytes(bytes.Repeat([]byte{1}, 32))
	if h := Hash(k); len(h) != 64 || h == Hash(k[:len(k)-1]+"x") {
		t.Fatalf("Hash(%q) = %q", k, h)
	}
	if Shown(k) != k[:8] || !strings.HasPrefix(Shown(k), "ask_") {
		t.Fatalf("Shown(%q) = %q", k, Shown(k))
	}
}

func BenchmarkCheck(b *testing.B) {
	k, _ := New()
	for b.Loop() {
		if Check(k) != nil {
			b.Fatal("bad")
		}
	}
}
