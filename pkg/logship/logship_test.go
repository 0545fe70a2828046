package logship_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/authsvc/authsvc/internal/testkit"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/logship"
	"github.com/rs/zerolog"
)

// logstash is a fake Logstash tcp input: it collects the lines it receives.
type logstash struct {
	ln    net.Listener
	lines chan string
	mu    sync.Mutex
	conns []net.Conn
}

func listen(t *testing.T, addr string) *logstash {
	t.Helper()
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		if ln, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // the port is being released
	}
	if err != nil {
		t.Fatal(err)
	}
	l := &logstash{ln: ln, lines: make(chan string, 100_000)}
	go l.accept()
	t.Cleanup(l.close)
	return l
}

func (l *logstash) accept() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
		go func() {
			sc := bufio.NewScanner(c)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				l.lines <- sc.Text()
			}
		}()
	}
}

// close stops listening and drops every connection, as a Logstash that
// went away.
func (l *logstash) close() {
	l.ln.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

// next waits for a line.
func (l *logstash) next(t *testing.T) string {
	t.Helper()
	select {
	case s := <-l.lines:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no line reached logstash")
		return ""
	}
}

func newShipper(t *testing.T, opts logship.Options) *logship.Shipper {
	t.Helper()
	if opts.MinBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
	}
	s := logship.New(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Close(ctx) //nolint:errcheck // best effort
	})
	return s
}

// writeAll writes n lines from a goroutine and fails if they do not all
// return (a Write that waits on the network would hang here).
func writeAll(t *testing.T, s *logship.Shipper, n int, line []byte) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			s.Write(line) //nolint:errcheck // never fails
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("writes blocked on logstash")
	}
}

func TestShipper(t *testing.T) {
	t.Run("lines arrive as JSON even beside a console writer", func(t *testing.T) {
		ls := listen(t, "127.0.0.1:0")
		s := newShipper(t, logship.Options{Addr: ls.ln.Addr().String()})
		var console bytes.Buffer
		log := zerolog.New(zerolog.MultiLevelWriter(zerolog.ConsoleWriter{Out: &console, NoColor: true}, s)).
			With().Timestamp().Logger()
		log.Info().Str("route", "/auth/login").Int("status", 200).Msg("request")
		var got map[string]any
		if err := json.Unmarshal([]byte(ls.next(t)), &got); err != nil {
			t.Fatalf("shipped line is not JSON: %v", err)
		}
		if got["message"] != "request" || got["route"] != "/auth/login" || got["status"] != 200.0 || got["level"] != "info" {
			t.Fatalf("shipped %v", got)
		}
		if strings.HasPrefix(console.String(), "{") || !strings.Contains(console.String(), "request") {
			t.Fatalf("console output %q", console.String())
		}
	})

	t.Run("with logstash away writes never wait, and shipping resumes when it is back", func(t *testing.T) {
		ls := listen(t, "127.0.0.1:0")
		addr := ls.ln.Addr().String()
		events := &testkit.SyncBuffer{}
		s := newShipper(t, logship.Options{Addr: addr, BufferLines: 64, Logger: zerolog.New(events)})
		s.Write([]byte(`{"message":"first"}`)) //nolint:errcheck // never fails
		if got := ls.next(t); got != `{"message":"first"}` {
			t.Fatalf("got %q", got)
		}
		ls.close()
		writeAll(t, s, 1000, []byte(`{"message":"while away"}`+"\n"))
		if s.DroppedLines() == 0 {
			t.Fatal("1000 lines with logstash away and a 64-line buffer, none dropped")
		}
		for deadline := time.Now().Add(10 * time.Second); s.ConnectFailures() == 0; {
			if time.Now().After(deadline) {
				t.Fatalf("no reconnect attempt failed: %s", events)
			}
			s.Write([]byte(`{"message":"still away"}`)) //nolint:errcheck // never fails
			time.Sleep(5 * time.Millisecond)            // polling for the shipper's next attempt
		}
		if !strings.Contains(events.String(), "logstash connection lost") {
			t.Errorf("the loss was not logged: %s", events)
		}
		back := listen(t, addr)
		for deadline := time.Now().Add(10 * time.Second); ; {
			if time.Now().After(deadline) {
				t.Fatal("shipping did not resume")
			}
			s.Write([]byte(`{"message":"back"}`)) //nolint:errcheck // never fails
			select {
			case <-back.lines:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})

	t.Run("a stalled logstash never blocks writes", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() { // accepts, never reads
			c, err := ln.Accept()
			if err == nil {
				t.Cleanup(func() { c.Close() })
			}
		}()
		s := newShipper(t, logship.Options{Addr: ln.Addr().String(), BufferLines: 64})
		writeAll(t, s, 2000, bytes.Repeat([]byte("x"), 16<<10)) // 32 MB: more than the socket buffers
		if s.DroppedLines() == 0 {
			t.Fatal("nothing dropped while logstash did not read")
		}
	})

	t.Run("close ships what is buffered", func(t *testing.T) {
		ls := listen(t, "127.0.0.1:0")
		s := logship.New(logship.Options{Addr: ls.ln.Addr().String()})
		for i := range 500 {
			fmt.Fprintf(s, `{"n":%d}`+"\n", i)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		for i := range 500 {
			if got, want := ls.next(t), fmt.Sprintf(`{"n":%d}`, i); got != want {
				t.Fatalf("line %d = %q, want %q", i, got, want)
			}
		}
		s.Write([]byte("after close\n")) //nolint:errcheck // never fails
		if s.DroppedLines() != 1 || s.ShippedLines() != 500 {
			t.Fatalf("shipped %d, dropped %d", s.ShippedLines(), s.DroppedLines())
		}
	})

	t.Run("close returns when logstash is unreachable", func(t *testing.T) {
		ls := listen(t, "127.0.0.1:0")
		addr := ls.ln.Addr().String()
		ls.close()
		s := logship.New(logship.Options{Addr: addr, MinBackoff: time.Hour})
		writeAll(t, s, 10, []byte("{}\n"))
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		s.Close(ctx) //nolint:errcheck // nil or the deadline: either way it returned
		if s.DroppedLines() == 0 {
			t.Fatal("undeliverable lines not counted as dropped")
		}
	})
}
