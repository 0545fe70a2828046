package domain

import (
	"fmt"
	"strings"
	"testing"
)

// TestMessagesStateTheLimits keeps every client message that names a limit
// in step with the constant that decides it.
func TestMessagesStateTheLimits(t *testing.T) {
	for _, c := range []struct {
		msg, number string
	}{
		{MsgUsernameTooShort, fmt.Sprint(MinUsernameLen)},
		{MsgUsernameTooLong, fmt.Sprint(MaxUsernameLen)},
		{MsgEmailTooLong, fmt.Sprint(MaxEmailLen)},
		{MsgPasswordTooShort, fmt.Sprint(MinPasswordBytes)},
		{MsgPasswordTooLong, fmt.Sprint(MaxPasswordBytes)},
		{MsgPageLimit, fmt.Sprint(MaxPageLimit)},
		{MsgAmountTooLarge, MaxAmount.String() + "0"},
		{MsgReferenceTooLong, fmt.Sprint(MaxReferenceLen)},
		{MsgDescriptionTooLong, fmt.Sprint(MaxDescriptionLen)},
		{MsgExpiresInRange, fmt.Sprint(int64(MaxHoldTTL.Seconds()))},
		{MsgImportBadUsername, fmt.Sprintf("%d-%d", MinUsernameLen, MaxUsernameLen)},
	} {
		if !strings.Contains(c.msg, c.number) {
			t.Errorf("message %q does not state its limit %s", c.msg, c.number)
		}
	}
}
