package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/logship"
	"github.com/rs/zerolog"
)

// fakeLogstash collects the JSON lines sent to it until stopped.
type fakeLogstash struct {
	ln    net.Listener
	lines chan map[string]any
	mu    sync.Mutex
	conns []net.Conn
}

func startLogstash(t *testing.T, addr string) *fakeLogstash {
	t.Helper()
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if ln, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeLogstash{ln: ln, lines: make(chan map[string]any, 10_000)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, c)
			f.mu.Unlock()
			go func() {
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					var m map[string]any
					if json.Unmarshal(sc.Bytes(), &m) != nil {
						m = map[string]any{"not_json": sc.Text()}
					}
					select {
					case f.lines <- m:
					default:
					}
				}
			}()
		}
	}()
	t.Cleanup(f.stop)
	return f
}

func (f *fakeLogstash) stop() {
	f.ln.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
}

// waitRequestLine serves /healthz until a request line reaches f.
func waitRequestLine(t *testing.T, o *ops, f *fakeLogstash) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		o.do(req{path: "/healthz"})
		select {
		case m := <-f.lines:
			if m["message"] == "request" {
				return m
			}
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("no request line reached logstash")
	return nil
}

func TestLogstash(t *testing.T) {
	t.Run("request lines are shipped as JSON; requests never wait on logstash", func(t *testing.T) {
		ls := startLogstash(t, "127.0.0.1:0")
		addr := ls.ln.Addr().String()
		shipper := logship.New(logship.Options{Addr: addr, BufferLines: 64,
			MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			shipper.Close(ctx) //nolint:errcheck // best effort
		})
		local := &opsLog{}
		logger := zerolog.New(zerolog.MultiLevelWriter(zerolog.ConsoleWriter{Out: local, NoColor: true}, shipper)).
			With().Timestamp().Logger()
		o := newOps(t, nil, opsConfig{logger: &logger})

		if m := waitRequestLine(t, o, ls); m["route"] != "/healthz" || m["status"] != 200.0 || m["request_id"] == nil {
			t.Fatalf("shipped %v", m)
		}

		ls.stop()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range 1000 {
				o.do(req{path: "/healthz"})
			}
		}()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("requests blocked while logstash was away")
		}
		if shipper.DroppedLines() == 0 {
			t.Error("1000 lines, a 64-line buffer and no logstash, yet nothing dropped")
		}

		back := startLogstash(t, addr)
		if m := waitRequestLine(t, o, back); m["route"] != "/healthz" {
			t.Fatalf("shipped %v", m)
		}
	})
}
