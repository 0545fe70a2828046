package domain

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestCentsJSON(t *testing.T) {
	for _, tc := range []struct {
		c    Cents
		want string
	}{{15000, "150.0"}, {10050, "100.5"}, {30, "0.3"}, {5, "0.05"}, {0, "0.0"}, {12345, "123.45"}, {-5, "-0.05"},
		{MaxAmount, "1000000000.0"}} {
		got, err := json.Marshal(tc.c)
		if err != nil || string(got) != tc.want {
			t.Errorf("Marshal(%d) = %s, %v; want %s", int64(tc.c), got, err, tc.want)
		}
		var back Cents
		if err := json.Unmarshal(got, &back); err != nil || back != tc.c {
			t.Errorf("Unmarshal(%s) = %d, %v; want %d", got, int64(back), err, int64(tc.c))
		}
	}
}

func TestParseAmount(t *testing.T) {
	good := map[string]Cents{"1": 100, "1.5": 150, "1.50": 150, "1.500": 150, "0.01": 1, "0.1": 10, "1000000000.00": MaxAmount, " 7 ": 700}
	for text, want := range good {
		if got, err := ParseAmount(text); err != nil || got != want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d", text, int64(got), err, int64(want))
		}
	}
	bad := map[string]string{
		"":                        "missing",
		"null":                    "decimal_type",
		`"10"`:                    "decimal_type",
		"0":                       "greater_than",
		"0.00":                    "greater_than",
		"-1":                      "greater_than",
		"0.001":                   "decimal_max_places",
		"1.005":                   "decimal_max_places",
		"1e12":                    "value_error",
		"1e309":                   "value_error",
		"1E2":                     "value_error",
		"1000000000.01":           "less_than_equal",
		"99999999999999999999999": "less_than_equal",
		"NaN":                     "decimal_parsing",
		"Infinity":                "decimal_parsing",
		"true":                    "decimal_parsing",
		"01":                      "decimal_parsing",
		"1.":                      "decimal_parsing",
		".5":                      "decimal_parsing",
		"+1":                      "decimal_parsing",
		"1,5":                     "decimal_parsing",
		"{}":                      "decimal_parsing",
	}
	for text, wantType := range bad {
		_, err := ParseAmount(text)
		var ae *AmountError
		if !errors.As(err, &ae) || ae.Type != wantType {
			t.Errorf("ParseAmount(%q) = %v; want an AmountError of type %s", text, err, wantType)
		}
	}
}

func TestCentsArithmeticIsExact(t *testing.T) {
	a, _ := ParseAmount("0.1")
	b, _ := ParseAmount("0.2")
	if got, _ := json.Marshal(a + b); string(got) != "0.3" {
		t.Fatalf("0.1 + 0.2 = %s, want 0.3", got)
	}
}
