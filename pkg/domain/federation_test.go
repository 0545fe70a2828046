package domain

import "testing"

// TestUpstreamMFA: which amr values of a trusted provider stand in for a
// second factor, and the aal they give.
func TestUpstreamMFA(t *testing.T) {
	for _, c := range []struct {
		amr  []string
		want bool
	}{
		{[]string{"pwd", "mfa"}, true},
		{[]string{"pwd", "otp"}, true},
		{[]string{"pwd", "sms"}, true},
		{[]string{"hwk", "user"}, true},
		{[]string{"swk", "fpt"}, true},
		{[]string{"hwk", "pin"}, true},
		{[]string{"hwk"}, false}, // a key alone, the user not verified: one factor
		{[]string{"swk", "pwd"}, false},
		{[]string{"pwd"}, false},
		{[]string{"user"}, false},
		{nil, false},
	} {
		if got := UpstreamMFA(c.amr); got != c.want {
			t.Errorf("UpstreamMFA(%v) = %t, want %t", c.amr, got, c.want)
		}
	}
	if AALOf([]string{AMRFederated, "pwd", AMRMFA}) != AAL2 || AALOf([]string{AMRFederated}) != "" {
		t.Error(`AALOf: "mfa" must give aal2, "fed" alone none`)
	}
}
