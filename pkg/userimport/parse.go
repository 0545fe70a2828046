// Package userimport moves users from another system into authsvc: it reads
// a JSON-lines or CSV file (the original service's users exported with psql
// \copy), checks every row, and hands the users to an domain.UserImporter,
// which stores them in one transaction. Passwords keep working: the bcrypt
// hashes are stored as they are.
package userimport

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"golang.org/x/crypto/bcrypt"
)

// Column names, with the aliases accepted for each.
var columns = map[string]string{
	"username":        "username",
	"email":           "email",
	"hashed_password": "password_hash",
	"password_hash":   "password_hash",
	"is_admin":        "is_admin",
	"email_verified":  "email_verified",
	"created_at":      "created_at",
	"balance":         "balance",
	"credit_balance":  "balance",
	"credits":         "balance",
}

// row is one record: canonical column → text.
type row struct {
	line   int
	fields map[string]string
}

// Parse reads users from r: JSON lines (one object per line) when the first
// non-blank character is '{', else CSV with a header line. Columns it does
// not know (id, updated_at, …) are ignored. It returns the good rows and, for
// each bad one, its line number and what is wrong.
func Parse(r io.Reader) ([]domain.ImportedUser, []domain.ImportRowError, error) {
	br := bufio.NewReader(r)
	first, err := firstNonBlank(br)
	if err != nil {
		return nil, nil, err
	}
	var rows []row
	var bad []domain.ImportRowError
	if first == '{' {
		rows, bad, err = readJSONLines(br)
	} else {
		rows, err = readCSV(br)
	}
	if err != nil {
		return nil, nil, err
	}
	users := make([]domain.ImportedUser, 0, len(rows))
	for _, rw := range rows {
		u, err := toUser(rw)
		if err != nil {
			bad = append(bad, domain.ImportRowError{Line: rw.line, Err: err})
			continue
		}
		users = append(users, u)
	}
	sortErrors(bad)
	return users, bad, nil
}

func firstNonBlank(br *bufio.Reader) (byte, error) {
	for i := 1; ; i++ {
		b, err := br.Peek(i)
		if errors.Is(err, io.EOF) || (err == nil && len(b) < i) {
			return 0, errors.New(domain.MsgImportEmpty)
		}
		if err != nil {
			return 0, err
		}
		if c := b[i-1]; c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != 0xEF && c != 0xBB && c != 0xBF {
			return c, nil
		}
	}
}

func readJSONLines(r io.Reader) ([]row, []domain.ImportRowError, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var rows []row
	var bad []domain.ImportRowError
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			text = bytes.TrimPrefix(text, []byte("\xEF\xBB\xBF"))
		}
		if len(text) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(text, &obj); err != nil {
			bad = append(bad, domain.ImportRowError{Line: line, Err: fmt.Errorf(domain.MsgImportNotJSON, err)})
			continue
		}
		fields := map[string]string{}
		for k, raw := range obj {
			name, ok := columns[strings.ToLower(k)]
			if !ok {
				continue
			}
			var s string
			switch {
			case string(raw) == "null":
			case len(raw) > 0 && raw[0] == '"':
				if err := json.Unmarshal(raw, &s); err != nil {
					return nil, nil, err
				}
			default:
				s = string(raw) // numbers and booleans as written
			}
			fields[name] = s
		}
		rows = append(rows, row{line: line, fields: fields})
	}
	return rows, bad, sc.Err()
}

func readCSV(r io.Reader) ([]row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("CSV header: %w", err)
	}
	index := map[int]string{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\xEF\xBB\xBF")))
		if name, ok := columns[h]; ok {
			index[i] = name
		}
	}
	for _, need := range []string{"username", "email", "password_hash"} {
		if !hasValue(index, need) {
			return nil, fmt.Errorf(domain.MsgImportNoColumn, strings.Join(header, ","), need)
		}
	}
	var rows []row
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("CSV: %w", err) // csv.ParseError names the line
		}
		line, _ := cr.FieldPos(0)
		fields := map[string]string{}
		for i, v := range rec {
			if name, ok := index[i]; ok {
				fields[name] = v
			}
		}
		rows = append(rows, row{line: line, fields: fields})
	}
}

func hasValue(m map[int]string, v string) bool {
	for _, x := range m {
		if x == v {
			return true
		}
	}
	return false
}

// toUser checks one row.
func toUser(rw row) (domain.ImportedUser, error) {
	f := rw.fields
	u := domain.ImportedUser{Line: rw.line, Username: strings.TrimSpace(f["username"]),
		Email: domain.CanonicalEmail(strings.TrimSpace(f["email"])), PasswordHash: strings.TrimSpace(f["password_hash"])}
	var probs []string
	if !domain.ValidUsername(u.Username) {
		probs = append(probs, fmt.Sprintf(domain.MsgImportBadUsername, u.Username))
	}
	if !domain.ValidEmail(u.Email) {
		probs = append(probs, fmt.Sprintf(domain.MsgImportBadEmail, u.Email))
	}
	if err := checkHash(u.PasswordHash); err != nil {
		probs = append(probs, err.Error())
	}
	var err error
	if u.IsAdmin, err = parseBool("is_admin", f["is_admin"]); err != nil {
		probs = append(probs, err.Error())
	}
	if u.EmailVerified, err = parseBool("email_verified", f["email_verified"]); err != nil {
		probs = append(probs, err.Error())
	}
	if u.CreatedAt, err = parseTime(f["created_at"]); err != nil {
		probs = append(probs, err.Error())
	}
	if u.Balance, err = parseBalance(f["balance"]); err != nil {
		probs = append(probs, err.Error())
	}
	if len(probs) > 0 {
		return u, errors.New(strings.Join(probs, "; "))
	}
	return u, nil
}

// bcryptAlphabet is the base64 alphabet of a bcrypt hash's salt and digest.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// checkHash accepts bcrypt hashes as passlib and others write them, checked
// whole: a version, a cost from bcrypt's minimum to domain.MaxBcryptCost, and
// 53 characters of bcrypt's base64 (salt and digest), so that every imported
// hash compares as a hash and never as an error at login.
func checkHash(h string) error {
	if h == "" {
		return errors.New(domain.MsgImportNoHash)
	}
	if len(h) != 60 || !(strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$")) || h[6] != '$' {
		return errors.New(domain.MsgImportBadHash)
	}
	for _, c := range h[7:] {
		if !strings.ContainsRune(bcryptAlphabet, c) {
			return errors.New(domain.MsgImportBadHash)
		}
	}
	cost, err := bcrypt.Cost([]byte(h))
	if err != nil {
		return errors.New(domain.MsgImportBadHash)
	}
	if cost > domain.MaxBcryptCost {
		return fmt.Errorf(domain.MsgImportHashCost, cost, domain.MaxBcryptCost)
	}
	return nil
}

func parseBool(column, s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "false", "f", "0", "no", "n":
		return false, nil
	case "true", "t", "1", "yes", "y":
		return true, nil
	}
	return false, fmt.Errorf(domain.MsgImportBadBool, column, s)
}

// timeLayouts are RFC 3339 and what psql writes for timestamp and timestamptz.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"}

// parseTime reads created_at; a time without a zone is UTC.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf(domain.MsgImportBadTime, s)
}

func parseBalance(s string) (domain.Cents, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	c, err := domain.ParseCents(s)
	if err != nil {
		return 0, fmt.Errorf("balance %q: %v", s, err)
	}
	if c < 0 {
		return 0, fmt.Errorf(domain.MsgImportNegative, s)
	}
	return c, nil
}

func sortErrors(errs []domain.ImportRowError) {
	slices.SortStableFunc(errs, func(a, b domain.ImportRowError) int { return a.Line - b.Line })
}
