// Package account holds the account use cases — register, login, refresh,
// logout, password change and reset, email change, deletion — and the
// authentication of access tokens. The HTTP API and the CLI both call them;
// no business rule lives in a handler or a command.
package account

import (
	"errors"
	"sync"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/rs/zerolog"
)

// Defaults of Options.
const (
	DefaultMaxSession         = domain.DefaultMaxSession
	DefaultFailedLoginLimit   = domain.DefaultFailedLoginLimit
	DefaultFailedLoginWindow  = domain.DefaultFailedLoginWindow
	DefaultResetEmailInterval = time.Minute
	DefaultFrontendURL        = domain.DefaultFrontendURL
	DefaultVerifyTTL          = domain.DefaultVerifyTTL
	DefaultVerifyInterval     = time.Minute
)

// Metrics receives the use cases' events (backed by Prometheus in serve).
// Implementations must be safe for concurrent use and fast.
type Metrics interface {
	LoginSucceeded()
	LoginFailed()
	TokenIssued()
	// TokenRefused is called for every refused access token; reason is one
	// of token's Reason* constants or "revoked", "stale_version",
	// "user_gone", "session_expired", "already_refreshed", "session_ended".
	TokenRefused(reason string)
}

// NopMetrics is a Metrics that records nothing.
type NopMetrics struct{}

// LoginSucceeded does nothing.
func (NopMetrics) LoginSucceeded() {}

// LoginFailed does nothing.
func (NopMetrics) LoginFailed() {}

// TokenIssued does nothing.
func (NopMetrics) TokenIssued() {}

// TokenRefused does nothing.
func (NopMetrics) TokenRefused(string) {}

// Options tune the use cases. Zero values take the defaults above. Token
// lifetimes are the token issuer's (token.Config).
type Options struct {
	MaxSession         time.Duration // refresh refuses tokens whose auth_time is older
	FrontendURL        string        // links: <FrontendURL>/reset-password?token=…, <FrontendURL>/verify-email?token=…
	FailedLoginLimit   int           // failed logins per username per window before 429
	FailedLoginWindow  time.Duration
	ResetEmailInterval time.Duration // at most one reset email per account per interval
	// RequireVerifiedEmail refuses the login of an unverified account (403
	// email_not_verified) and makes an email change wait for the new
	// address to confirm its link.
	RequireVerifiedEmail bool
	VerifyTTL            time.Duration // lifetime of a verification link, default 24 h
	VerifyInterval       time.Duration // at most one verification email per account per interval (resend)
	AuditRetention       time.Duration // audit events older than this are pruned, default 90 days
	// MFARequiredForAdmins limits an admin without a second factor to the
	// enrolment endpoints (auth.mfa_required_for_admins).
	MFARequiredForAdmins bool
	TOTPIssuer           string       // the issuer authenticator apps show, default "authsvc"
	Clock                domain.Clock // nil means time.Now
	Logger               zerolog.Logger
	Metrics              Metrics // nil means NopMetrics
}

func (o Options) withDefaults() Options {
	if o.MaxSession <= 0 {
		o.MaxSession = DefaultMaxSession
	}
	if o.FrontendURL == "" {
		o.FrontendURL = DefaultFrontendURL
	}
	if o.FailedLoginLimit <= 0 {
		o.FailedLoginLimit = DefaultFailedLoginLimit
	}
	if o.FailedLoginWindow <= 0 {
		o.FailedLoginWindow = DefaultFailedLoginWindow
	}
	if o.ResetEmailInterval <= 0 {
		o.ResetEmailInterval = DefaultResetEmailInterval
	}
	if o.VerifyTTL <= 0 {
		o.VerifyTTL = DefaultVerifyTTL
	}
	if o.AuditRetention <= 0 {
		o.AuditRetention = DefaultAuditRetention
	}
	if o.VerifyInterval <= 0 {
		o.VerifyInterval = DefaultVerifyInterval
	}
	if o.TOTPIssuer == "" {
		o.TOTPIssuer = DefaultTOTPIssuer
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = NopMetrics{}
	}
	return o
}

// Deps are the adapters the use cases run on.
type Deps struct {
	Store  domain.AuthStore // *store.DB in serve and the CLI
	Hasher domain.PasswordHasher
	Policy domain.PasswordPolicy
	Tokens domain.TokenIssuer
	// Sealer seals TOTP secrets under the key-encryption key; nil (no
	// auth.key_encryption_key) means enrolment is refused (kek_required).
	Sealer domain.SecretSealer
}

// Service implements domain.AuthService and domain.Authenticator, plus
// the admin operations of the CLI.
type Service struct {
	db     domain.AuthStore
	hasher domain.PasswordHasher
	policy domain.PasswordPolicy
	tokens domain.TokenIssuer
	sealer domain.SecretSealer
	opts   Options
	log    zerolog.Logger

	// background bounds the reset requests being queued after their
	// response; pending tracks them for Wait.
	background chan struct{}
	pending    sync.WaitGroup
}

// maxBackgroundResets bounds the reset requests in progress at once.
const maxBackgroundResets = 64

var (
	_ domain.AuthService   = (*Service)(nil)
	_ domain.Authenticator = (*Service)(nil)
)

// New returns a Service. Every field of deps is required.
func New(deps Deps, opts Options) (*Service, error) {
	if deps.Store == nil || deps.Hasher == nil || deps.Policy == nil || deps.Tokens == nil {
		return nil, errors.New("auth: store, hasher, policy and tokens are required")
	}
	opts = opts.withDefaults()
	return &Service{db: deps.Store, hasher: deps.Hasher, policy: deps.Policy, tokens: deps.Tokens,
		sealer: deps.Sealer, opts: opts, log: opts.Logger, background: make(chan struct{}, maxBackgroundResets)}, nil
}

func (s *Service) now() time.Time { return s.opts.Clock().UTC() }

// isCode reports whether err carries the domain code.
func isCode(err error, code string) bool { return domain.ErrorCode(err) == code }
