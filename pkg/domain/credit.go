package domain

import (
	"strconv"
	"strings"
	"time"
)

// Cents is an exact amount of money in hundredths of a credit. It is written
// to JSON as a decimal number (100.5) and never passes through floating point.
type Cents int64

// Page sizes of the transaction history (the amount limits are in limits.go).
const (
	// DefaultHistoryLimit and MaxHistoryLimit bound a page of transactions.
	DefaultHistoryLimit = 50
	MaxHistoryLimit     = MaxPageLimit
)

// MarshalJSON writes c as an exact JSON number with at least one decimal
// digit and no trailing zeros beyond it: 150.0, 100.5, 0.3, 0.05 — the shape
// the original (Python floats) produced, so its clients see the same text.
func (c Cents) MarshalJSON() ([]byte, error) {
	return []byte(c.String()), nil
}

// String formats c as a decimal number, e.g. "150.0", "100.5", "-0.05".
func (c Cents) String() string {
	u := uint64(c) //nolint:gosec // two's complement on purpose: -u below is the magnitude, also of the smallest int64
	sign := ""
	if c < 0 {
		sign, u = "-", -u
	}
	whole, frac := u/100, u%100
	switch {
	case frac == 0:
		return sign + strconv.FormatUint(whole, 10) + ".0"
	case frac%10 == 0:
		return sign + strconv.FormatUint(whole, 10) + "." + strconv.FormatUint(frac/10, 10)
	case frac < 10:
		return sign + strconv.FormatUint(whole, 10) + ".0" + strconv.FormatUint(frac, 10)
	default:
		return sign + strconv.FormatUint(whole, 10) + "." + strconv.FormatUint(frac, 10)
	}
}

// UnmarshalJSON reads a JSON number with at most two decimal places (see
// ParseCents); it never goes through float64.
func (c *Cents) UnmarshalJSON(b []byte) error {
	v, err := ParseCents(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// AmountError says why an amount text was refused. Type is the FastAPI-style
// error type of the 422 entry (e.g. "decimal_max_places").
type AmountError struct {
	Type string
	Msg  string
}

// Error implements error.
func (e *AmountError) Error() string { return e.Msg }

// maxWholeDigits bounds the integer part ParseCents accepts, so that the
// cents always fit in an int64 (10^16 credits is far beyond any limit).
const maxWholeDigits = 16

// ParseCents converts the text of a decimal number (JSON number syntax, no
// exponent) into cents exactly: "1.5" → 150, "0.30" → 30, "-2" → -200.
// Trailing zeros beyond the second decimal are exact and accepted ("1.500");
// any other third decimal is refused, as are exponents ("1e3"), leading zeros
// ("01"), "NaN" and anything that is not a number. Errors are *AmountError.
// It checks syntax and precision only; see ParseAmount for the range.
func ParseCents(text string) (Cents, error) {
	s := text
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if strings.ContainsAny(s, "eE") && isDecimalish(s) {
		return 0, &AmountError{Type: TypeValueError,
			Msg: "exponent notation is not accepted; write the amount as a plain decimal, e.g. 10.50"}
	}
	if !allDigits(whole) || (hasDot && !allDigits(frac)) || (len(whole) > 1 && whole[0] == '0') {
		return 0, &AmountError{Type: TypeDecimalParsing, Msg: "value is not a valid decimal number"}
	}
	if len(whole) > maxWholeDigits {
		return 0, &AmountError{Type: TypeLessThanEqual, Msg: MsgAmountTooLarge}
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > 2 {
		return 0, &AmountError{Type: TypeDecimalMaxPlaces, Msg: "ensure that there are no more than 2 decimal places"}
	}
	frac += "00"[len(frac):]
	w, _ := strconv.ParseInt(whole, 10, 64) // digits only, at most 16 of them
	f, _ := strconv.ParseInt(frac, 10, 64)
	c := Cents(w*100 + f)
	if neg {
		c = -c
	}
	return c, nil
}

// ParseAmount validates the raw JSON text of an "amount" value (or a command
// line argument): present, a number (not a string, null or boolean), exact
// per ParseCents, > 0 and ≤ MaxAmount. Errors are *AmountError.
func ParseAmount(raw string) (Cents, error) {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return 0, &AmountError{Type: TypeMissing, Msg: MsgFieldRequired}
	case raw == "null":
		return 0, &AmountError{Type: TypeDecimalType, Msg: "none is not an allowed value"}
	case strings.HasPrefix(raw, `"`):
		return 0, &AmountError{Type: TypeDecimalType, Msg: "value must be a JSON number, not a string"}
	}
	c, err := ParseCents(raw)
	if err != nil {
		return 0, err
	}
	if c <= 0 {
		return 0, &AmountError{Type: TypeGreaterThan, Msg: "ensure this value is greater than 0"}
	}
	if c > MaxAmount {
		return 0, &AmountError{Type: TypeLessThanEqual, Msg: MsgAmountTooLarge}
	}
	return c, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isDecimalish reports whether s is made only of characters of a number in
// exponent notation, so that "1e3" gets the exponent message and "abc" not.
func isDecimalish(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("0123456789.eE+-", rune(s[i])) {
			return false
		}
	}
	return true
}

// HistoryQuery selects one page of a user's history, newest first: Limit rows
// after skipping Skip (the original's paging), or, with Cursor (the
// next_cursor of a previous page), the Limit rows older than that page.
// Either way the page is one index range, however deep it is.
type HistoryQuery struct {
	Skip   int
	Limit  int
	Cursor string
}

// Validate adds to v the query errors of q — skip must be >= 0, limit within
// 1..MaxHistoryLimit, a cursor one that a page returned, and not both a
// cursor and a skip — and returns the cursor's position in the history (0
// when there is none).
func (q HistoryQuery) Validate(v *Validator) (before int64) {
	if q.Skip < 0 {
		v.Add(MsgNotNegative, TypeGreaterThanEqual, "query", "skip")
	}
	ValidatePageLimit(v, q.Limit)
	if q.Cursor == "" {
		return 0
	}
	before, err := strconv.ParseInt(q.Cursor, 10, 64)
	if err != nil || before < 1 {
		v.Add(MsgCursor, TypeValueError, "query", "cursor")
		return 0
	}
	if q.Skip > 0 {
		v.Add(MsgCursorWithSkip, TypeValueError, "query", "skip")
	}
	return before
}

// ValidatePageLimit adds to v the 422 entry of a page size outside
// 1..MaxPageLimit (query parameter "limit").
func ValidatePageLimit(v *Validator, limit int) {
	switch {
	case limit < 1:
		v.Add(MsgPageLimit, TypeGreaterThanEqual, "query", "limit")
	case limit > MaxPageLimit:
		v.Add(MsgPageLimit, TypeLessThanEqual, "query", "limit")
	}
}

// HistoryCursor is the cursor that continues a page after t, its oldest row.
func HistoryCursor(t *Transaction) string { return strconv.FormatInt(t.Seq, 10) }

// Transaction is one ledger entry.
type Transaction struct {
	ID          int64           `db:"id" json:"id"`
	UserID      int64           `db:"user_id" json:"user_id"`
	Amount      Cents           `db:"amount" json:"amount"`
	Type        TransactionType `db:"transaction_type" json:"transaction_type"`
	ReferenceID *string         `db:"reference_id" json:"reference_id"`
	Description *string         `db:"description" json:"description"`
	CreatedAt   time.Time       `db:"created_at" json:"created_at"`
	NewBalance  Cents           `db:"balance_after" json:"new_balance"`
	// Seq numbers the row in its user's history: 1 for the oldest, no gaps.
	Seq int64 `db:"seq" json:"-"`
}

// Balance is a user's current credit balance.
type Balance struct {
	UserID    int64     `db:"user_id" json:"user_id"`
	Balance   Cents     `db:"balance" json:"balance"`
	UpdatedAt time.Time `db:"updated_at" json:"updated_at"`
	// Available is what can be spent or held now: Balance minus Held.
	Available Cents `db:"-" json:"available"`
	// Held is the sum of the pending holds.
	Held Cents `db:"held" json:"held"`
}

// TransactionPage is one page of a user's history, newest first, the number
// of transactions the user has in all, and the cursor of the next (older)
// page: nil when this page reaches the oldest transaction.
type TransactionPage struct {
	Transactions []*Transaction `json:"transactions"`
	TotalCount   int64          `json:"total_count"`
	NextCursor   *string        `json:"next_cursor"`
}
