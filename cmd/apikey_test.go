package cmd_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/pkg/apikey"
)

// apikey check needs no database: it runs with an unreachable one, accepts
// a good key (argument or stdin) and rejects a one-character change with
// exit code 2 and the checksum error.
func TestAPIKeyCheckOffline(t *testing.T) {
	c := newCLI(t, "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	key := apikey.FromBytes(bytes.Repeat([]byte{42}, 32))
	if r := c.run("apikey", "check", key); r.code != 0 || !strings.Contains(r.stdout, apikey.Shown(key)) {
		t.Fatalf("good key: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r := c.runStdin(key+"\n", "apikey", "check", "-", "-o", "json")
	var out struct {
		Valid bool   `json:"valid"`
		Shown string `json:"shown"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || !out.Valid || out.Shown != key[:8] {
		t.Fatalf("stdin json: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	flip := byte('A')
	if key[20] == flip {
		flip = 'B'
	}
	bad := key[:20] + string(flip) + key[21:]
	r = c.run("apikey", "check", bad)
	if r.code != 2 || !strings.Contains(r.stderr, "checksum") {
		t.Fatalf("altered key: exit %d, stderr %q", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, bad) {
		t.Fatalf("the error echoes the key: %q", r.stderr)
	}
	if r := c.run("apikey", "check", "ghp_notours"); r.code != 2 || !strings.Contains(r.stderr, "ask_") {
		t.Fatalf("foreign token: exit %d, stderr %q", r.code, r.stderr)
	}
}
