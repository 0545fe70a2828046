// Package logship ships log lines to Logstash as JSON lines over TCP (a
// Logstash tcp input with codec json_lines). A Shipper is an io.Writer to
// put in a zerolog.MultiLevelWriter beside the console or JSON output:
// zerolog hands every writer the event's JSON, so the shipped lines are
// JSON even when the console output is pretty.
//
// Shipping never blocks or slows the caller: Write copies the line into a
// bounded buffer and returns; when the buffer is full the line is dropped
// and counted. One goroutine drains the buffer into the connection,
// reconnecting with exponential backoff.
package logship

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of Options.
const (
	DefaultBufferLines  = 8192
	DefaultMinBackoff   = 100 * time.Millisecond
	DefaultMaxBackoff   = 30 * time.Second
	DefaultWriteTimeout = 5 * time.Second
)

// Options configure a Shipper. Zero values take the defaults.
type Options struct {
	Addr         string // host:port of the Logstash tcp input
	BufferLines  int    // lines held while Logstash is slow or away
	MinBackoff   time.Duration
	MaxBackoff   time.Duration
	WriteTimeout time.Duration // also the dial timeout
	// Logger reports connection changes (one line per change, never per
	// log line). It must not write to this Shipper.
	Logger zerolog.Logger
}

// Shipper is an io.Writer that ships each line written to it. It is safe
// for concurrent use.
type Shipper struct {
	opts    Options
	lines   chan []byte
	quit    chan struct{} // closed by Close
	done    chan struct{} // closed when the goroutine has returned
	closing atomic.Bool
	once    sync.Once
	// abort is cancelled when Close's deadline passes: dials stop and the
	// remaining lines are dropped.
	abort    context.Context
	abortNow context.CancelFunc

	shipped  atomic.Uint64
	dropped  atomic.Uint64
	failures atomic.Uint64

	mu   sync.Mutex // guards conn for Close's forced shutdown
	conn net.Conn
}

// New starts a Shipper; it connects in the background.
func New(opts Options) *Shipper {
	if opts.BufferLines <= 0 {
		opts.BufferLines = DefaultBufferLines
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	s := &Shipper{opts: opts, lines: make(chan []byte, opts.BufferLines),
		quit: make(chan struct{}), done: make(chan struct{})}
	s.abort, s.abortNow = context.WithCancel(context.Background())
	go s.run()
	return s
}

// Write queues a copy of p (one log line) and returns at once; it never
// fails. When the buffer is full or the Shipper is closed the line is
// dropped and counted.
func (s *Shipper) Write(p []byte) (int, error) {
	if s.closing.Load() {
		s.dropped.Add(1)
		return len(p), nil
	}
	line := make([]byte, len(p), len(p)+1)
	copy(line, p)
	if len(line) == 0 || line[len(line)-1] != '\n' {
		line = append(line, '\n')
	}
	select {
	case s.lines <- line:
	default:
		s.dropped.Add(1)
	}
	return len(p), nil
}

// ShippedLines is the number of lines written to Logstash so far.
func (s *Shipper) ShippedLines() uint64 { return s.shipped.Load() }

// DroppedLines is the number of lines lost so far (buffer full, failed
// write, or written after Close).
func (s *Shipper) DroppedLines() uint64 { return s.dropped.Load() }

// ConnectFailures is the number of failed connection attempts so far.
func (s *Shipper) ConnectFailures() uint64 { return s.failures.Load() }

// Close stops accepting lines and ships what is buffered until ctx is done;
// then it drops the rest and closes the connection.
func (s *Shipper) Close(ctx context.Context) error {
	s.once.Do(func() {
		s.closing.Store(true)
		close(s.quit)
	})
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
	}
	s.abortNow()
	s.mu.Lock()
	if s.conn != nil {
		s.conn.SetDeadline(time.Now()) //nolint:errcheck // unblocks a stuck write
	}
	s.mu.Unlock()
	<-s.done
	return ctx.Err()
}

// run is the one goroutine that owns the connection.
func (s *Shipper) run() {
	defer close(s.done)
	c := &connState{s: s, backoff: s.opts.MinBackoff}
	defer c.close()
	for {
		var line []byte
		select {
		case line = <-s.lines:
		case <-c.dead: // nil, so never ready, without a connection
			c.lost(errors.New("logstash closed the connection"))
			continue
		case <-s.quit:
			s.drain(c)
			return
		}
		if !c.ship(line, s.quit) {
			s.dropped.Add(1)
			s.drain(c)
			return
		}
	}
}

// drain ships what is buffered at Close, trying to connect at most once;
// Close's deadline bounds it by unblocking the connection.
func (s *Shipper) drain(c *connState) {
	c.noWait = true
	for {
		select {
		case line := <-s.lines:
			c.ship(line, nil)
		default:
			return
		}
	}
}

// connState is the connection and its reconnect backoff.
type connState struct {
	s       *Shipper
	conn    net.Conn
	w       *bufio.Writer
	dead    chan struct{} // closed when the peer closes the connection
	backoff time.Duration
	failed  bool // the last attempt failed (log connection changes once)
	noWait  bool // shutting down: one dial attempt, no backoff
	tried   bool
}

// ship writes line (plus whatever else is buffered), connecting first if
// needed. While Logstash is away it holds the line and retries with
// backoff; it returns false (line not shipped) when quit closes meanwhile.
func (c *connState) ship(line []byte, quit <-chan struct{}) bool {
	for {
		if c.s.abort.Err() != nil {
			c.s.dropped.Add(1)
			return true
		}
		if c.conn == nil && !c.connect(quit) {
			if c.noWait {
				c.s.dropped.Add(1)
				return true
			}
			select {
			case <-quit:
				return false
			default:
				continue // connect waits out the backoff first
			}
		}
		err := c.write(line)
		if err == nil {
			return true
		}
		c.lost(err)
	}
}

// write sends line and the lines queued behind it in one flush.
func (c *connState) write(line []byte) error {
	select {
	case <-c.dead:
		return errors.New("logstash closed the connection")
	default:
	}
	c.conn.SetWriteDeadline(time.Now().Add(c.s.opts.WriteTimeout)) //nolint:errcheck // checked by the write
	n := uint64(1)
	c.w.Write(line) //nolint:errcheck // reported by Flush
	for more := true; more && n < 256; {
		select {
		case l := <-c.s.lines:
			c.w.Write(l) //nolint:errcheck // reported by Flush
			n++
		default:
			more = false
		}
	}
	if err := c.w.Flush(); err != nil {
		c.s.dropped.Add(n - 1) // the held line is retried; the others are lost
		return err
	}
	c.s.shipped.Add(n)
	return nil
}

// connect dials once, waiting out the backoff first after a failure.
func (c *connState) connect(quit <-chan struct{}) bool {
	if c.noWait {
		if c.tried {
			return false
		}
		c.tried = true
	} else if c.failed {
		t := time.NewTimer(c.backoff)
		select {
		case <-t.C:
		case <-quit:
			t.Stop()
			return false
		}
		c.backoff = min(2*c.backoff, c.s.opts.MaxBackoff)
	}
	d := net.Dialer{Timeout: c.s.opts.WriteTimeout}
	conn, err := d.DialContext(c.s.abort, "tcp", c.s.opts.Addr)
	if err != nil {
		c.s.failures.Add(1)
		if !c.failed {
			c.s.opts.Logger.Error().Err(err).Str("addr", c.s.opts.Addr).Msg("logstash unreachable; retrying with backoff")
		}
		c.failed = true
		return false
	}
	c.conn, c.w, c.dead = conn, bufio.NewWriterSize(conn, 64<<10), make(chan struct{})
	go func(conn net.Conn, dead chan struct{}) { // Logstash never writes; EOF means it went away
		io.Copy(io.Discard, conn) //nolint:errcheck // any end is the end
		close(dead)
	}(conn, c.dead)
	c.s.mu.Lock()
	c.s.conn = conn
	c.s.mu.Unlock()
	if c.failed {
		c.s.opts.Logger.Info().Str("addr", c.s.opts.Addr).Msg("logstash connected")
	}
	c.failed, c.backoff = false, c.s.opts.MinBackoff
	return true
}

// lost closes a broken connection.
func (c *connState) lost(err error) {
	c.s.opts.Logger.Error().Err(err).Str("addr", c.s.opts.Addr).Msg("logstash connection lost; reconnecting")
	c.close()
	c.failed = true
}

func (c *connState) close() {
	if c.conn == nil {
		return
	}
	c.conn.Close()
	c.s.mu.Lock()
	c.s.conn = nil
	c.s.mu.Unlock()
	c.conn, c.w, c.dead = nil, nil, nil
}
