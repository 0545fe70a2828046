package cmd_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// authPost sends a JSON body with a bearer token and decodes the answer.
func (s *server) authPost(t testing.TB, path, token, body string) (int, map[string]any, error) {
	t.Helper()
	req, err := http.NewRequest("POST", s.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %d %q is not a JSON object", path, resp.StatusCode, data)
	}
	return resp.StatusCode, m, nil
}

func (s *server) mustPost(t testing.TB, path, token, body string, want int) map[string]any {
	t.Helper()
	code, m, err := s.authPost(t, path, token, body)
	if err != nil || code != want {
		t.Fatalf("POST %s: %d %v (%v), want %d", path, code, m, err, want)
	}
	return m
}

func (s *server) mustGet(t testing.TB, path, token string) map[string]any {
	t.Helper()
	code, body := s.authGet(t, path, token)
	var m map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &m) != nil {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	return m
}

// holdSetup creates alice with 100 credits through the CLI and returns her token.
func holdSetup(t *testing.T, c *cli) string {
	t.Helper()
	decodeJSON[userJSON](t, c.runStdin(testPassword, "user", "create", "alice", "--email", "alice@example.com", "--password-stdin", "-o", "json"))
	decodeJSON[map[string]any](t, c.run("credits", "grant", "alice", "100", "-o", "json"))
	return strings.TrimSpace(c.run("token", "issue", "alice").stdout)
}

func TestCreditHoldsCommands(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			c := newMigratedCLI(t, b.URL(t))
			tok := holdSetup(t, c)
			s := c.startServer()
			first := s.mustPost(t, "/credits/holds", tok, `{"amount": 10, "reference_id": "job-1"}`, 201)
			second := s.mustPost(t, "/credits/holds", tok, `{"amount": 2.5}`, 201)
			s.mustPost(t, fmt.Sprintf("/credits/holds/%v/capture", first["id"]), tok, `{"amount": 4}`, 200)

			if r := c.run("credits", "balance", "alice"); r.code != 0 || strings.TrimSpace(r.stdout) != "alice: 96.0 (held 2.5, available 93.5)" {
				t.Fatalf("balance text: %+v", r)
			}
			page := decodeJSON[map[string]any](t, c.run("credits", "holds", "alice", "-o", "json"))
			holds := page["holds"].([]any)
			if len(holds) != 2 || holds[0].(map[string]any)["id"] != second["id"] || page["next_after"] != nil {
				t.Fatalf("holds: %+v", page)
			}
			pending := decodeJSON[map[string]any](t, c.run("credits", "holds", "alice", "--status", "pending", "-o", "json"))
			if got := pending["holds"].([]any); len(got) != 1 || got[0].(map[string]any)["status"] != "pending" {
				t.Fatalf("--status pending: %+v", pending)
			}
			if r := c.run("credits", "holds", "alice"); r.code != 0 || !strings.Contains(r.stdout, "captured") || !strings.Contains(r.stdout, "job-1") {
				t.Fatalf("text: %+v", r)
			}
			paged := decodeJSON[map[string]any](t, c.run("credits", "holds", "alice", "--limit", "1", "-o", "json"))
			if paged["next_after"] != second["id"] {
				t.Fatalf("--limit 1: %+v", paged)
			}
			expectExit(t, c.run("credits", "holds", "alice", "--status", "gone"), 2)
			expectExit(t, c.run("credits", "holds", "nobody"), 3)
			expectExit(t, c.run("credits", "holds"), 2)

			voided := decodeJSON[map[string]any](t, c.run("credits", "void", fmt.Sprint(second["id"]), "-o", "json"))
			if voided["status"] != "voided" {
				t.Fatalf("void: %+v", voided)
			}
			if r := c.run("credits", "void", fmt.Sprint(second["id"])); r.code != 0 || !strings.Contains(r.stdout, "voided") {
				t.Fatalf("second void: %+v", r)
			}
			expectExit(t, c.run("credits", "void", fmt.Sprint(first["id"])), 4) // captured
			expectExit(t, c.run("credits", "void", "999999"), 3)
			expectExit(t, c.run("credits", "void", "abc"), 2)

			if bal := s.mustGet(t, "/credits/balance", tok); bal["balance"] != 96.0 || bal["held"] != 0.0 || bal["available"] != 96.0 {
				t.Fatalf("balance: %+v", bal)
			}
		})
	}
}

// TestServeExpiresHolds: serve's background job resolves a due hold as
// expired without anyone touching it.
func TestServeExpiresHolds(t *testing.T) {
	t.Parallel()
	c := newMigratedCLI(t, storetest.SQLiteURL(t))
	tok := holdSetup(t, c)
	s := c.startServer()
	h := s.mustPost(t, "/credits/holds", tok, `{"amount": 30, "expires_in": 1}`, 201)
	waitFor(t, func() bool {
		got := s.mustGet(t, "/credits/holds?status=expired", tok)["holds"].([]any)
		return len(got) == 1 && got[0].(map[string]any)["id"] == h["id"]
	})
	if bal := s.mustGet(t, "/credits/balance", tok); bal["held"] != 0.0 || bal["available"] != 100.0 {
		t.Fatalf("balance after expiry: %+v", bal)
	}
}

var (
	failpointOnce sync.Once
	failpointBin  string
	failpointErr  error
)

// failpointBinary builds, once per test binary, authsvc with -tags
// failpoint: AUTHSVC_FAILPOINT=capture-committed then SIGKILLs serve right
// after a capture commits and before it answers.
func failpointBinary(t *testing.T) string {
	t.Helper()
	failpointOnce.Do(func() {
		failpointBin = filepath.Join(filepath.Dir(binary), "authsvc-failpoint")
		var out bytes.Buffer
		build := exec.Command("go", "build", "-tags", "failpoint", "-o", failpointBin, "..")
		build.Stdout, build.Stderr = &out, &out
		if err := build.Run(); err != nil {
			failpointErr = fmt.Errorf("build with -tags failpoint: %v\n%s", err, out.String())
		}
	})
	if failpointErr != nil {
		t.Fatal(failpointErr)
	}
	return failpointBin
}

// TestCaptureSurvivesKill9: a real `serve` process is killed with SIGKILL
// between a capture's commit and its response; the client repeats the
// capture with its reference_id against a restarted serve and gets the
// original result, with nothing applied twice.
func TestCaptureSurvivesKill9(t *testing.T) {
	t.Parallel()
	bin := failpointBinary(t)
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			dbURL := b.URL(t)
			c := newMigratedCLI(t, dbURL)
			tok := holdSetup(t, c)

			crashing := newCLI(t, dbURL, "AUTHSVC_FAILPOINT=capture-committed")
			crashing.bin = bin
			s := crashing.startServer()
			h := s.mustPost(t, "/credits/holds", tok, `{"amount": 40}`, 201)
			capture := fmt.Sprintf("/credits/holds/%v/capture", h["id"])
			body := `{"amount": 25, "reference_id": "job-9"}`
			if code, m, err := s.authPost(t, capture, tok, body); err == nil {
				t.Fatalf("the capture was answered (%d %v): the failpoint did not fire", code, m)
			}
			s.wait(t, 10*time.Second)
			var exitErr *exec.ExitError
			if !errors.As(s.waitErr, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("serve did not die of SIGKILL: %v", s.waitErr)
			}

			// The capture committed before the crash (the CLI reads the database).
			stored := decodeJSON[map[string]any](t, c.run("credits", "holds", "alice", "-o", "json"))["holds"].([]any)[0].(map[string]any)
			if stored["status"] != "captured" || stored["captured_amount"] != 25.0 || stored["transaction_id"] == nil {
				t.Fatalf("after the crash the hold is %+v, want captured", stored)
			}

			s = c.startServer()
			again := s.mustPost(t, capture, tok, body, 200)
			hold, tx := again["hold"].(map[string]any), again["transaction"].(map[string]any)
			if hold["status"] != "captured" || hold["captured_amount"] != 25.0 || tx["amount"] != 25.0 ||
				tx["reference_id"] != "job-9" || tx["new_balance"] != 75.0 || hold["transaction_id"] != tx["id"] ||
				tx["id"] != stored["transaction_id"] {
				t.Fatalf("repeat after the crash: %+v", again)
			}
			if repeat := s.mustPost(t, capture, tok, body, 200); repeat["transaction"].(map[string]any)["id"] != tx["id"] {
				t.Fatalf("a second repeat: %+v", repeat)
			}
			if bal := s.mustGet(t, "/credits/balance", tok); bal["balance"] != 75.0 || bal["held"] != 0.0 {
				t.Fatalf("balance: %+v", bal)
			}
			if n := s.mustGet(t, "/credits/transactions", tok)["total_count"]; n != 2.0 {
				t.Fatalf("%v transactions, want 2 (the grant and one capture)", n)
			}
			s.mustPost(t, capture, tok, `{"reference_id": "other"}`, 409)
		})
	}
}
