package apikeys

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
)

// Verify answers POST /keys/verify: whether req.Key may be used (and
// carries req.Scopes), within its own rate limit, and with req.Cost, charges
// its owner through the ledger's one debit path, within the key's spend
// limit. A key that may not be used is a VerifyResult with Valid false and
// a code, never an error; errors are a malformed request (EINVALID) or an
// unavailable database.
func (s *Service) Verify(ctx context.Context, req domain.VerifyRequest) (*domain.VerifyResult, error) {
	amount, err := s.checkVerify(req)
	if err != nil {
		return nil, err
	}
	k, u, code, err := s.lookup(ctx, req.Key)
	if err != nil {
		return nil, err
	}
	if code != "" {
		return &domain.VerifyResult{Code: code}, nil
	}
	res := &domain.VerifyResult{Valid: true, KeyID: k.ID, UserID: u.ID, Username: u.Username, Scopes: k.Scopes}
	for _, sc := range req.Scopes {
		if !k.HasScope(sc) {
			return invalid(res, domain.VerifyMissingScope), nil
		}
	}
	if s.limiter != nil && k.RateLimitPerMinute != nil {
		ok, remaining, reset, err := s.limiter.Allow(ctx, "apikey:"+k.ID, *k.RateLimitPerMinute)
		if err == nil {
			res.RateLimit = &domain.VerifyRateInfo{Remaining: remaining, Reset: int64((reset + time.Second - 1) / time.Second)}
			if !ok {
				return invalid(res, domain.VerifyRateLimited), nil
			}
		}
	}
	if req.Cost == nil {
		return res, nil
	}
	return s.charge(ctx, k, u, req.Cost, amount, res)
}

// checkVerify validates the request's shape; amount is the cost's.
func (s *Service) checkVerify(req domain.VerifyRequest) (domain.Cents, error) {
	var v domain.Validator
	if req.Key == "" {
		v.Add(domain.MsgFieldRequired, domain.TypeMissing, "body", "key")
	}
	var amount domain.Cents
	if c := req.Cost; c != nil {
		a, err := domain.ParseAmount(string(c.Amount))
		var ae *domain.AmountError
		if errors.As(err, &ae) {
			v.Add(ae.Msg, ae.Type, "body", "cost", "amount")
		}
		amount = a
		if c.ReferenceID == "" || len(c.ReferenceID) > domain.MaxReferenceLen {
			v.Add(domain.MsgVerifyCost, domain.TypeValueError, "body", "cost", "reference_id")
		}
		if c.Description != nil && len(*c.Description) > domain.MaxDescriptionLen {
			v.Add(domain.MsgDescriptionTooLong, domain.TypeStringTooLong, "body", "cost", "description")
		}
		if s.ledger == nil {
			return 0, errors.New("apikeys: a verification with a cost needs the ledger")
		}
	}
	if len(req.Scopes) > domain.MaxAPIKeyScopes {
		v.Add(domain.MsgAPIKeyScopes, domain.TypeValueError, "body", "scopes")
	}
	return amount, v.Err()
}

// charge debits the key's owner, counting the charge against the key's
// spend limit first (atomically, per period; a repeated reference counts
// once) and releasing it when the debit does not happen.
func (s *Service) charge(ctx context.Context, k *domain.APIKey, u *domain.User, cost *domain.VerifyCost,
	amount domain.Cents, res *domain.VerifyResult) (*domain.VerifyResult, error) {
	var period time.Time
	reserved := false
	if k.SpendLimit != nil {
		period = k.SpendLimit.PeriodStart(s.now())
		repeat, err := s.db.ReserveAPIKeySpend(ctx, k, cost.ReferenceID, amount, period)
		if errors.Is(err, domain.ErrSpendLimit) {
			return invalid(res, domain.VerifySpendLimit), nil
		} else if err != nil {
			return nil, err
		}
		reserved = !repeat
	}
	ref := cost.ReferenceID
	tx, err := s.ledger.Use(ctx, u.ID, domain.CreditRequest{Amount: string(cost.Amount), ReferenceID: &ref, Description: cost.Description})
	if err != nil {
		if reserved {
			if rerr := s.db.ReleaseAPIKeySpend(context.WithoutCancel(ctx), k, ref, amount, period); rerr != nil {
				s.log.Error().Err(rerr).Str("key_id", k.ID).Msg("api key spend not released after a refused charge")
			}
		}
		if domain.ErrorReason(err) == domain.ReasonInsufficientCredits {
			return invalid(res, domain.VerifyInsufficientCredits), nil
		}
		return nil, err
	}
	balance := tx.NewBalance
	res.Balance = &balance
	return res, nil
}

// invalid turns res into a refusal with code, keeping what identifies the
// key (its owner may want to know which key ran out).
func invalid(res *domain.VerifyResult, code string) *domain.VerifyResult {
	res.Valid, res.Code = false, code
	return res
}

// maxCached bounds the cache; past it, the cache starts over.
const maxCached = 100_000

// cache keeps keys this replica read within domain.APIKeyCacheTTL, by hash.
type cache struct {
	mu      sync.Mutex
	entries map[string]cached
}

type cached struct {
	key  *domain.APIKey
	user *domain.User
	at   time.Time
}

func (c *cache) get(hash string, now time.Time) (*domain.APIKey, *domain.User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok || now.Sub(e.at) >= domain.APIKeyCacheTTL || now.Before(e.at) {
		return nil, nil, false
	}
	return e.key, e.user, true
}

func (c *cache) put(hash string, k *domain.APIKey, u *domain.User, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCached {
		c.entries = map[string]cached{}
	}
	c.entries[hash] = cached{key: k, user: u, at: now}
}

func (c *cache) drop(hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, hash)
}
