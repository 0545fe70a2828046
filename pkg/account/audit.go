package account

import (
	"context"
	"strconv"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
)

// Audit paging and pruning.
const (
	auditPruneBatch      = 1000
	defaultAuditPageSize = 50
	maxAuditPageSize     = domain.MaxPageLimit
)

// event builds an audit event: actor acted on target (0 for none).
func event(name string, actor, target int64, details map[string]any) *domain.AuditEvent {
	return &domain.AuditEvent{Event: name, ActorID: actor, TargetID: target, Details: details}
}

// audited returns ctx carrying events for the next store call: they are
// written in its transaction.
func audited(ctx context.Context, events ...*domain.AuditEvent) context.Context {
	return domain.WithAudit(ctx, events...)
}

// record writes events that have no change of their own (failed logins);
// a failure is logged, never the caller's.
func (s *Service) record(ctx context.Context, events ...*domain.AuditEvent) {
	if err := s.db.RecordAudit(context.WithoutCancel(ctx), events...); err != nil {
		s.log.Error().Err(err).Str("event", events[0].Event).Msg("audit event not recorded")
	}
}

// cli marks the details of an event the admin CLI caused.
func cli(details map[string]any) map[string]any {
	if details == nil {
		details = map[string]any{}
	}
	details["via"] = "cli"
	return details
}

// Audit lists audit events for an admin (EFORBIDDEN otherwise), newest
// first, keyset-paged by id so that events inserted meanwhile never shift a
// page. EVALIDATION for a bad filter.
func (s *Service) Audit(ctx context.Context, p *domain.Principal, q domain.AuditQuery) (*domain.AuditPage, error) {
	if !p.User.IsAdmin {
		return nil, domain.ErrAdminsOnly
	}
	return s.ListAudit(ctx, q)
}

// ListAudit is Audit without the admin check, for the CLI.
func (s *Service) ListAudit(ctx context.Context, q domain.AuditQuery) (*domain.AuditPage, error) {
	f, err := s.auditFilter(ctx, q)
	if err != nil {
		return nil, err
	}
	events, err := s.db.AuditEvents(ctx, f)
	if err != nil {
		return nil, err
	}
	page := &domain.AuditPage{Events: events}
	if len(events) == f.Limit {
		page.NextCursor = strconv.FormatInt(events[len(events)-1].ID, 10)
	}
	return page, nil
}

// auditFilter validates q, reporting every bad field at once. An unknown
// username matches nothing (its events may outlive it: use its id).
func (s *Service) auditFilter(ctx context.Context, q domain.AuditQuery) (domain.AuditFilter, error) {
	var v domain.Validator
	f := domain.AuditFilter{Event: q.Event, Limit: q.Limit}
	if f.Limit == 0 {
		f.Limit = defaultAuditPageSize
	}
	domain.ValidatePageLimit(&v, f.Limit)
	if q.Event != "" && !knownEvent(q.Event) {
		v.Add(domain.MsgUnknownEvent, domain.TypeLiteralError, "query", "event")
	}
	for _, t := range []struct {
		raw, name string
		dst       *time.Time
	}{{q.Since, "since", &f.Since}, {q.Until, "until", &f.Until}} {
		if t.raw == "" {
			continue
		}
		parsed, err := time.Parse(time.RFC3339, t.raw)
		if err != nil {
			v.Add(domain.MsgDateTime, domain.TypeDatetimeParsing, "query", t.name)
		}
		*t.dst = parsed
	}
	if q.Cursor != "" {
		c, err := strconv.ParseInt(q.Cursor, 10, 64)
		if err != nil || c < 1 {
			v.Add(domain.MsgCursor, domain.TypeIntParsing, "query", "cursor")
		}
		f.Cursor = c
	}
	if err := v.Err(); err != nil {
		return f, err
	}
	if q.User != "" {
		// A username first ("12345" is a valid one); else a numeric id, for
		// the events of a deleted user.
		u, err := s.db.UserByUsername(ctx, q.User)
		id, idErr := strconv.ParseInt(q.User, 10, 64)
		switch {
		case err == nil:
			f.UserID = u.ID
		case !isCode(err, domain.ENOTFOUND):
			return f, err
		case idErr == nil && id > 0:
			f.UserID = id
		default:
			f.UserID = -1 // no such user: no events
		}
	}
	return f, nil
}

func knownEvent(name string) bool {
	for _, e := range domain.AuditEvents {
		if e == name {
			return true
		}
	}
	return false
}

// pruneAudit deletes events older than the retention, in batches, until
// none is left or ctx ends.
func (s *Service) pruneAudit(ctx context.Context) (int64, error) {
	cutoff := s.now().Add(-s.opts.AuditRetention)
	var total int64
	for ctx.Err() == nil {
		n, err := s.db.PruneAudit(ctx, cutoff, auditPruneBatch)
		total += n
		if err != nil || n < auditPruneBatch {
			return total, err
		}
	}
	return total, ctx.Err()
}
