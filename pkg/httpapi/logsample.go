package httpapi

import (
	"sync"
	"time"
)

// DefaultLogSampleWindow is how long identical error lines are held back
// after one was written.
const DefaultLogSampleWindow = 10 * time.Second

// maxSampleKeys bounds the sampler's memory: beyond it, stale keys are
// dropped.
const maxSampleKeys = 1024

// logSampler lets one line per key through per window and counts the rest,
// so that an outage (every request failing the same way) writes a few
// lines, not thousands. The count held back is reported on the next line
// let through and to onSuppressed (a metric). Safe for concurrent use.
type logSampler struct {
	window       time.Duration
	now          func() time.Time
	onSuppressed func()

	mu   sync.Mutex
	keys map[string]*sampleState
}

type sampleState struct {
	last       time.Time // when a line was last written
	suppressed int       // identical lines held back since then
}

func newLogSampler(window time.Duration, onSuppressed func()) *logSampler {
	if window <= 0 {
		window = DefaultLogSampleWindow
	}
	if onSuppressed == nil {
		onSuppressed = func() {}
	}
	return &logSampler{window: window, now: time.Now, onSuppressed: onSuppressed, keys: map[string]*sampleState{}}
}

// allow reports whether the line for key is written now and, if so, how
// many identical lines were held back before it.
func (s *logSampler) allow(key string) (write bool, suppressed int) {
	now := s.now()
	s.mu.Lock()
	st, ok := s.keys[key]
	if ok && now.Sub(st.last) < s.window {
		st.suppressed++
		s.mu.Unlock()
		s.onSuppressed()
		return false, 0
	}
	if !ok {
		if len(s.keys) >= maxSampleKeys {
			s.evict(now)
		}
		st = &sampleState{}
		s.keys[key] = st
	}
	suppressed, st.suppressed, st.last = st.suppressed, 0, now
	s.mu.Unlock()
	return true, suppressed
}

// evict drops keys whose window is over (their held-back count stays in the
// metric), or every key when none is stale. Call with mu held.
func (s *logSampler) evict(now time.Time) {
	for k, st := range s.keys {
		if now.Sub(st.last) >= s.window {
			delete(s.keys, k)
		}
	}
	if len(s.keys) >= maxSampleKeys {
		clear(s.keys)
	}
}
