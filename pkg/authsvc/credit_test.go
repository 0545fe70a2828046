package authsvc

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
		"":                        "value_error.missing",
		"null":                    "type_error.none.not_allowed",
		`"10"`:                    "type_error.decimal",
		"0":                       "value_error.number.not_gt",
		"0.00":                    "value_error.number.not_gt",
		"-1":                      "value_error.number.not_gt",
		"0.001":                   "value_error.decimal.max_places",
		"1.005":                   "value_error.decimal.max_places",
		"1e12":                    "value_error.decimal.exponent",
		"1e309":                   "value_error.decimal.exponent",
		"1E2":                     "value_error.decimal.exponent",
		"1000000000.01":           "value_error.number.not_le",
		"99999999999999999999999": "value_error.number.not_le",
		"NaN":                     "type_error.decimal",
		"Infinity":                "type_error.decimal",
		"true":                    "type_error.decimal",
		"01":                      "type_error.decimal",
		"1.":                      "type_error.decimal",
		".5":                      "type_error.decimal",
		"+1":                      "type_error.decimal",
		"1,5":                     "type_error.decimal",
		"{}":                      "type_error.decimal",
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
