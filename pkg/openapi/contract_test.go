package openapi

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/getkin/kin-openapi/openapi3"
)

// The document against the HTTP contract (docs/http-api.md): what a client developer relies on.
// (That it lists exactly the routed operations, and that rate-limited routes
// document 429, is tested in pkg/httpapi against the route table.)

// publicOperations need no bearer token (docs/http-api.md: "anyone", refresh
// takes its token in the body, and the operational endpoints).
var publicOperations = []string{
	"POST /auth/register", "POST /auth/login", "POST /auth/password-reset-request",
	"POST /auth/reset-password", "POST /auth/refresh", "GET /healthz", "GET /readyz",
	"POST /auth/verify-email", "POST /auth/verify-email/resend",
	"GET /metrics", "GET /openapi.json", "GET /docs", "GET /docs/{asset}",
	"GET /.well-known/jwks.json", "POST /auth/mfa/challenge",
	"POST /auth/passkeys/login/begin", "POST /auth/passkeys/login/finish",
	"GET /auth/providers", "GET /auth/providers/{name}/start", "GET /auth/providers/{name}/callback",
	"POST /auth/providers/exchange",
	"POST /auth/passkeys/signup/begin", "POST /auth/passkeys/signup/finish",
	"POST /auth/mfa/webauthn/begin", "POST /auth/mfa/webauthn/finish",
}

// serviceOperations are called by other services with a service credential
// (the serviceAuth scheme), not by users.
var serviceOperations = []string{"POST /keys/verify"}

// contractOperations are the endpoints of docs/http-api.md and its operational ones.
var contractOperations = []string{
	"POST /auth/register", "POST /auth/login", "GET /auth/me", "POST /auth/password-reset-request",
	"POST /auth/reset-password", "PUT /auth/users/{username}/password", "PUT /auth/users/{username}/email",
	"DELETE /auth/users/{username}", "POST /auth/refresh", "POST /auth/logout", "GET /auth/users/{username}",
	"GET /credits/balance", "POST /credits/add", "POST /credits/use", "GET /credits/transactions",
	"GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.json", "GET /docs",
}

func loadDoc(t *testing.T) (*openapi3.T, map[string]*openapi3.Operation) {
	t.Helper()
	doc, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if slices.Contains(op.Tags, "oidc") {
				continue // the OpenID Connect provider's: OAuth's conventions (errors, headers), not the API's
			}
			ops[method+" "+path] = op
		}
	}
	return doc, ops
}

func response(op *openapi3.Operation, status int) *openapi3.Response {
	if ref := op.Responses.Status(status); ref != nil {
		return ref.Value
	}
	return nil
}

// contractStatuses are the statuses each endpoint must document.
var contractStatuses = map[string][]int{
	"POST /auth/register":                 {201, 409, 422},
	"POST /auth/login":                    {200, 401, 422},
	"GET /auth/me":                        {200, 401, 403, 404},
	"POST /auth/password-reset-request":   {200, 422},
	"POST /auth/reset-password":           {200, 400, 422},
	"PUT /auth/users/{username}/password": {200, 401, 403, 404, 422},
	"PUT /auth/users/{username}/email":    {200, 400, 401, 403, 404, 422},
	"DELETE /auth/users/{username}":       {200, 401, 403, 404},
	"POST /auth/refresh":                  {200, 401},
	"POST /auth/logout":                   {200, 401},
	"GET /auth/users/{username}":          {200, 401, 403, 404},
	"GET /credits/balance":                {200, 401},
	"POST /credits/add":                   {200, 400, 401, 403, 409, 422},
	"POST /credits/use":                   {200, 400, 401, 409, 422},
	"GET /credits/transactions":           {200, 401, 422},
	"GET /readyz":                         {200, 503},
}

func TestContractOperations(t *testing.T) {
	_, ops := loadDoc(t)
	t.Run("every contract endpoint is documented with the contract's statuses", func(t *testing.T) {
		for _, name := range contractOperations {
			op := ops[name]
			if op == nil {
				t.Errorf("%s is not documented", name)
				continue
			}
			for _, status := range contractStatuses[name] {
				if response(op, status) == nil {
					t.Errorf("%s does not document %d", name, status)
				}
			}
		}
	})
	t.Run("every response declares X-Request-ID", func(t *testing.T) {
		for name, op := range ops {
			for status, ref := range op.Responses.Map() {
				if h := ref.Value.Headers["X-Request-ID"]; h == nil || !h.Value.Required {
					t.Errorf("%s %s: no required X-Request-ID header", name, status)
				}
			}
		}
	})
	t.Run("JSON bodies document 413, 415 and 422", func(t *testing.T) {
		for name, op := range ops {
			if op.RequestBody == nil || op.RequestBody.Value.Content.Get("application/json") == nil {
				continue
			}
			for _, status := range []int{413, 415, 422} {
				if response(op, status) == nil {
					t.Errorf("%s takes JSON but does not document %d", name, status)
				}
			}
		}
	})
}

func TestContractSecurity(t *testing.T) {
	doc, ops := loadDoc(t)
	if s := doc.Components.SecuritySchemes["bearerAuth"]; s == nil || s.Value.Type != "http" ||
		s.Value.Scheme != "bearer" || s.Value.BearerFormat != "JWT" {
		t.Fatal("no bearerAuth (http bearer JWT) security scheme")
	}
	for name, op := range ops {
		security := doc.Security
		if op.Security != nil {
			security = *op.Security
		}
		public := slices.Contains(publicOperations, name)
		// Bearer auth, or the OAuth2 password flow that yields the same bearer token.
		bearer := len(security) == 2 && security[0]["bearerAuth"] != nil && security[1]["oauth2Password"] != nil
		if slices.Contains(serviceOperations, name) {
			bearer = len(security) == 1 && security[0]["serviceAuth"] != nil
		}
		if public != (len(security) == 0) || !public && !bearer {
			t.Errorf("%s: security %v, public %v", name, security, public)
		}
		r := response(op, http.StatusUnauthorized)
		if !public && (r == nil || r.Headers["WWW-Authenticate"] == nil || !r.Headers["WWW-Authenticate"].Value.Required) {
			t.Errorf("%s: no 401 with a required WWW-Authenticate header", name)
		}
	}
}

func TestContractPasswordFlow(t *testing.T) {
	doc, _ := loadDoc(t)
	s := doc.Components.SecuritySchemes["oauth2Password"]
	if s == nil || s.Value.Type != "oauth2" || s.Value.Flows == nil || s.Value.Flows.Password == nil ||
		s.Value.Flows.Password.TokenURL != "/auth/login" {
		t.Fatal("no OAuth2 password flow with tokenUrl /auth/login")
	}
	login := doc.Components.Schemas["LoginRequest"].Value
	for _, field := range []string{"username", "password"} {
		if ex, _ := login.Properties[field].Value.Example.(string); ex == "" || ex == "string" {
			t.Errorf("login form field %s has no real example (%v)", field, login.Properties[field].Value.Example)
		}
	}
}

func TestContractShapes(t *testing.T) {
	doc, ops := loadDoc(t)
	t.Run("error responses use the error shapes", func(t *testing.T) {
		for name, op := range ops {
			for status, ref := range op.Responses.Map() {
				if status < "400" {
					continue
				}
				want := "#/components/schemas/Error"
				if status == "422" {
					want = "#/components/schemas/ValidationError"
				}
				mt := ref.Value.Content.Get("application/json")
				if mt != nil && status == "409" && strings.HasPrefix(name, "POST /credits/holds/") &&
					mt.Schema.Ref == "#/components/schemas/HoldConflict" {
					continue // the Error shape plus the hold's current state
				}
				if mt == nil || mt.Schema.Ref != want {
					t.Errorf("%s %s: body is not %s", name, status, want)
				}
			}
		}
	})
	t.Run("login takes the OAuth2 form and JSON", func(t *testing.T) {
		content := ops["POST /auth/login"].RequestBody.Value.Content
		if content.Get("application/x-www-form-urlencoded") == nil || content.Get("application/json") == nil {
			t.Fatalf("login body types: %v", slices.Collect(maps.Keys(content)))
		}
	})
	t.Run("parameters are documented", func(t *testing.T) {
		for _, p := range []struct{ op, in, name string }{
			{"GET /auth/me", "query", "user_id"}, {"GET /credits/transactions", "query", "skip"},
			{"GET /credits/transactions", "query", "limit"}, {"DELETE /auth/users/{username}", "query", "password"},
			{"DELETE /auth/users/{username}", "path", "username"}, {"GET /auth/users/{username}", "path", "username"},
			{"PUT /auth/users/{username}/password", "path", "username"}, {"PUT /auth/users/{username}/email", "path", "username"},
		} {
			if ops[p.op].Parameters.GetByInAndName(p.in, p.name) == nil {
				t.Errorf("%s: no %s parameter %q", p.op, p.in, p.name)
			}
		}
	})
	t.Run("the transaction object is the contract's", func(t *testing.T) {
		tx := doc.Components.Schemas["Transaction"].Value
		want := []string{"amount", "created_at", "description", "id", "new_balance", "reference_id", "transaction_type", "user_id"}
		got := slices.Sorted(maps.Keys(tx.Properties))
		if !slices.Equal(got, want) || len(tx.Required) != len(want) {
			t.Fatalf("properties %v, required %v", got, tx.Required)
		}
		amount := tx.Properties["amount"].Value
		if !amount.Type.Is("number") || amount.MultipleOf == nil || *amount.MultipleOf != 0.01 ||
			!tx.Properties["reference_id"].Value.Nullable || !tx.Properties["description"].Value.Nullable ||
			tx.Properties["created_at"].Value.Format != "date-time" ||
			fmt.Sprint(tx.Properties["transaction_type"].Value.Enum) != "[credit_added credit_used]" {
			t.Fatal("transaction fields do not have the contract's types")
		}
	})
}

// The audit endpoint's event filter names every event authsvc records.
func TestAuditEventEnum(t *testing.T) {
	_, ops := loadDoc(t)
	op := ops["GET /admin/audit"]
	if op == nil {
		t.Fatal("no GET /admin/audit")
	}
	p := op.Parameters.GetByInAndName("query", "event")
	if p == nil {
		t.Fatal("no event parameter")
	}
	var documented []string
	for _, v := range p.Schema.Value.Enum {
		documented = append(documented, fmt.Sprint(v))
	}
	slices.Sort(documented)
	recorded := slices.Sorted(slices.Values(domain.AuditEvents))
	if !slices.Equal(documented, recorded) {
		t.Fatalf("the event enum is %v;\nauthsvc records %v", documented, recorded)
	}
}
