package password

import (
	"bytes"
	"compress/gzip"
	_ "embed" // for the common-password list
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/authsvc/authsvc/pkg/domain"
)

// commonGz is the common-password list, one password a line, gzip-compressed.
// See README.md for its source and licence.
//
//go:embed common-passwords.txt.gz
var commonGz []byte

// Messages of the field errors Validate adds (from authsvc's one table).
const (
	MsgTooShort = domain.MsgPasswordTooShort
	MsgTooLong  = domain.MsgPasswordTooLong
	MsgCommon   = domain.MsgPasswordCommon
)

// commonList is the lowercased common passwords, sorted, for binary search.
// It shares one backing string to keep memory small (~1.2 MB).
type commonList struct {
	sorted []string
}

// sharedCommon loads the list once per process, on first use, and hands every
// Hasher the same read-only index.
var sharedCommon = sync.OnceValues(loadCommon)

// loadCommon decompresses and indexes the embedded list.
func loadCommon() (*commonList, error) {
	zr, err := gzip.NewReader(bytes.NewReader(commonGz))
	if err != nil {
		return nil, fmt.Errorf("password: common list: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("password: common list: %w", err)
	}
	text := strings.ToLower(string(raw))
	words := make([]string, 0, strings.Count(text, "\n")+1)
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		if line != "" {
			words = append(words, line)
		}
	}
	slices.Sort(words)
	return &commonList{sorted: slices.Compact(words)}, nil
}

// contains reports whether pw, lowercased, is a whole entry of the list.
func (c *commonList) contains(pw string) bool {
	_, found := slices.BinarySearch(c.sorted, strings.ToLower(pw))
	return found
}

// Len returns the number of distinct (lowercased) common passwords.
func (c *commonList) Len() int { return len(c.sorted) }

// IsCommon reports whether pw is on the common-password list: an exact,
// case-insensitive match of the whole password.
func (h *Hasher) IsCommon(pw string) bool { return h.common.contains(pw) }

// CommonCount returns how many distinct common passwords are refused.
func (h *Hasher) CommonCount() int { return h.common.Len() }

// Validate adds at most one field error at ["body", field] to v when pw is
// shorter than 8 bytes, longer than 72 bytes, or on the common-password list.
func (h *Hasher) Validate(field, pw string, v *domain.Validator) {
	switch {
	case len(pw) < MinBytes:
		v.Add(MsgTooShort, domain.TypeStringTooShort, "body", field)
	case len(pw) > MaxBytes:
		v.Add(MsgTooLong, domain.TypeStringTooLong, "body", field)
	case h.IsCommon(pw):
		v.Add(MsgCommon, domain.TypeValueError, "body", field)
	}
}
