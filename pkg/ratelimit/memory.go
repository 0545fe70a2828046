package ratelimit

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Defaults of MemoryOptions.
const (
	// DefaultMaxEntries caps the keys held in memory (about 150 bytes each).
	DefaultMaxEntries = 50_000
	// DefaultSweepInterval is how often idle keys are swept out.
	DefaultSweepInterval = time.Minute
)

// MemoryOptions tune a Memory limiter. Zero values take the defaults.
type MemoryOptions struct {
	// MaxEntries is the hard cap on keys; at the cap the least recently
	// used key is forgotten (that client starts afresh).
	MaxEntries int
	// SweepInterval is how often keys that are back to their fresh state
	// are removed.
	SweepInterval time.Duration
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
}

// Memory is an in-process GCRA limiter with bounded memory: a key whose
// state has returned to fresh is idle and is swept out, and at most
// MaxEntries keys are kept, least recently used first out. It is safe for
// concurrent use.
type Memory struct {
	mu        sync.Mutex
	entries   map[string]*list.Element
	lru       *list.List // of *memEntry, most recently used at the front
	max       int
	every     time.Duration
	now       func() time.Time
	lastSweep time.Time
}

type memEntry struct {
	key string
	tat time.Time // theoretical arrival time; <= now means idle
}

// NewMemory returns an empty in-memory limiter.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Memory{
		entries: make(map[string]*list.Element),
		lru:     list.New(),
		max:     opts.MaxEntries,
		every:   opts.SweepInterval,
		now:     opts.Clock,
	}
}

// Allow counts one request for key. It never fails for a valid limit.
func (m *Memory) Allow(_ context.Context, key string, limit Limit) (Result, error) {
	if !limit.valid() {
		return Result{}, ErrInvalidLimit
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	var tat time.Time
	el, ok := m.entries[key]
	if ok {
		tat = el.Value.(*memEntry).tat
	}
	res, newTAT := gcra(now, tat, limit)
	switch {
	case ok:
		el.Value.(*memEntry).tat = newTAT
		m.lru.MoveToFront(el)
	case res.Allowed: // a refused request leaves a fresh key unchanged; none is stored
		for m.lru.Len() >= m.max {
			m.remove(m.lru.Back())
		}
		m.entries[key] = m.lru.PushFront(&memEntry{key: key, tat: newTAT})
	}
	return res, nil
}

// Len is the number of keys held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}

// maybeSweep removes idle keys at most once per sweep interval.
func (m *Memory) maybeSweep(now time.Time) {
	if now.Sub(m.lastSweep) < m.every {
		return
	}
	m.lastSweep = now
	for el := m.lru.Back(); el != nil; {
		prev := el.Prev()
		if !el.Value.(*memEntry).tat.After(now) {
			m.remove(el)
		}
		el = prev
	}
}

func (m *Memory) remove(el *list.Element) {
	delete(m.entries, el.Value.(*memEntry).key)
	m.lru.Remove(el)
}
