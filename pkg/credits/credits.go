// Package credits holds the credit ledger's use cases (docs/credits.md): request
// validation, who may add, and the metrics and audit log around the store's
// atomic, idempotent balance changes. The HTTP API and the admin CLI both go
// through Service, so there is one code path.
package credits

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/rs/zerolog"
)

// Options configure a Service.
type Options struct {
	// UserSelfAdd lets ordinary users add credits to their own balance
	// (credits.user_self_add; default false).
	UserSelfAdd bool
	// Metrics is told about every outcome; nil means no metrics.
	Metrics domain.CreditMetrics
	// Logger receives one audit line per balance change.
	Logger zerolog.Logger
	// GroupCommit applies concurrent debits of one account together (see
	// GroupCommit; credits.group_commit). It needs a store that is a
	// GroupStore; with any other store it is ignored. Pass the service's
	// GroupCommit() to NewHolds (HoldOptions.GroupCommit) so that new holds
	// of an account join the same queue.
	GroupCommit bool
	// MaxBatch bounds a group commit (credits.group_commit_max_batch);
	// required with GroupCommit.
	MaxBatch int
	// StepUp, when not nil, asks an admin who adds credits for a current
	// second-factor code when the admin has one on.
	StepUp domain.StepUp
}

// Service implements domain.CreditService over a CreditStore.
type Service struct {
	store   domain.CreditStore
	opts    Options
	metrics domain.CreditMetrics
	log     zerolog.Logger
	group   *GroupCommit // nil when group commit is off
}

var _ domain.CreditService = (*Service)(nil)

// New returns the ledger service.
func New(store domain.CreditStore, opts Options) *Service {
	m := opts.Metrics
	if m == nil {
		m = NopMetrics{}
	}
	s := &Service{store: store, opts: opts, metrics: m, log: opts.Logger}
	if bs, ok := store.(GroupStore); ok && opts.GroupCommit {
		s.group = NewGroupCommit(bs, opts.MaxBatch)
		s.group.metrics, _ = m.(domain.GroupCommitMetrics)
	}
	return s
}

// GroupCommit returns the service's group commit, nil when it is off.
func (s *Service) GroupCommit() *GroupCommit { return s.group }

// NopMetrics is the CreditMetrics that records nothing.
type NopMetrics struct{}

// Added does nothing.
func (NopMetrics) Added(domain.Cents) {}

// Used does nothing.
func (NopMetrics) Used(domain.Cents) {}

// Refused does nothing.
func (NopMetrics) Refused(string) {}

// Balance returns the user's balance; ENOTFOUND for an unknown user.
func (s *Service) Balance(ctx context.Context, userID int64) (*domain.Balance, error) {
	return s.store.CreditBalance(ctx, userID)
}

// BalanceByUsername returns the named user's balance; ENOTFOUND for an
// unknown user.
func (s *Service) BalanceByUsername(ctx context.Context, username string) (*domain.Balance, error) {
	u, err := s.store.UserByUsername(ctx, username)
	if err != nil {
		return nil, err
	}
	return s.store.CreditBalance(ctx, u.ID)
}

// Add credits the actor's own account or, for an admin, the account named in
// req.Username. See domain.CreditService for the error codes.
func (s *Service) Add(ctx context.Context, actor *domain.User, req domain.CreditRequest) (*domain.Transaction, error) {
	e, err := s.entry(domain.CreditAdded, req)
	if err != nil {
		return nil, s.refused(err)
	}
	target, err := s.addTarget(ctx, actor, req.Username)
	if err != nil {
		return nil, s.refused(err)
	}
	e.UserID = target
	if actor.IsAdmin && s.opts.StepUp != nil {
		if err := s.opts.StepUp.RequireCode(ctx, actor, req.Code); err != nil {
			return nil, s.refused(err)
		}
	}
	return s.apply(ctx, e, actor.ID)
}

// addTarget decides whose balance an add goes to, or refuses it: the
// self-or-admin rule (domain.SelfOrAdmin), and adding to one's own balance
// needs admin rights unless credits.user_self_add is on.
func (s *Service) addTarget(ctx context.Context, actor *domain.User, username string) (int64, error) {
	id, self, err := targetID(ctx, s.store.UserByUsername, actor, username, domain.ErrAddToOtherUser)
	if self && !actor.IsAdmin && !s.opts.UserSelfAdd {
		return 0, domain.ErrAdminOnlyAdd
	}
	return id, err
}

// targetID decides whose balance a request acts on: the actor's own (self),
// or for an admin any named user's. A non-admin naming another user gets
// refused, whether or not that user exists: they learn nothing.
func targetID(ctx context.Context, byUsername func(context.Context, string) (*domain.User, error),
	actor *domain.User, username string, refused error) (id int64, self bool, err error) {
	switch domain.SelfOrAdmin(actor, username) {
	case domain.AccessSelf:
		return actor.ID, true, nil
	case domain.AccessAdmin:
		u, err := byUsername(ctx, username)
		if err != nil {
			return 0, false, err
		}
		return u.ID, false, nil
	default:
		return 0, false, refused
	}
}

// Use debits the user's account; EINVALID "insufficient_credits" when the
// balance is too small.
func (s *Service) Use(ctx context.Context, userID int64, req domain.CreditRequest) (*domain.Transaction, error) {
	if req.Username != "" {
		return nil, s.refused(domain.ValidationError(domain.FieldError{Loc: []string{"body", "username"},
			Msg: domain.MsgExtraField, Type: domain.TypeExtraForbidden}))
	}
	e, err := s.entry(domain.CreditUsed, req)
	if err != nil {
		return nil, s.refused(err)
	}
	e.UserID = userID
	return s.apply(ctx, e, userID)
}

// Grant credits the named user (the admin CLI), through the same path as Add.
func (s *Service) Grant(ctx context.Context, username, amount, reference, description string) (*domain.Transaction, error) {
	req := domain.CreditRequest{Amount: amount}
	if reference != "" {
		req.ReferenceID = &reference
	}
	if description != "" {
		req.Description = &description
	}
	e, err := s.entry(domain.CreditAdded, req)
	if err != nil {
		return nil, s.refused(err)
	}
	u, err := s.store.UserByUsername(ctx, username)
	if err != nil {
		return nil, s.refused(err)
	}
	e.UserID = u.ID
	return s.apply(ctx, e, 0)
}

// History returns a page of the user's transactions, newest first.
func (s *Service) History(ctx context.Context, userID int64, q domain.HistoryQuery) (*domain.TransactionPage, error) {
	var v domain.Validator
	before := q.Validate(&v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.store.CreditHistory(ctx, userID, q.Skip, q.Limit, before)
}

// entry validates req into a ledger entry, reporting every bad field at once.
func (s *Service) entry(typ domain.TransactionType, req domain.CreditRequest) (*domain.LedgerEntry, error) {
	var v domain.Validator
	e := &domain.LedgerEntry{Type: typ, Amount: amountField(&v, req.Amount), Description: req.Description}
	if req.ReferenceID != nil && *req.ReferenceID != "" {
		e.ReferenceID = req.ReferenceID
	}
	textFields(&v, req.ReferenceID, req.Description)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return e, nil
}

// apply stores e with its audit event (actor 0: the CLI; the store adds the
// ledger row's id, and writes nothing for an idempotent repeat) and reports
// the outcome to the metrics and the log.
func (s *Service) apply(ctx context.Context, e *domain.LedgerEntry, actor int64) (*domain.Transaction, error) {
	name := domain.AuditCreditsUsed
	if e.Type == domain.CreditAdded {
		name = domain.AuditCreditsAdded
	}
	details := map[string]any{"amount": e.Amount.String()}
	if e.ReferenceID != nil {
		details["reference_id"] = *e.ReferenceID
	}
	if actor == 0 {
		details["via"] = "cli"
	}
	ctx = domain.WithAudit(ctx, &domain.AuditEvent{Event: name, ActorID: actor, TargetID: e.UserID, Details: details})
	var (
		tx       *domain.Transaction
		replayed bool
		err      error
	)
	if s.group != nil && e.Type == domain.CreditUsed {
		tx, replayed, err = s.group.Apply(ctx, e)
	} else {
		tx, replayed, err = s.store.ApplyCredit(ctx, e)
	}
	if err != nil {
		return nil, s.refused(err)
	}
	if !replayed {
		if e.Type == domain.CreditAdded {
			s.metrics.Added(e.Amount)
		} else {
			s.metrics.Used(e.Amount)
		}
	}
	s.log.Info().Int64("user_id", tx.UserID).Int64("transaction_id", tx.ID).Str("type", string(tx.Type)).
		Stringer("amount", tx.Amount).Stringer("new_balance", tx.NewBalance).Bool("replayed", replayed).
		Msg("credit transaction")
	return tx, nil
}

// refused counts a refusal with a domain reason and returns err unchanged.
func (s *Service) refused(err error) error {
	if code := domain.ErrorCode(err); code != domain.EINTERNAL && code != domain.EUNAVAILABLE {
		s.metrics.Refused(domain.ErrorReason(err))
	}
	return err
}

// amountField parses an amount into v's errors (see domain.ParseAmount).
func amountField(v *domain.Validator, raw string) domain.Cents {
	amount, err := domain.ParseAmount(raw)
	var ae *domain.AmountError
	if errors.As(err, &ae) {
		v.Add(ae.Msg, ae.Type, "body", "amount")
	}
	return amount
}

// textFields checks the reference_id and description of a credit request
// (add, use, hold, capture): length and NUL.
func textFields(v *domain.Validator, ref, desc *string) {
	if ref != nil && utf8.RuneCountInString(*ref) > domain.MaxReferenceLen {
		v.Add(domain.MsgReferenceTooLong, domain.TypeStringTooLong, "body", "reference_id")
	}
	if desc != nil && utf8.RuneCountInString(*desc) > domain.MaxDescriptionLen {
		v.Add(domain.MsgDescriptionTooLong, domain.TypeStringTooLong, "body", "description")
	}
	for _, f := range []struct {
		name string
		text *string
	}{{"reference_id", ref}, {"description", desc}} {
		if f.text != nil && strings.ContainsRune(*f.text, 0) {
			v.Add(domain.MsgNoNUL, domain.TypeValueError, "body", f.name)
		}
	}
}
