package domain

// PasswordHasher hashes and checks passwords. It is an
// interface so that the use cases can be tested with a counting wrapper
// around the real bcrypt implementation.
type PasswordHasher interface {
	// Hash returns the bcrypt hash of pw. It returns EINVALID for a password
	// over 72 bytes (never truncated); callers validate first.
	Hash(pw string) (string, error)
	// Compare returns nil when pw matches hash, EUNAUTHORIZED with Reason
	// "invalid_credentials" when it does not (or when pw is over 72 bytes),
	// and EINTERNAL when hash is not a bcrypt hash.
	Compare(hash, pw string) error
	// CompareDummy spends the time of one Compare at the same cost without
	// any result, so that a login for an unknown user takes as long as one
	// for a known user.
	CompareDummy(pw string)
	// NeedsRehash reports whether hash was made at another cost than the
	// configured one (or is not a bcrypt hash), so that a successful login
	// stores a new hash.
	NeedsRehash(hash string) bool
}

// PasswordPolicy checks a new password (registration, change, reset).
type PasswordPolicy interface {
	// Validate adds a field error at ["body", field] to v when pw is shorter
	// than 8 bytes, longer than 72 bytes, or one of the common passwords.
	Validate(field, pw string, v *Validator)
	// TooLong reports whether pw is over 72 bytes, for the login path, which
	// must refuse such a password before any compare.
	TooLong(pw string) bool
}
