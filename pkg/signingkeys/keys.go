// Package signingkeys holds the signing-key use cases: generate a key,
// activate it, retire it, list the keys, and keep every replica's in-memory
// keyring in step with the database by polling it. The rules of rotation
// live here; the store keeps rows, package token does the cryptography.
package signingkeys

import (
	"context"
	"errors"
	"fmt"
	"github.com/authsvc/authsvc/pkg/seal"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/token"
)

// Keyring is what the keys are loaded into: the token issuer.
type Keyring interface {
	SetKeys(keys []domain.SigningKey, sealer *seal.Sealer) error
}

// Options configure a Service.
type Options struct {
	// AccessTTL is the access-token lifetime: how long a key keeps verifying
	// after it stops signing.
	AccessTTL time.Duration
	// RefreshInterval is how often every replica re-reads the keys
	// (auth.keys_refresh_interval; required). Changes reach every replica within
	// twice this.
	RefreshInterval time.Duration
	// KeyEncryptionKey seals private keys (at least 32 bytes); nil when not
	// configured, which is allowed while no signing key exists.
	KeyEncryptionKey []byte
	Clock            domain.Clock // nil means time.Now
	Logger           zerolog.Logger
	Metrics          Metrics // nil records nothing
}

// Metrics receives the outcome of every read of the keys (Load and each
// refresh): err is nil on success, and usable says whether this replica can
// sign with the active key (true when none is active).
type Metrics interface {
	KeysRefreshed(err error)
	SigningKeyUsable(usable bool)
}

type nopMetrics struct{}

func (nopMetrics) KeysRefreshed(error)   {}
func (nopMetrics) SigningKeyUsable(bool) {}

// Service runs the signing-key use cases.
type Service struct {
	store   domain.SigningKeyStore
	ring    Keyring
	sealer  *seal.Sealer
	ttl     time.Duration
	refresh time.Duration
	now     domain.Clock
	log     zerolog.Logger
	metrics Metrics
	loaded  atomic.Bool // the keys were read from the database at least once
	// unusable is set while the keys as stored cannot be put in the keyring
	// (the active key does not open here): the replica is not ready.
	unusable atomic.Pointer[domain.Error]
}

// New returns a Service over store that loads keys into ring. It fails when
// a key-encryption key is given but shorter than 32 bytes.
func New(store domain.SigningKeyStore, ring Keyring, opts Options) (*Service, error) {
	s := &Service{store: store, ring: ring, ttl: opts.AccessTTL, refresh: opts.RefreshInterval, now: opts.Clock,
		log: opts.Logger, metrics: opts.Metrics}
	if s.metrics == nil {
		s.metrics = nopMetrics{}
	}
	if s.refresh <= 0 {
		return nil, errors.New("signingkeys: RefreshInterval is required (auth.keys_refresh_interval)")
	}
	if s.now == nil {
		s.now = time.Now
	}
	if len(opts.KeyEncryptionKey) > 0 {
		sealer, err := seal.New(opts.KeyEncryptionKey)
		if err != nil {
			return nil, err
		}
		s.sealer = sealer
	}
	return s, nil
}

// SetMetrics sends the outcome of every read of the keys to m (serve's
// Prometheus metrics). Call it before Load and Run.
func (s *Service) SetMetrics(m Metrics) { s.metrics = m }

// Propagation is how long a change takes to reach every replica at most:
// two refresh intervals.
func (s *Service) Propagation() time.Duration { return 2 * s.refresh }

// ReadyAt is when a next key has been published long enough that every
// replica verifies its tokens, so that it may start signing.
func (s *Service) ReadyAt(k *domain.SigningKey) time.Time { return k.CreatedAt.Add(s.Propagation()) }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func errNoKEK() error { return domain.ErrKEKRequired }

// Generate creates a key for alg (EdDSA, ES256 or RS256) in state next:
// published in JWKS, not yet signing. EINVALID for another alg or without a
// key-encryption key.
func (s *Service) Generate(ctx context.Context, alg string) (*domain.SigningKey, error) {
	if s.sealer == nil {
		return nil, errNoKEK()
	}
	kp, err := token.GenerateKey(alg)
	if err != nil {
		return nil, err
	}
	k := &domain.SigningKey{KID: kp.KID, Alg: kp.Alg, State: domain.KeyNext, PublicKey: kp.PublicDER,
		PrivateKey: s.sealer.Seal(kp.KID, kp.PrivateDER), CreatedAt: s.clock()}
	if err := s.store.CreateSigningKey(keyAudit(ctx, domain.AuditKeyGenerated, k.KID, k.Alg, nil), k); err != nil {
		return nil, err
	}
	return k, nil
}

// keyAudit returns ctx carrying the audit event of a key change, written in
// the change's transaction. Key changes come from the admin CLI.
func keyAudit(ctx context.Context, event, kid, alg string, extra map[string]any) context.Context {
	details := map[string]any{"kid": kid, "alg": alg, "via": "cli"}
	for k, v := range extra {
		details[k] = v
	}
	return domain.WithAudit(ctx, &domain.AuditEvent{Event: event, Details: details})
}

// Activate makes the next key kid sign every new access token. The key that
// signed until now is retired but keeps verifying until no token it signed
// can be valid (now + the access-token lifetime + the propagation time, since
// replicas that have not seen the change yet still sign with it). When kid
// was generated less than Propagation ago, Activate first waits until every
// replica has had time to see it, so that no replica refuses the new tokens.
// ENOTFOUND for an unknown kid; ECONFLICT when it is not a next key; EINVALID
// when its private key does not open with the configured key-encryption key.
func (s *Service) Activate(ctx context.Context, kid string) (*domain.SigningKey, error) {
	k, err := s.key(ctx, kid)
	if err != nil {
		return nil, err
	}
	if k.State != domain.KeyNext {
		return nil, stateConflict(fmt.Sprintf(domain.MsgKeyNotNext, k.KID, k.State))
	}
	if s.sealer == nil {
		return nil, errNoKEK()
	}
	if _, err := s.sealer.Open(k.KID, k.PrivateKey); err != nil {
		return nil, &domain.Error{Code: domain.EINVALID, Reason: domain.ReasonKEKRequired,
			Message: fmt.Sprintf(domain.MsgKeyWrongKEK, kid), Err: err}
	}
	if wait := s.ReadyAt(k).Sub(s.now()); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	now := s.clock()
	if err := s.store.ActivateSigningKey(keyAudit(ctx, domain.AuditKeyActivated, k.KID, k.Alg, nil), kid, now,
		now.Add(s.ttl+s.Propagation())); err != nil {
		return nil, err
	}
	return s.key(ctx, kid)
}

// Retire stops key kid from verifying. A next key, or a retired key whose
// tokens have all expired, is retired at once. An active key, or a retired
// key whose tokens could still be valid, is refused with ECONFLICT unless
// force: then its tokens are refused from now on (and with the active key
// retired, HS256 with the secret signs again). ENOTFOUND for an unknown kid.
func (s *Service) Retire(ctx context.Context, kid string, force bool) (*domain.SigningKey, error) {
	k, err := s.key(ctx, kid)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	switch {
	case k.State == domain.KeyRetired && !k.Verifies(now):
		return k, nil // nothing left to end
	case k.State == domain.KeyActive && !force:
		return nil, stateConflict(fmt.Sprintf(domain.MsgKeyActiveRetire, k.KID))
	case k.State == domain.KeyRetired && !force:
		return nil, stateConflict(fmt.Sprintf(domain.MsgKeyTokensValid, k.KID, k.VerifyUntil.Format(time.RFC3339)))
	}
	ctx = keyAudit(ctx, domain.AuditKeyRetired, k.KID, k.Alg, map[string]any{"from": string(k.State), "force": force})
	if err := s.store.RetireSigningKey(ctx, kid, k.State, now, now); err != nil {
		return nil, err
	}
	return s.key(ctx, kid)
}

// Get returns the key kid (ENOTFOUND, Reason "key_not_found", when there is
// none).
func (s *Service) Get(ctx context.Context, kid string) (*domain.SigningKey, error) {
	return s.key(ctx, kid)
}

// List returns every key, oldest first.
func (s *Service) List(ctx context.Context) ([]domain.SigningKey, error) {
	return s.store.SigningKeys(ctx)
}

// Load reads the keys into the keyring once. It fails when keys exist but
// no key-encryption key is configured, or the active key does not decrypt.
func (s *Service) Load(ctx context.Context) error {
	err := s.load(ctx, true)
	s.metrics.KeysRefreshed(err)
	return err
}

// load reads the keys into the keyring; strict refuses existing keys
// without a key-encryption key.
func (s *Service) load(ctx context.Context, strict bool) error {
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	if strict && s.sealer == nil {
		for i := range keys {
			if keys[i].Verifies(s.now()) {
				return errNoKEK()
			}
		}
	}
	if err := s.ring.SetKeys(keys, s.sealer); err != nil {
		s.unusable.Store(&domain.Error{Code: domain.EUNAVAILABLE, Reason: domain.ReasonSigningKeyUnusable,
			Message: fmt.Sprintf(domain.MsgKeyUnusable, err), Err: err})
		s.metrics.SigningKeyUsable(false)
		return err
	}
	s.unusable.Store(nil)
	s.metrics.SigningKeyUsable(true)
	s.loaded.Store(true)
	return nil
}

// Usable returns nil when this replica signs with the active key as stored
// at the last read (or none is active), else an EUNAVAILABLE error
// (ReasonSigningKeyUnusable) that says why and what to set: the keys in
// use are then older than the database's, and the replica is not ready.
func (s *Service) Usable() error {
	if e := s.unusable.Load(); e != nil {
		return e
	}
	return nil
}

// Loaded reports whether the keys have been read from the database at least
// once (by Load or Run). Until then the secret signs and verifies alone, so
// a replica is not ready: it would refuse the active key's tokens.
func (s *Service) Loaded() bool { return s.loaded.Load() }

// IsConfigError reports whether an error of Load is a configuration problem
// (no key-encryption key, or one that does not open the active key) rather
// than the database's (unreachable, not migrated yet), which a later refresh
// may cure.
func IsConfigError(err error) bool {
	return errors.Is(err, domain.ErrKEKRequired) || errors.Is(err, seal.ErrWrongKey)
}

// Run re-reads the keys every refresh interval until ctx ends, so that every
// replica picks up a change without a restart. A failure is logged (once
// until it recovers) and the keys in use stay; a key this replica cannot
// use is logged at every refresh, as it makes the replica not ready.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.refresh)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.load(ctx, false)
		if ctx.Err() != nil {
			return
		}
		s.metrics.KeysRefreshed(err)
		switch {
		case err != nil && s.Usable() != nil:
			s.log.Error().Err(err).Msg(s.Usable().Error())
			failing = true
		case err != nil && !failing:
			s.log.Error().Err(err).Msg("signing keys not refreshed; the keys in use stay")
			failing = true
		case err == nil && failing:
			s.log.Info().Msg("signing keys refreshed again")
			failing = false
		}
	}
}

func (s *Service) key(ctx context.Context, kid string) (*domain.SigningKey, error) {
	k, err := s.store.SigningKey(ctx, kid)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, &domain.Error{Code: domain.ENOTFOUND, Reason: domain.ReasonKeyNotFound,
			Message: fmt.Sprintf(domain.MsgKeyNotFound, kid), Err: err}
	}
	return k, err
}

// stateConflict is the ECONFLICT of a key in the wrong state for a change.
func stateConflict(msg string) error {
	return &domain.Error{Code: domain.ECONFLICT, Reason: domain.ReasonKeyState, Message: msg}
}
