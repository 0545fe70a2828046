package proxyaddr

import (
	"net/netip"
	"testing"
)

func TestParse(t *testing.T) {
	got, err := Parse([]string{" 10.1.2.3/8 ", "192.168.1.1", "2001:db8:ffff::/48", "::ffff:10.0.0.0/104"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.1/32", "2001:db8:ffff::/48", "10.0.0.0/8"}
	for i, w := range want {
		if got[i] != netip.MustParsePrefix(w) {
			t.Errorf("entry %d = %s, want %s", i, got[i], w)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", ""} {
		if _, err := Parse([]string{bad}); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}
