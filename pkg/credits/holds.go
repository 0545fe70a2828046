package credits

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/rs/zerolog"
)

// expiryBatch is how many due holds one sweep transaction resolves.
const expiryBatch = 100

// afterCaptureCommit, when set (only by the failpoint build, see
// failpoint.go), runs after a capture committed and before it is answered.
var afterCaptureCommit func()

// HoldOptions configure a Holds service.
type HoldOptions struct {
	// Logger receives one audit line per hold change.
	Logger zerolog.Logger
	// Metrics is told about every capture (Used) and refused hold or
	// capture; nil means no metrics. When it also implements
	// domain.HoldMetrics it is told about every hold event too.
	Metrics domain.CreditMetrics
	// GroupCommit, when set, creates holds through it (with the debits of
	// the same account, see GroupCommit); nil creates each hold alone.
	GroupCommit *GroupCommit
}

// Holds implements domain.HoldService (credit holds: reserve, capture,
// void, expire) over a HoldStore. It owns the rules; the store makes each
// change atomic and exactly-once.
type Holds struct {
	store   domain.HoldStore
	log     zerolog.Logger
	metrics domain.CreditMetrics
	events  domain.HoldMetrics
	group   *GroupCommit
}

var _ domain.HoldService = (*Holds)(nil)

// NewHolds returns the holds service.
func NewHolds(store domain.HoldStore, opts HoldOptions) *Holds {
	m := opts.Metrics
	if m == nil {
		m = NopMetrics{}
	}
	events, ok := m.(domain.HoldMetrics)
	if !ok {
		events = nopHoldMetrics{}
	}
	return &Holds{store: store, log: opts.Logger, metrics: m, events: events, group: opts.GroupCommit}
}

type nopHoldMetrics struct{}

func (nopHoldMetrics) HoldEvent(string) {}

// CreateHold reserves part of the target's available balance; see
// domain.HoldService.
func (s *Holds) CreateHold(ctx context.Context, actor *domain.User, req domain.HoldRequest) (*domain.Hold, bool, error) {
	var v domain.Validator
	amount := amountField(&v, req.Amount)
	ttl := domain.DefaultHoldTTL
	if req.ExpiresIn != nil {
		ttl = time.Duration(*req.ExpiresIn) * time.Second // meaningful only within range
		if *req.ExpiresIn < 1 || *req.ExpiresIn > int64(domain.MaxHoldTTL/time.Second) {
			typ := domain.TypeGreaterThanEqual
			if *req.ExpiresIn > 1 {
				typ = domain.TypeLessThanEqual
			}
			v.Add(domain.MsgExpiresInRange, typ, "body", "expires_in")
		}
	}
	textFields(&v, req.ReferenceID, req.Description)
	if err := v.Err(); err != nil {
		return nil, false, s.refused(err)
	}
	target, err := s.target(ctx, actor, req.Username)
	if err != nil {
		return nil, false, s.refused(err)
	}
	nh := &domain.NewHold{UserID: target, Amount: amount, ReferenceID: req.ReferenceID,
		Description: req.Description, ExpiresIn: ttl, PlacedByAdmin: target != actor.ID}
	var (
		h        *domain.Hold
		replayed bool
	)
	if s.group != nil {
		h, replayed, err = s.group.Hold(ctx, nh)
	} else {
		h, replayed, err = s.store.CreateHold(ctx, nh)
	}
	if err != nil {
		return nil, false, s.refused(err)
	}
	if !replayed {
		s.events.HoldEvent("created")
	}
	s.audit(h, "hold created", replayed)
	return h, !replayed, nil
}

// target decides whose balance a hold reserves: the actor's, or for an
// admin any named user's. A non-admin naming another user is refused
// whether or not that user exists.
func (s *Holds) target(ctx context.Context, actor *domain.User, username string) (int64, error) {
	id, _, err := targetID(ctx, s.store.UserByUsername, actor, username, domain.ErrHoldOtherUser)
	return id, err
}

// owner is the OwnerID of a resolution by actor: admins reach every hold.
func owner(actor *domain.User) int64 {
	if actor.IsAdmin {
		return 0
	}
	return actor.ID
}

// CaptureHold charges a hold; see domain.HoldService.
func (s *Holds) CaptureHold(ctx context.Context, actor *domain.User, id int64, req domain.CaptureRequest) (*domain.HoldCapture, error) {
	var v domain.Validator
	var amount domain.Cents
	if strings.TrimSpace(req.Amount) != "" {
		amount = amountField(&v, req.Amount)
	}
	textFields(&v, req.ReferenceID, req.Description)
	if err := v.Err(); err != nil {
		return nil, s.refused(err)
	}
	c, replayed, err := s.store.CaptureHold(ctx, &domain.HoldResolution{HoldID: id, OwnerID: owner(actor),
		Amount: amount, ReferenceID: req.ReferenceID, Description: req.Description})
	if errors.Is(err, domain.ErrCaptureExceedsHold) {
		return nil, s.refused(domain.ValidationError(domain.CaptureExceedsHoldField()))
	}
	var stateErr *domain.HoldStateError
	if errors.As(err, &stateErr) && stateErr.Hold.Status == domain.HoldExpired && stateErr.Resolved {
		s.events.HoldEvent(string(domain.HoldExpired)) // this capture found it due and resolved it
		s.audit(stateErr.Hold, "hold expired", false)
	}
	if err != nil {
		return nil, s.refused(err)
	}
	if afterCaptureCommit != nil {
		afterCaptureCommit()
	}
	if !replayed {
		s.metrics.Used(c.Transaction.Amount)
		s.events.HoldEvent(string(domain.HoldCaptured))
	}
	s.audit(c.Hold, "hold captured", replayed)
	return c, nil
}

// VoidHold releases one of the actor's holds (any hold for an admin).
func (s *Holds) VoidHold(ctx context.Context, actor *domain.User, id int64) (*domain.Hold, error) {
	return s.void(ctx, &domain.HoldResolution{HoldID: id, OwnerID: owner(actor)})
}

// VoidHoldByID releases any user's hold (the admin CLI).
func (s *Holds) VoidHoldByID(ctx context.Context, id int64) (*domain.Hold, error) {
	return s.void(ctx, &domain.HoldResolution{HoldID: id})
}

func (s *Holds) void(ctx context.Context, r *domain.HoldResolution) (*domain.Hold, error) {
	h, resolved, err := s.store.VoidHold(ctx, r)
	if err != nil {
		return nil, err
	}
	if resolved {
		s.events.HoldEvent(string(h.Status))
	}
	s.audit(h, "hold "+string(h.Status), !resolved)
	return h, nil
}

// ListHolds returns a page of the actor's own holds.
func (s *Holds) ListHolds(ctx context.Context, actor *domain.User, req domain.HoldListRequest) (*domain.HoldPage, error) {
	return s.list(ctx, actor.ID, req)
}

// HoldsByUsername returns a page of the named user's holds (the admin CLI).
func (s *Holds) HoldsByUsername(ctx context.Context, username string, req domain.HoldListRequest) (*domain.HoldPage, error) {
	u, err := s.store.UserByUsername(ctx, username)
	if err != nil {
		return nil, err
	}
	return s.list(ctx, u.ID, req)
}

func (s *Holds) list(ctx context.Context, userID int64, req domain.HoldListRequest) (*domain.HoldPage, error) {
	if err := ValidateHoldList(&req); err != nil {
		return nil, err
	}
	holds, err := s.store.ListHolds(ctx, domain.HoldQuery{UserID: userID, Status: domain.HoldStatus(req.Status),
		After: req.After, Limit: req.Limit + 1})
	if err != nil {
		return nil, err
	}
	page := &domain.HoldPage{Holds: holds}
	if len(holds) > req.Limit {
		page.Holds = holds[:req.Limit]
		next := page.Holds[req.Limit-1].ID
		page.NextAfter = &next
	}
	return page, nil
}

// ValidateHoldList fills in the default limit and reports every bad query
// parameter at once.
func ValidateHoldList(req *domain.HoldListRequest) error {
	var v domain.Validator
	if req.Limit == 0 {
		req.Limit = domain.DefaultHoldLimit
	}
	if req.Status != "" && !domain.HoldStatus(req.Status).Valid() {
		v.Add(domain.MsgHoldStatus, domain.TypeEnum, "query", "status")
	}
	if req.After < 0 {
		v.Add(domain.MsgNotNegative, domain.TypeGreaterThanEqual, "query", "after")
	}
	domain.ValidatePageLimit(&v, req.Limit)
	return v.Err()
}

// ExpireHolds resolves every due pending hold as expired, a batch per
// transaction, and returns how many this call resolved.
func (s *Holds) ExpireHolds(ctx context.Context) (int, error) {
	total := 0
	for {
		ids, err := s.store.ExpireHolds(ctx, expiryBatch)
		total += len(ids)
		if err != nil {
			return total, err
		}
		for _, id := range ids {
			s.events.HoldEvent(string(domain.HoldExpired))
			s.log.Info().Int64("hold_id", id).Msg("hold expired")
		}
		if len(ids) < expiryBatch {
			return total, nil
		}
	}
}

// RunExpiry sweeps due holds every interval until ctx is cancelled. Every
// replica may run it: the store hands each hold to one sweeper.
func (s *Holds) RunExpiry(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.ExpireHolds(ctx); err != nil && ctx.Err() == nil {
			s.log.Error().Err(err).Msg("hold expiry sweep failed")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refused counts a refusal with a domain reason and returns err unchanged.
func (s *Holds) refused(err error) error {
	if code := domain.ErrorCode(err); code != domain.EINTERNAL && code != domain.EUNAVAILABLE {
		s.metrics.Refused(domain.ErrorReason(err))
	}
	return err
}

func (s *Holds) audit(h *domain.Hold, msg string, replayed bool) {
	ev := s.log.Info().Int64("user_id", h.UserID).Int64("hold_id", h.ID).Str("status", string(h.Status)).
		Stringer("amount", h.Amount).Bool("replayed", replayed)
	if h.CapturedAmount != nil {
		ev = ev.Stringer("captured", *h.CapturedAmount)
	}
	ev.Msg(msg)
}
