// Package apikeys holds the API key use cases: create, list and revoke a
// user's keys, and authenticate a request that carries one. The key format
// is package apikey's; the store keeps rows (only each key's SHA-256).
package apikeys

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/authsvc/authsvc/pkg/apikey"
	"github.com/authsvc/authsvc/pkg/domain"
)

// TouchInterval is how stale a key's last_used_at may get: a replica writes
// it at most once per interval per key, never on every request.
const TouchInterval = time.Minute

// Options configure the service.
type Options struct {
	Clock  domain.Clock // default time.Now
	Logger zerolog.Logger
	// Ledger charges a verification's cost (POST /keys/verify); nil
	// refuses verifications with a cost.
	Ledger Ledger
	// Limiter enforces keys' rate_limit_per_minute; nil enforces none.
	Limiter Limiter
}

// Ledger is what a verification with a cost needs of the credit ledger:
// the one debit path (group commit, idempotency by reference, audit).
type Ledger interface {
	Use(ctx context.Context, userID int64, req domain.CreditRequest) (*domain.Transaction, error)
	Balance(ctx context.Context, userID int64) (*domain.Balance, error)
}

// Limiter counts one request under key against perMinute requests a
// minute; remaining and reset describe the allowance after it.
type Limiter interface {
	Allow(ctx context.Context, key string, perMinute int) (allowed bool, remaining int, reset time.Duration, err error)
}

// Store is what the service keeps keys in, and where the CLI's commands
// find the user they name.
type Store interface {
	domain.APIKeyStore
	UserByUsername(ctx context.Context, username string) (*domain.User, error)
}

// Service implements domain.APIKeyService and domain.APIKeyVerifier.
type Service struct {
	db      Store
	now     domain.Clock
	log     zerolog.Logger
	ledger  Ledger
	limiter Limiter
	touched sync.Map // key id → time.Time of this replica's last TouchAPIKey
	cache   cache
}

var (
	_ domain.APIKeyService  = (*Service)(nil)
	_ domain.APIKeyVerifier = (*Service)(nil)
)

// New returns the service over db.
func New(db Store, opts Options) *Service {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Service{db: db, now: opts.Clock, log: opts.Logger, ledger: opts.Ledger, limiter: opts.Limiter,
		cache: cache{entries: map[string]cached{}}}
}

// SetLimiter sets the limiter of keys' own rate_limit_per_minute; serve
// calls it once, before serving.
func (s *Service) SetLimiter(l Limiter) { s.limiter = l }

// CreateAPIKey makes a key for the caller, audited in the same transaction,
// and returns it with its secret (shown this once).
func (s *Service) CreateAPIKey(ctx context.Context, p *domain.Principal, req domain.NewAPIKey) (*domain.CreatedAPIKey, error) {
	if p.APIKey != nil {
		return nil, domain.ErrAPIKeyNotAllowed
	}
	return s.create(ctx, p.User, req, p.User.ID)
}

// CreateForUser makes a key for the named user (`authsvc apikey create`),
// audited as the command line's.
func (s *Service) CreateForUser(ctx context.Context, username string, req domain.NewAPIKey) (*domain.User, *domain.CreatedAPIKey, error) {
	u, err := s.db.UserByUsername(ctx, username)
	if err != nil {
		return nil, nil, err
	}
	k, err := s.create(ctx, u, req, 0)
	return u, k, err
}

// ListForUser lists the named user's live keys (`authsvc apikey list`).
func (s *Service) ListForUser(ctx context.Context, username string) ([]*domain.APIKey, error) {
	u, err := s.db.UserByUsername(ctx, username)
	if err != nil {
		return nil, err
	}
	return s.db.APIKeys(ctx, u.ID)
}

// RevokeForUser revokes one of the named user's keys (`authsvc apikey
// revoke`), audited as the command line's.
func (s *Service) RevokeForUser(ctx context.Context, username, id string) error {
	u, err := s.db.UserByUsername(ctx, username)
	if err != nil {
		return err
	}
	return s.revoke(ctx, u, id, 0)
}

// create makes a key for u; actor is who asked (0: the command line).
func (s *Service) create(ctx context.Context, u *domain.User, req domain.NewAPIKey, actor int64) (*domain.CreatedAPIKey, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	if err := validate(&req, now); err != nil {
		return nil, err
	}
	secret, err := apikey.New()
	if err != nil {
		return nil, err
	}
	k := &domain.APIKey{ID: newID(), UserID: u.ID, Name: strings.TrimSpace(req.Name), Shown: apikey.Shown(secret),
		Hash: apikey.Hash(secret), Scopes: req.Scopes, CreatedAt: now, TokenVersion: u.TokenVersion,
		RateLimitPerMinute: req.RateLimitPerMinute}
	if req.SpendLimit != nil {
		amount, _ := domain.ParseAmount(string(req.SpendLimit.Amount)) // validated above
		k.SpendLimit = &domain.SpendLimit{Amount: amount, Period: req.SpendLimit.Period}
	}
	if req.ExpiresAt != nil {
		t := req.ExpiresAt.UTC().Truncate(time.Microsecond)
		k.ExpiresAt = &t
	}
	ev := auditEvent(domain.AuditAPIKeyCreated, actor, u.ID, map[string]any{"key_id": k.ID, "name": k.Name, "scopes": k.Scopes})
	if err := s.db.CreateAPIKey(domain.WithAudit(ctx, ev), k, notice(domain.EmailAPIKeyCreated, u, k)); err != nil {
		return nil, err
	}
	return &domain.CreatedAPIKey{APIKey: k, Key: secret}, nil
}

// APIKeys lists the caller's live keys, newest first.
func (s *Service) APIKeys(ctx context.Context, p *domain.Principal) ([]*domain.APIKey, error) {
	if p.APIKey != nil {
		return nil, domain.ErrAPIKeyNotAllowed
	}
	return s.db.APIKeys(ctx, p.User.ID)
}

// RevokeAPIKey revokes one of the caller's keys, audited in the same
// transaction. Every replica refuses the key from then on: requests look the
// key up each time.
func (s *Service) RevokeAPIKey(ctx context.Context, p *domain.Principal, id string) error {
	if p.APIKey != nil {
		return domain.ErrAPIKeyNotAllowed
	}
	return s.revoke(ctx, p.User, id, p.User.ID)
}

// revoke revokes u's key id; actor is who asked (0: the command line).
func (s *Service) revoke(ctx context.Context, u *domain.User, id string, actor int64) error {
	k, err := s.db.APIKey(ctx, u.ID, id)
	if err != nil {
		return err
	}
	ev := auditEvent(domain.AuditAPIKeyRevoked, actor, u.ID, map[string]any{"key_id": id})
	if err := s.db.RevokeAPIKey(domain.WithAudit(ctx, ev), u.ID, id, notice(domain.EmailAPIKeyRevoked, u, k)); err != nil {
		return err
	}
	s.cache.drop(k.Hash) // this replica at once; the others within domain.APIKeyCacheTTL
	return nil
}

// Authenticate checks the key's format and checksum first (no query for a
// mistyped or made-up key), then looks it up by its hash in one indexed
// query. The principal acts as its user without admin rights, even when
// the user is an admin.
func (s *Service) Authenticate(ctx context.Context, key string) (*domain.Principal, error) {
	k, u, code, err := s.lookup(ctx, key)
	if err != nil {
		return nil, err
	}
	if code != "" {
		return nil, domain.ErrInvalidAPIKey
	}
	if s.limiter != nil && k.RateLimitPerMinute != nil {
		ok, _, _, err := s.limiter.Allow(ctx, "apikey:"+k.ID, *k.RateLimitPerMinute)
		if err == nil && !ok { // one request's worth of the allowance comes back after a minute / rate
			return nil, domain.ErrRateLimited.WithRetryAfter(max(time.Minute/time.Duration(*k.RateLimitPerMinute), time.Second))
		}
	}
	u.IsAdmin = false // a key never carries an admin's rights over other accounts
	return &domain.Principal{User: u, Claims: &domain.Claims{UserID: u.ID, Username: u.Username}, APIKey: k}, nil
}

// lookup finds key (from this replica's cache when it read the key within
// domain.APIKeyCacheTTL) and says why it may not be used: "" when it may,
// else one of the domain.Verify* codes. A malformed key costs no query.
func (s *Service) lookup(ctx context.Context, key string) (*domain.APIKey, *domain.User, string, error) {
	if apikey.Check(key) != nil {
		return nil, nil, domain.VerifyNotFound, nil
	}
	hash := apikey.Hash(key)
	now := s.now()
	k, u, ok := s.cache.get(hash, now)
	if !ok {
		var err error
		k, u, err = s.db.APIKeyByHash(ctx, hash)
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			return nil, nil, domain.VerifyNotFound, nil
		} else if err != nil {
			return nil, nil, "", err
		}
		s.cache.put(hash, k, u, now)
	}
	switch {
	case k.RevokedAt != nil || u.TokenVersion != k.TokenVersion:
		return k, u, domain.VerifyRevoked, nil
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return k, u, domain.VerifyExpired, nil
	}
	s.touch(ctx, k, now)
	uc := *u // callers may change their copy (IsAdmin)
	return k, &uc, "", nil
}

// touch records the key's use when last_used_at is older than TouchInterval
// and this replica has not written it within the interval. A failure is
// logged, never the request's.
func (s *Service) touch(ctx context.Context, k *domain.APIKey, now time.Time) {
	if k.LastUsedAt != nil && now.Sub(*k.LastUsedAt) < TouchInterval {
		return
	}
	if last, ok := s.touched.Load(k.ID); ok && now.Sub(last.(time.Time)) < TouchInterval {
		return
	}
	s.touched.Store(k.ID, now)
	if err := s.db.TouchAPIKey(context.WithoutCancel(ctx), k.ID, now.UTC().Truncate(time.Microsecond)); err != nil {
		s.log.Warn().Err(err).Str("key_id", k.ID).Msg("api key last_used_at not recorded")
	}
}

// auditEvent is an API key event on target's account by actor (0: the
// command line, noted in its details).
func auditEvent(name string, actor, target int64, details map[string]any) *domain.AuditEvent {
	if actor == 0 {
		details["via"] = "cli"
	}
	return &domain.AuditEvent{Event: name, ActorID: actor, TargetID: target, Details: details}
}

// notice is the email telling u that k was made or revoked.
func notice(kind string, u *domain.User, k *domain.APIKey) *domain.OutboundEmail {
	return &domain.OutboundEmail{Kind: kind, Recipient: u.Email, Data: map[string]string{
		domain.EmailKeyUsername: u.Username, domain.EmailKeyAPIKeyName: k.Name + " (" + k.Shown + "…)"}}
}

// validate reports every bad field of req at once.
func validate(req *domain.NewAPIKey, now time.Time) error {
	var v domain.Validator
	name := strings.TrimSpace(req.Name)
	if name == "" || utf8.RuneCountInString(name) > domain.MaxAPIKeyName || !printable(name) {
		v.Add(domain.MsgAPIKeyName, domain.TypeValueError, "body", "name")
	}
	if !validScopes(req.Scopes) {
		v.Add(domain.MsgAPIKeyScopes, domain.TypeValueError, "body", "scopes")
	}
	if req.ExpiresAt != nil && !req.ExpiresAt.After(now) {
		v.Add(domain.MsgAPIKeyExpiresAt, domain.TypeValueError, "body", "expires_at")
	}
	if r := req.RateLimitPerMinute; r != nil && (*r < 1 || *r > domain.MaxAPIKeyRate) {
		v.Add(domain.MsgAPIKeyRateLimit, domain.TypeValueError, "body", "rate_limit_per_minute")
	}
	if l := req.SpendLimit; l != nil {
		_, err := domain.ParseAmount(string(l.Amount))
		if err != nil || (l.Period != domain.SpendPerDay && l.Period != domain.SpendPerMonth && l.Period != domain.SpendTotal) {
			v.Add(domain.MsgAPIKeySpendLimit, domain.TypeValueError, "body", "spend_limit")
		}
	}
	return v.Err()
}

// validScopes: 1 to MaxAPIKeyScopes distinct scopes of 1 to MaxAPIKeyScope
// printable ASCII characters without spaces.
func validScopes(scopes []string) bool {
	if len(scopes) == 0 || len(scopes) > domain.MaxAPIKeyScopes {
		return false
	}
	seen := make(map[string]bool, len(scopes))
	for _, sc := range scopes {
		if sc == "" || len(sc) > domain.MaxAPIKeyScope || seen[sc] {
			return false
		}
		for i := 0; i < len(sc); i++ {
			if sc[i] <= ' ' || sc[i] > '~' {
				return false
			}
		}
		seen[sc] = true
	}
	return true
}

// printable: valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// newID is a key's public id: 16 random bytes in hex.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}
