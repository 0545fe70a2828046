package mail_test

import (
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/mail"
)

func TestRetryPolicyDelayDoublesToTheCapWithHalfJitter(t *testing.T) {
	p := mail.RetryPolicy{MaxAttempts: 8, Base: 15 * time.Second, Max: 15 * time.Minute}
	for attempt, full := range map[int]time.Duration{
		1: 15 * time.Second, 2: 30 * time.Second, 3: time.Minute, 4: 2 * time.Minute,
		7: 15 * time.Minute, 8: 15 * time.Minute, 50: 15 * time.Minute,
	} {
		for range 20 {
			if got := p.Delay(attempt); got < full/2 || got > full {
				t.Fatalf("Delay(%d) = %s, want within [%s, %s]", attempt, got, full/2, full)
			}
		}
	}
	if got := (mail.RetryPolicy{}).Delay(3); got != 0 {
		t.Fatalf("zero policy Delay = %s, want 0", got)
	}
}
