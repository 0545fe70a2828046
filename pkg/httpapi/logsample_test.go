package httpapi

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestLogSamplerHoldsBackIdenticalLines(t *testing.T) {
	var counted atomic.Int64
	s := newLogSampler(10*time.Second, func() { counted.Add(1) })
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }

	written := 0
	for range 1000 {
		if ok, _ := s.allow("unavailable|database unavailable"); ok {
			written++
		}
	}
	if written != 1 || counted.Load() != 999 {
		t.Fatalf("1000 identical lines in one window: %d written, %d counted; want 1 and 999", written, counted.Load())
	}
	if ok, _ := s.allow("internal|something else"); !ok {
		t.Fatal("a different line was held back")
	}
	now = now.Add(10 * time.Second)
	ok, held := s.allow("unavailable|database unavailable")
	if !ok || held != 999 {
		t.Fatalf("after the window: write=%v held=%d, want true and 999", ok, held)
	}
}

func TestLogSamplerMemoryIsBounded(t *testing.T) {
	s := newLogSampler(time.Minute, nil)
	for i := range 5 * maxSampleKeys {
		s.allow(string(rune('a'+i%26)) + time.Duration(i).String())
	}
	if n := len(s.keys); n > maxSampleKeys {
		t.Fatalf("%d keys kept, want at most %d", n, maxSampleKeys)
	}
}
