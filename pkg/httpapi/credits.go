package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/authsvc/authsvc/pkg/domain"
)

// creditBody is the body of POST /credits/use. The amount is kept as the raw
// JSON text so that it is parsed exactly (never through float64) and a
// string, null or missing amount can be told apart.
type creditBody struct {
	Amount      json.RawMessage `json:"amount"`
	ReferenceID *string         `json:"reference_id"`
	Description *string         `json:"description"`
}

// addBody is the body of POST /credits/add: a use body plus the optional
// beneficiary (admins only).
type addBody struct {
	creditBody
	Username *string `json:"username"`
	Code     string  `json:"code"` // an admin's second-factor code, when the admin has MFA on
}

func (b *creditBody) request() domain.CreditRequest {
	return domain.CreditRequest{Amount: string(b.Amount), ReferenceID: b.ReferenceID, Description: b.Description}
}

// creditBalance is GET /credits/balance.
func (s *Server) creditBalance(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	b, err := s.deps.Credits.Balance(r.Context(), p.User.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// creditAdd is POST /credits/add.
func (s *Server) creditAdd(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	var body addBody
	if err := decodeJSON(w, r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	req := body.request()
	if body.Username != nil {
		req.Username = *body.Username
	}
	req.Code = body.Code
	tx, err := s.deps.Credits.Add(r.Context(), p.User, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tx)
}

// creditUse is POST /credits/use.
func (s *Server) creditUse(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	var body creditBody
	if err := decodeJSON(w, r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	tx, err := s.deps.Credits.Use(r.Context(), p.User.ID, body.request())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tx)
}

// creditTransactions is GET /credits/transactions?skip=0&limit=50 or
// ?cursor=…&limit=50.
func (s *Server) creditTransactions(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	q, err := historyQuery(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.deps.Credits.History(r.Context(), p.User.ID, q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// historyQuery reads skip (default 0), limit (default 50) and cursor,
// reporting every bad one at once: not an integer, or out of range.
func historyQuery(values url.Values) (domain.HistoryQuery, error) {
	var v domain.Validator
	q := domain.HistoryQuery{Limit: domain.DefaultHistoryLimit, Cursor: values.Get("cursor")}
	if values.Has("skip") {
		if n, ok := queryInt(&v, values.Get("skip"), "skip"); ok {
			q.Skip = n
		}
	}
	if values.Has("limit") {
		if n, ok := queryInt(&v, values.Get("limit"), "limit"); ok {
			q.Limit = n
		}
	}
	q.Validate(&v)
	return q, v.Err()
}

func queryInt(v *domain.Validator, text, name string) (int, bool) {
	n, err := strconv.Atoi(text)
	if err != nil {
		v.Add(domain.MsgNotAnInteger, domain.TypeIntParsing, "query", name)
		return 0, false
	}
	return n, true
}
