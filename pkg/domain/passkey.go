package domain

import (
	"context"
	"time"
)

// Passkey ceremony purposes (WebAuthnChallenge.Purpose).
const (
	PasskeyRegister = "register"
	PasskeyLogin    = "login"
	PasskeyMFA      = "mfa"    // the second step after the password
	PasskeySignUp   = "signup" // a new account with a passkey and no password
)

// Mails and audit events of passkeys. The mails name the passkey with
// EmailKeyAPIKeyName ("key_name").
const (
	EmailPasskeyAdded   = "passkey_added"
	EmailPasskeyRemoved = "passkey_removed"
	AuditPasskeyAdded   = "passkey.added"
	AuditPasskeyCloned  = "passkey.sign_count_regressed" //nolint:gosec // G101: an event name
)

// The amr values of a passkey sign-in (RFC 8176): a hardware-bound key,
// or a synced one (backed up), and "user" when the authenticator verified
// the user (PIN, biometrics): two factors.
const (
	AMRHardwareKey = "hwk"
	AMRSoftwareKey = "swk"
	AMRUser        = "user"
)

// MaxPasskeyName is the longest name a passkey may have.
const MaxPasskeyName = 100

// PasskeyChallengeTTL is how long a passkey ceremony may take between its
// begin and its finish.
const PasskeyChallengeTTL = 5 * time.Minute

// Passkey is one WebAuthn credential of a user. CredentialID and PublicKey
// are the raw bytes the authenticator sent (the key in COSE form).
type Passkey struct {
	ID             int64      `json:"id" db:"id"`
	UserID         int64      `json:"-" db:"user_id"`
	CredentialID   []byte     `json:"-" db:"credential_id"`
	PublicKey      []byte     `json:"-" db:"public_key"`
	SignCount      uint32     `json:"sign_count" db:"sign_count"`
	Transports     []string   `json:"transports" db:"-"`
	AAGUID         []byte     `json:"-" db:"aaguid"`
	BackupEligible bool       `json:"backup_eligible" db:"backup_eligible"`
	BackupState    bool       `json:"backup_state" db:"backup_state"`
	UserVerified   bool       `json:"-" db:"user_verified"`
	Name           string     `json:"name" db:"name"`
	CreatedAt      time.Time  `json:"created_at" db:"created_at"`
	LastUsedAt     *time.Time `json:"last_used_at,omitempty" db:"last_used_at"`
}

// WebAuthnChallenge is a passkey ceremony in progress: the SHA-256 of its
// challenge, its purpose, its user (0 for a discoverable-credential login)
// and the WebAuthn library's session data (JSON). Single use.
type WebAuthnChallenge struct {
	ChallengeHash string    `db:"challenge_hash"`
	Purpose       string    `db:"purpose"`
	UserID        int64     `db:"user_id"`
	SessionData   string    `db:"session_data"`
	ExpiresAt     time.Time `db:"expires_at"`
	CreatedAt     time.Time `db:"created_at"`
}

// PasskeyStore keeps passkeys and the challenges of their ceremonies.
type PasskeyStore interface {
	// PutWebAuthnChallenge stores a challenge.
	PutWebAuthnChallenge(ctx context.Context, c *WebAuthnChallenge) error
	// TakeWebAuthnChallenge deletes and returns the unexpired challenge with
	// that hash and purpose, in one statement: of concurrent takers one
	// gets it. ErrPasskeyChallenge when gone, expired or of another purpose.
	TakeWebAuthnChallenge(ctx context.Context, hash, purpose string) (*WebAuthnChallenge, error)
	// AddPasskey stores a new credential (sets ID and CreatedAt) and queues
	// mail; ErrPasskeyExists when its credential id is registered already.
	AddPasskey(ctx context.Context, p *Passkey, mail ...*OutboundEmail) error
	// ReserveUserID takes a user id for an account to come (a passkey
	// sign-up's user handle); RegisterPasskeyUser then creates it with its
	// first passkey in one transaction.
	ReserveUserID(ctx context.Context) (int64, error)
	RegisterPasskeyUser(ctx context.Context, u *User, k *Passkey, verify *EmailVerification, mail ...*OutboundEmail) error
	// Passkeys lists the user's credentials, oldest first.
	Passkeys(ctx context.Context, userID int64) ([]*Passkey, error)
	// PasskeyByCredentialID returns the credential; ErrPasskeyNotFound.
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*Passkey, error)
	// UsePasskey records a sign-in: the new sign count, only when it grows
	// (or both are 0); ErrPasskeySignCount when it went backwards.
	UsePasskey(ctx context.Context, id int64, signCount uint32, backupState bool) error
	// RenamePasskey renames the user's credential; ErrPasskeyNotFound.
	RenamePasskey(ctx context.Context, userID, id int64, name string) error
	// DeletePasskey deletes the user's credential and queues mail;
	// ErrPasskeyNotFound. Unless allowLast, ErrLastSignInMethod when the
	// account would be left with no way to sign in (no password, no other
	// passkey), decided in the deleting transaction.
	DeletePasskey(ctx context.Context, userID, id int64, allowLast bool, mail ...*OutboundEmail) error
}

// PasskeyService is what the JSON API offers of passkeys (pkg/passkeys).
// Options and answers are the WebAuthn JSON the browser's
// navigator.credentials calls take and give.
type PasskeyService interface {
	BeginRegistration(ctx context.Context, p *Principal, password string) (options any, err error)
	FinishRegistration(ctx context.Context, p *Principal, name string, credential []byte) (*Passkey, error)
	BeginLogin(ctx context.Context, username string) (options any, err error)
	FinishLogin(ctx context.Context, credential []byte) (*AccessToken, error)
	// BeginSignUp and FinishSignUp create a passkey-only account.
	BeginSignUp(ctx context.Context, username, email string) (options any, err error)
	FinishSignUp(ctx context.Context, name string, credential []byte) (*User, *AccessToken, error)
	// BeginMFA and FinishMFA are a passkey as the second step of a login
	// (its mfa_token) after the password.
	BeginMFA(ctx context.Context, mfaToken string) (options any, err error)
	FinishMFA(ctx context.Context, mfaToken string, credential []byte) (*AccessToken, error)
	List(ctx context.Context, p *Principal) ([]*Passkey, error)
	Rename(ctx context.Context, p *Principal, id int64, name string) error
	Delete(ctx context.Context, p *Principal, id int64) error
}
