package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

func TestWebAuthnChallenges(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := withClock(db)
		alice := newUser(t, db, "alice", "alice@example.com")
		put := func(t *testing.T, hash, purpose string, userID int64) {
			t.Helper()
			now := db.Now()
			c := &domain.WebAuthnChallenge{ChallengeHash: hash, Purpose: purpose, UserID: userID, SessionData: `{"c":"` + hash + `"}`,
				CreatedAt: now, ExpiresAt: now.Add(domain.PasskeyChallengeTTL)}
			if err := db.PutWebAuthnChallenge(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		t.Run("taken once, with its user and session data", func(t *testing.T) {
			put(t, "h-reg", domain.PasskeyRegister, alice.ID)
			c, err := db.TakeWebAuthnChallenge(ctx, "h-reg", domain.PasskeyRegister)
			if err != nil || c.UserID != alice.ID || c.SessionData != `{"c":"h-reg"}` {
				t.Fatalf("take = %+v, %v", c, err)
			}
			if _, err := db.TakeWebAuthnChallenge(ctx, "h-reg", domain.PasskeyRegister); !errors.Is(err, domain.ErrPasskeyChallenge) {
				t.Fatalf("second take: %v", err)
			}
		})
		t.Run("a discoverable login has no user", func(t *testing.T) {
			put(t, "h-disc", domain.PasskeyLogin, 0)
			if c, err := db.TakeWebAuthnChallenge(ctx, "h-disc", domain.PasskeyLogin); err != nil || c.UserID != 0 {
				t.Fatalf("take = %+v, %v", c, err)
			}
		})
		t.Run("another purpose does not take it", func(t *testing.T) {
			put(t, "h-purpose", domain.PasskeyLogin, alice.ID)
			if _, err := db.TakeWebAuthnChallenge(ctx, "h-purpose", domain.PasskeyRegister); !errors.Is(err, domain.ErrPasskeyChallenge) {
				t.Fatalf("take with another purpose: %v", err)
			}
			if _, err := db.TakeWebAuthnChallenge(ctx, "h-purpose", domain.PasskeyLogin); err != nil {
				t.Fatalf("the refused take consumed it: %v", err)
			}
		})
		t.Run("expired after five minutes", func(t *testing.T) {
			put(t, "h-old", domain.PasskeyLogin, alice.ID)
			put(t, "h-young", domain.PasskeyLogin, alice.ID)
			clock.Advance(domain.PasskeyChallengeTTL - time.Second)
			if _, err := db.TakeWebAuthnChallenge(ctx, "h-young", domain.PasskeyLogin); err != nil {
				t.Fatalf("before expiry: %v", err)
			}
			clock.Advance(time.Second)
			if _, err := db.TakeWebAuthnChallenge(ctx, "h-old", domain.PasskeyLogin); !errors.Is(err, domain.ErrPasskeyChallenge) {
				t.Fatalf("at expiry: %v", err)
			}
		})
		t.Run("the purge deletes expired challenges only", func(t *testing.T) {
			put(t, "h-stale", domain.PasskeyLogin, alice.ID)
			clock.Advance(domain.PasskeyChallengeTTL)
			put(t, "h-fresh", domain.PasskeyLogin, alice.ID)
			st, err := db.Purge(ctx, time.Hour)
			// h-stale and h-old (left expired by the subtest before).
			if err != nil || st.PasskeyChallenges != 2 {
				t.Fatalf("purge = %+v, %v", st, err)
			}
			if _, err := db.TakeWebAuthnChallenge(ctx, "h-fresh", domain.PasskeyLogin); err != nil {
				t.Fatalf("the fresh challenge was purged: %v", err)
			}
		})
		t.Run("20 concurrent takes: exactly one wins", func(t *testing.T) {
			put(t, "h-race", domain.PasskeyLogin, alice.ID)
			var wg sync.WaitGroup
			var mu sync.Mutex
			won, lost := 0, 0
			for range 20 {
				wg.Go(func() {
					_, err := db.TakeWebAuthnChallenge(ctx, "h-race", domain.PasskeyLogin)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						won++
					case errors.Is(err, domain.ErrPasskeyChallenge):
						lost++
					default:
						t.Errorf("take: %v", err)
					}
				})
			}
			wg.Wait()
			if won != 1 || lost != 19 {
				t.Fatalf("won %d, lost %d; want 1 and 19", won, lost)
			}
		})
	})
}

func TestPasskeyStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		alice := newUser(t, db, "alice", "alice@example.com")
		bob := newUser(t, db, "bob", "bob@example.com")
		p := &domain.Passkey{UserID: alice.ID, CredentialID: []byte{1, 2, 3}, PublicKey: []byte{9, 9}, SignCount: 5,
			Transports: []string{"usb", "nfc"}, AAGUID: make([]byte, 16), BackupEligible: true, BackupState: true, UserVerified: true, Name: "YubiKey"}
		if err := db.AddPasskey(ctx, p); err != nil || p.ID == 0 {
			t.Fatalf("add: %v (id %d)", err, p.ID)
		}
		t.Run("the same credential id twice is refused, even for another user", func(t *testing.T) {
			dup := &domain.Passkey{UserID: bob.ID, CredentialID: []byte{1, 2, 3}, PublicKey: []byte{1}, Name: "copy"}
			if err := db.AddPasskey(ctx, dup); !errors.Is(err, domain.ErrPasskeyExists) {
				t.Fatalf("duplicate: %v", err)
			}
		})
		t.Run("listed and found with every field", func(t *testing.T) {
			list, err := db.Passkeys(ctx, alice.ID)
			if err != nil || len(list) != 1 {
				t.Fatalf("list = %+v, %v", list, err)
			}
			got := list[0]
			if got.ID != p.ID || got.SignCount != 5 || len(got.Transports) != 2 || got.Transports[1] != "nfc" || !got.BackupEligible ||
				!got.BackupState || !got.UserVerified || got.Name != "YubiKey" || len(got.AAGUID) != 16 || !got.CreatedAt.Equal(p.CreatedAt) {
				t.Fatalf("got %+v, want %+v", got, p)
			}
			if other, err := db.Passkeys(ctx, bob.ID); err != nil || len(other) != 0 {
				t.Fatalf("bob's = %+v, %v", other, err)
			}
			if byID, err := db.PasskeyByCredentialID(ctx, []byte{1, 2, 3}); err != nil || byID.UserID != alice.ID || string(byID.PublicKey) != "\x09\x09" {
				t.Fatalf("by credential id = %+v, %v", byID, err)
			}
			if _, err := db.PasskeyByCredentialID(ctx, []byte{7}); !errors.Is(err, domain.ErrPasskeyNotFound) {
				t.Fatalf("unknown credential id: %v", err)
			}
		})
		t.Run("the sign count only moves forward", func(t *testing.T) {
			if err := db.UsePasskey(ctx, p.ID, 6, false); err != nil {
				t.Fatal(err)
			}
			for _, n := range []uint32{6, 2, 0} {
				if err := db.UsePasskey(ctx, p.ID, n, false); !errors.Is(err, domain.ErrPasskeySignCount) {
					t.Fatalf("count %d after 6: %v", n, err)
				}
			}
			got, _ := db.PasskeyByCredentialID(ctx, p.CredentialID)
			if got.SignCount != 6 || got.BackupState || got.LastUsedAt == nil {
				t.Fatalf("after use: %+v", got)
			}
			if err := db.UsePasskey(ctx, 999999, 1, false); !errors.Is(err, domain.ErrPasskeyNotFound) {
				t.Fatalf("unknown id: %v", err)
			}
		})
		t.Run("an authenticator without a counter stays at 0", func(t *testing.T) {
			z := &domain.Passkey{UserID: bob.ID, CredentialID: []byte{4}, PublicKey: []byte{1}, Name: "synced"}
			if err := db.AddPasskey(ctx, z); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := db.UsePasskey(ctx, z.ID, 0, true); err != nil {
					t.Fatalf("zero count: %v", err)
				}
			}
		})
		t.Run("rename and delete only the owner's", func(t *testing.T) {
			if err := db.RenamePasskey(ctx, bob.ID, p.ID, "stolen"); !errors.Is(err, domain.ErrPasskeyNotFound) {
				t.Fatalf("rename by another user: %v", err)
			}
			if err := db.DeletePasskey(ctx, bob.ID, p.ID, false); !errors.Is(err, domain.ErrPasskeyNotFound) {
				t.Fatalf("delete by another user: %v", err)
			}
			if err := db.RenamePasskey(ctx, alice.ID, p.ID, "Work key"); err != nil {
				t.Fatal(err)
			}
			if got, _ := db.Passkeys(ctx, alice.ID); len(got) != 1 || got[0].Name != "Work key" {
				t.Fatalf("after rename: %+v", got)
			}
			if err := db.DeletePasskey(ctx, alice.ID, p.ID, false); err != nil {
				t.Fatal(err)
			}
			if got, _ := db.Passkeys(ctx, alice.ID); len(got) != 0 {
				t.Fatalf("after delete: %+v", got)
			}
		})
	})
}

// passwordless creates an account with no password (domain.NoPassword).
func passwordless(t *testing.T, db *store.DB, username string) *domain.User {
	t.Helper()
	u := &domain.User{Username: username, Email: username + "@example.com", PasswordHash: domain.NoPassword}
	if err := db.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestDeleteLastSignInMethod: a passkey-only account keeps its last
// passkey (last_sign_in_method) unless the delete allows it; an account
// with a password may delete every passkey.
func TestDeleteLastSignInMethod(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var cred byte
		add := func(t *testing.T, u *domain.User) *domain.Passkey {
			t.Helper()
			cred++
			k := &domain.Passkey{UserID: u.ID, CredentialID: []byte{cred}, PublicKey: []byte{1}, Name: "key"}
			if err := db.AddPasskey(ctx, k); err != nil {
				t.Fatal(err)
			}
			return k
		}
		t.Run("a passkey-only account", func(t *testing.T) {
			u := passwordless(t, db, "nopass")
			a, b := add(t, u), add(t, u)
			if err := db.DeletePasskey(ctx, u.ID, a.ID, false); err != nil {
				t.Fatalf("delete with another passkey left: %v", err)
			}
			if err := db.DeletePasskey(ctx, u.ID, b.ID, false); !errors.Is(err, domain.ErrLastSignInMethod) {
				t.Fatalf("delete of the last one: %v", err)
			}
			if got, _ := db.Passkeys(ctx, u.ID); len(got) != 1 {
				t.Fatalf("after the refusal: %d passkeys", len(got))
			}
			if err := db.DeletePasskey(ctx, u.ID, a.ID, false); !errors.Is(err, domain.ErrPasskeyNotFound) {
				t.Fatalf("a deleted one again: %v", err)
			}
			if err := db.DeletePasskey(ctx, u.ID, b.ID, true); err != nil {
				t.Fatalf("allowed (the admin's --force): %v", err)
			}
		})
		t.Run("a passkey-only account with a linked identity", func(t *testing.T) {
			u := passwordless(t, db, "linked")
			k := add(t, u)
			i := &domain.Identity{UserID: u.ID, Provider: "github", Subject: "42", Email: "linked@example.com"}
			if err := db.LinkIdentity(ctx, i); err != nil {
				t.Fatal(err)
			}
			if err := db.DeletePasskey(ctx, u.ID, k.ID, false); err != nil {
				t.Fatalf("delete with an identity left: %v", err)
			}
			if _, err := db.UnlinkIdentity(ctx, u.ID, i.ID); !errors.Is(err, domain.ErrLastSignInMethod) {
				t.Fatalf("unlink of the last way (the same rule): %v", err)
			}
		})
		t.Run("an account with a password", func(t *testing.T) {
			u := newUser(t, db, "withpass", "withpass@example.com")
			k := add(t, u)
			if err := db.DeletePasskey(ctx, u.ID, k.ID, false); err != nil {
				t.Fatalf("delete: %v", err)
			}
		})
		t.Run("an unknown user", func(t *testing.T) {
			if err := db.DeletePasskey(ctx, 999999, 1, false); !errors.Is(err, domain.ErrPasskeyNotFound) {
				t.Fatalf("delete: %v", err)
			}
		})
	})
}

// TestDeleteLastSignInMethodRace: concurrent deletes of a passkey-only
// account's last passkeys (two, then ten) leave exactly one: the rule is
// decided inside the deleting transaction, under the user's row lock.
func TestDeleteLastSignInMethodRace(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var cred byte
		for round, n := range []int{2, 10} {
			u := passwordless(t, db, "racer"+string(rune('a'+round)))
			var keys []*domain.Passkey
			for range n {
				cred++
				k := &domain.Passkey{UserID: u.ID, CredentialID: []byte{cred}, PublicKey: []byte{1}, Name: "key"}
				if err := db.AddPasskey(ctx, k); err != nil {
					t.Fatal(err)
				}
				keys = append(keys, k)
			}
			var (
				mu            sync.Mutex
				deleted, kept int
				wg            sync.WaitGroup
				start         = make(chan struct{})
			)
			for _, k := range keys {
				wg.Go(func() {
					<-start
					err := db.DeletePasskey(ctx, u.ID, k.ID, false)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						deleted++
					case errors.Is(err, domain.ErrLastSignInMethod):
						kept++
					default:
						t.Errorf("delete: %v", err)
					}
				})
			}
			close(start)
			wg.Wait()
			left, err := db.Passkeys(ctx, u.ID)
			if err != nil || len(left) != 1 || deleted != n-1 || kept != 1 {
				t.Fatalf("%d concurrent deletes: %d deleted, %d refused, %d left (%v); want %d, 1, 1", n, deleted, kept, len(left), err, n-1)
			}
		}
	})
}

// TestRegisterPasskeyUser: a reserved id is never given to another
// account; the account and its passkey are created together, and a taken
// username creates neither.
func TestRegisterPasskeyUser(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		first, err := db.ReserveUserID(ctx) // before any user: SQLite has no counter row yet
		if err != nil {
			t.Fatal(err)
		}
		alice := newUser(t, db, "alice", "alice@example.com")
		second, err := db.ReserveUserID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		bob := newUser(t, db, "bob", "bob@example.com")
		if ids := []int64{first, alice.ID, second, bob.ID}; !(first < alice.ID && alice.ID < second && second < bob.ID) {
			t.Fatalf("ids %v are not distinct and increasing", ids)
		}
		u := &domain.User{ID: second, Username: "keyonly", Email: "keyonly@example.com", PasswordHash: domain.NoPassword}
		k := &domain.Passkey{CredentialID: []byte("k1"), PublicKey: []byte{1}, Name: "phone"}
		if err := db.RegisterPasskeyUser(ctx, u, k, nil); err != nil {
			t.Fatal(err)
		}
		got, err := db.UserByID(ctx, second)
		if err != nil || got.Username != "keyonly" || got.HasPassword() || k.UserID != second || k.ID == 0 {
			t.Fatalf("created %+v, %v; passkey %+v", got, err, k)
		}
		dup := &domain.User{ID: first, Username: "KeyOnly", Email: "other@example.com", PasswordHash: domain.NoPassword}
		if err := db.RegisterPasskeyUser(ctx, dup, &domain.Passkey{CredentialID: []byte("k2"), PublicKey: []byte{1}, Name: "x"}, nil); !errors.Is(err, domain.ErrUsernameTaken) {
			t.Fatalf("a taken username: %v", err)
		}
		if _, err := db.PasskeyByCredentialID(ctx, []byte("k2")); !errors.Is(err, domain.ErrPasskeyNotFound) {
			t.Fatalf("the refused sign-up's passkey: %v", err)
		}
		// A credential registered already: the account is not made either.
		again := &domain.User{ID: first, Username: "fresh", Email: "fresh@example.com", PasswordHash: domain.NoPassword}
		if err := db.RegisterPasskeyUser(ctx, again, &domain.Passkey{CredentialID: []byte("k1"), PublicKey: []byte{1}, Name: "x"}, nil); !errors.Is(err, domain.ErrPasskeyExists) {
			t.Fatalf("a registered credential: %v", err)
		}
		if _, err := db.UserByUsername(ctx, "fresh"); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("the account of a refused passkey was made: %v", err)
		}
	})
}
