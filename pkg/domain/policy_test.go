package domain

import (
	"errors"
	"testing"
	"time"
)

func TestSelfOrAdmin(t *testing.T) {
	alice := &User{ID: 1, Username: "Alice"}
	root := &User{ID: 2, Username: "root", IsAdmin: true}
	for _, tc := range []struct {
		name   string
		actor  *User
		target string
		id     int64
		want   Access
	}{
		{"own name, any case", alice, "aLICE", 1, AccessSelf},
		{"empty names the caller", alice, "", 0, AccessSelf},
		{"another user, not admin", alice, "bob", 3, AccessDenied},
		{"another user, admin", root, "bob", 3, AccessAdmin},
		{"admin on self", root, "ROOT", 2, AccessSelf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SelfOrAdmin(tc.actor, tc.target); got != tc.want {
				t.Errorf("SelfOrAdmin = %v, want %v", got, tc.want)
			}
			if got := SelfOrAdminID(tc.actor, tc.id); got != tc.want {
				t.Errorf("SelfOrAdminID = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSentinelsMatchWhateverTheCause(t *testing.T) {
	cause := errors.New("driver said no")
	err := ErrEmailTaken.With(cause)
	if !errors.Is(err, ErrEmailTaken) || errors.Is(err, ErrUsernameTaken) {
		t.Fatalf("errors.Is on %v: sentinel not told apart", err)
	}
	if !errors.Is(err, cause) || ErrEmailTaken.Err != nil {
		t.Fatal("With must wrap the cause and leave the sentinel unchanged")
	}
	if ErrorCode(err) != ECONFLICT || ErrorReason(err) != ReasonEmailTaken || ErrorMessage(err) != MsgEmailTaken {
		t.Fatalf("code/reason/message = %s/%s/%s", ErrorCode(err), ErrorReason(err), ErrorMessage(err))
	}
	limited := ErrRateLimited.WithRetryAfter(3 * time.Second)
	if limited.RetryAfter != 3*time.Second || ErrRateLimited.RetryAfter != 0 || !errors.Is(limited, ErrRateLimited) {
		t.Fatal("WithRetryAfter must copy")
	}
	if ErrorMessage(errors.New("boom")) != MsgInternal {
		t.Fatal("a non-domain error must read as the generic internal message")
	}
}
