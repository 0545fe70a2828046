package httpapi

import (
	"net/http"
	"strconv"

	"github.com/authsvc/authsvc/pkg/domain"
)

// GET /admin/audit: the security events, admins only.

type auditResponse struct {
	Events     []*domain.AuditEvent `json:"events"`
	NextCursor *string              `json:"next_cursor"`
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	q := r.URL.Query()
	query := domain.AuditQuery{User: q.Get("user"), Event: q.Get("event"), Since: q.Get("since"),
		Until: q.Get("until"), Cursor: q.Get("cursor")}
	if raw := q.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil {
			s.writeError(w, r, domain.ValidationError(domain.FieldError{Loc: []string{"query", "limit"},
				Msg: domain.MsgNotAnInteger, Type: domain.TypeIntParsing}))
			return
		}
		if n == 0 {
			n = -1 // an explicit 0 is out of range, not the default
		}
		query.Limit = n
	}
	page, err := s.deps.Auth.Audit(r.Context(), p, query)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := auditResponse{Events: page.Events}
	if out.Events == nil {
		out.Events = []*domain.AuditEvent{}
	}
	if page.NextCursor != "" {
		out.NextCursor = &page.NextCursor
	}
	writeJSON(w, http.StatusOK, out)
}
