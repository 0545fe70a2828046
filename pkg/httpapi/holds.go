package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/authsvc/authsvc/pkg/domain"
)

// holdBody is the body of POST /credits/holds.
type holdBody struct {
	Amount      json.RawMessage `json:"amount"`
	ExpiresIn   *int64          `json:"expires_in"`
	ReferenceID *string         `json:"reference_id"`
	Description *string         `json:"description"`
	Username    *string         `json:"username"`
}

// captureBody is the (optional) body of POST /credits/holds/{id}/capture.
type captureBody struct {
	Amount      json.RawMessage `json:"amount"`
	ReferenceID *string         `json:"reference_id"`
	Description *string         `json:"description"`
}

// holdCreate is POST /credits/holds: 201 with a new hold, 200 with the
// original one for a repeated reference_id.
func (s *Server) holdCreate(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	var body holdBody
	if err := decodeJSON(w, r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	req := domain.HoldRequest{Amount: string(body.Amount), ExpiresIn: body.ExpiresIn,
		ReferenceID: body.ReferenceID, Description: body.Description}
	if body.Username != nil {
		req.Username = *body.Username
	}
	h, created, err := s.deps.Holds.CreateHold(r.Context(), p.User, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, h)
}

// holdList is GET /credits/holds?status=&after=&limit=.
func (s *Server) holdList(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	q := r.URL.Query()
	var v domain.Validator
	req := domain.HoldListRequest{Status: q.Get("status")}
	if q.Has("after") {
		after, _ := queryInt(&v, q.Get("after"), "after")
		req.After = int64(after)
	}
	if q.Has("limit") {
		req.Limit, _ = queryInt(&v, q.Get("limit"), "limit")
		if req.Limit == 0 {
			req.Limit = -1 // an explicit 0 is out of range, not "the default"
		}
	}
	if err := v.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.deps.Holds.ListHolds(r.Context(), p.User, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// holdCapture is POST /credits/holds/{id}/capture; the body may be absent.
func (s *Server) holdCapture(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	id, err := holdID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var body captureBody
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &body); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	req := domain.CaptureRequest{ReferenceID: body.ReferenceID, Description: body.Description}
	if body.Amount != nil {
		req.Amount = string(body.Amount)
		if req.Amount == "" || req.Amount == "null" {
			req.Amount = "null" // present but null: refused, not "the whole hold"
		}
	}
	c, err := s.deps.Holds.CaptureHold(r.Context(), p.User, id, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// holdVoid is POST /credits/holds/{id}/void (no body).
func (s *Server) holdVoid(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	id, err := holdID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h, err := s.deps.Holds.VoidHold(r.Context(), p.User, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// holdID reads the {id} path value: a positive integer, else 422.
func holdID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, domain.ValidationError(domain.FieldError{Loc: []string{"path", "id"},
			Msg: domain.MsgPositiveInteger, Type: domain.TypeIntParsing})
	}
	return id, nil
}
