package password_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/password"
)

// testCost is the cheapest bcrypt cost, as the team rules ask for tests.
const testCost = 4

func newHasher(t testing.TB) *password.Hasher {
	t.Helper()
	h, err := password.New(testCost)
	if err != nil {
		t.Fatalf("New(%d): %v", testCost, err)
	}
	return h
}

func TestNew(t *testing.T) {
	for _, cost := range []int{3, 32, 0, -1} {
		if _, err := password.New(cost); err == nil {
			t.Errorf("New(%d) succeeded, want an error", cost)
		}
	}
	h := newHasher(t)
	if got := h.Cost(); got != testCost {
		t.Errorf("Cost() = %d, want %d", got, testCost)
	}
}

func TestHashAndCompare(t *testing.T) {
	h := newHasher(t)
	const pw = "correct horse battery staple"
	hash, err := h.Hash(pw)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}

	t.Run("hash is bcrypt at the configured cost", func(t *testing.T) {
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil || cost != testCost {
			t.Fatalf("bcrypt.Cost = %d, %v; want %d", cost, err, testCost)
		}
		if strings.Contains(hash, pw) {
			t.Fatal("hash contains the password")
		}
	})

	t.Run("two hashes of one password differ (salted)", func(t *testing.T) {
		other, err := h.Hash(pw)
		if err != nil {
			t.Fatal(err)
		}
		if other == hash {
			t.Fatal("same hash twice")
		}
	})

	t.Run("right password matches", func(t *testing.T) {
		if err := h.Compare(hash, pw); err != nil {
			t.Fatalf("Compare: %v", err)
		}
	})

	t.Run("wrong password is invalid_credentials", func(t *testing.T) {
		for _, wrong := range []string{"correct horse battery stapl", "Correct horse battery staple", "", pw + " "} {
			assertInvalidCredentials(t, h.Compare(hash, wrong))
		}
	})

	t.Run("over-long password never matches its 72-byte prefix", func(t *testing.T) {
		prefix := strings.Repeat("a", password.MaxBytes)
		ph, err := h.Hash(prefix)
		if err != nil {
			t.Fatal(err)
		}
		assertInvalidCredentials(t, h.Compare(ph, prefix+"b"))
	})

	t.Run("an account with no password matches nothing and needs no rehash", func(t *testing.T) {
		for _, pw := range []string{"", pw, "anything at all"} {
			assertInvalidCredentials(t, h.Compare(domain.NoPassword, pw))
		}
		if h.NeedsRehash(domain.NoPassword) {
			t.Error("NeedsRehash(NoPassword) = true; there is no password to rehash")
		}
	})

	t.Run("corrupt stored hash is internal", func(t *testing.T) {
		err := h.Compare("not-a-bcrypt-hash", pw)
		if domain.ErrorCode(err) != domain.EINTERNAL {
			t.Fatalf("code = %q (%v), want %q", domain.ErrorCode(err), err, domain.EINTERNAL)
		}
	})

	t.Run("hash at another cost still compares", func(t *testing.T) {
		b, err := bcrypt.GenerateFromPassword([]byte(pw), testCost+1)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Compare(string(b), pw); err != nil {
			t.Errorf("Compare of a hash at another cost: %v", err)
		}
	})
}

func TestHashRefusesOverLongPassword(t *testing.T) {
	h := newHasher(t)
	_, err := h.Hash(strings.Repeat("x", password.MaxBytes+1))
	if domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("code = %q, want %q", domain.ErrorCode(err), domain.EINVALID)
	}
	if _, err := h.Hash(strings.Repeat("x", password.MaxBytes)); err != nil {
		t.Fatalf("72 bytes refused: %v", err)
	}
}

func TestCompareDummyIsARealCompareAtTheSameCost(t *testing.T) {
	// Without timing, what can be checked is what the time depends on: the
	// dummy is a well-formed bcrypt hash at the Hasher's cost, so comparing
	// against it does the same work as comparing against a user's hash.
	for _, cost := range []int{testCost, testCost + 1} {
		h, err := password.New(cost)
		if err != nil {
			t.Fatal(err)
		}
		dummy := h.DummyHash()
		if got, err := bcrypt.Cost(dummy); err != nil || got != cost {
			t.Fatalf("dummy hash cost = %d, %v; want %d", got, err, cost)
		}
		if err := bcrypt.CompareHashAndPassword(dummy, []byte("guess")); !errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			t.Fatalf("compare against the dummy: %v, want a mismatch", err)
		}
		for _, pw := range []string{"", "x", strings.Repeat("é", 100), "some password"} {
			h.CompareDummy(pw) // must accept any input without panicking
		}
	}
}

func TestTooLong(t *testing.T) {
	h := newHasher(t)
	tests := []struct {
		pw   string
		want bool
	}{
		{strings.Repeat("a", 72), false},
		{strings.Repeat("a", 73), true},
		{strings.Repeat("é", 36), false}, // 72 bytes, 36 characters
		{strings.Repeat("é", 37), true},  // 74 bytes, 37 characters
		{"", false},
	}
	for _, tt := range tests {
		if got := password.TooLong(tt.pw); got != tt.want {
			t.Errorf("TooLong(%d bytes) = %v, want %v", len(tt.pw), got, tt.want)
		}
		if got := h.TooLong(tt.pw); got != tt.want {
			t.Errorf("Hasher.TooLong(%d bytes) = %v, want %v", len(tt.pw), got, tt.want)
		}
	}
}

func assertInvalidCredentials(t *testing.T, err error) {
	t.Helper()
	var e *domain.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *domain.Error", err)
	}
	if e.Code != domain.EUNAUTHORIZED || e.Reason != "invalid_credentials" {
		t.Fatalf("got code %q reason %q, want %q %q", e.Code, e.Reason, domain.EUNAUTHORIZED, "invalid_credentials")
	}
	if strings.Contains(strings.ToLower(e.Message), "password is wrong") || strings.Contains(e.Message, "not found") {
		t.Fatalf("message %q reveals which part was wrong", e.Message)
	}
}

// The unknown-user compare follows the slowest stored hash up, never down.
func TestMatchDummyCost(t *testing.T) {
	h, err := password.New(password.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.MatchDummyCost(6); err != nil || h.DummyCost() != 6 {
		t.Fatalf("MatchDummyCost(6): %v, dummy cost %d", err, h.DummyCost())
	}
	if err := h.MatchDummyCost(5); err != nil || h.DummyCost() != 6 {
		t.Fatalf("MatchDummyCost(5) lowered the dummy to %d (%v)", h.DummyCost(), err)
	}
	if c, err := bcrypt.Cost(h.DummyHash()); err != nil || c != 6 {
		t.Fatalf("dummy hash cost %d, %v", c, err)
	}
	if h.Cost() != password.MinCost {
		t.Fatalf("new hashes changed cost to %d", h.Cost())
	}
}
