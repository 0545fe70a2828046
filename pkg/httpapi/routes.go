package httpapi

import (
	"net/http"

	"github.com/authsvc/authsvc/pkg/domain"
)

// RouteClass groups routes by how they are rate limited (docs/operations.md, Rate limits).
type RouteClass int

// The route classes.
const (
	ClassDefault RouteClass = iota // 1000 per minute per client IP by default
	ClassAuth                      // 100 per minute: credential-handling endpoints
	ClassExempt                    // health, readiness and metrics: never limited
	// ClassVerify is POST /keys/verify: a product's backend calls it for
	// every request it serves, so only failed verifications (a key not
	// found, expired or revoked) count, against the ClassAuth limit per
	// client IP; past it, every verification from that IP is 429 until the
	// limit allows again.
	ClassVerify
)

// Route is one entry of the route table.
type Route struct {
	Method  string // GET, POST, PUT, DELETE
	Pattern string // a ServeMux path pattern, e.g. /auth/users/{username}
	Class   RouteClass
	Handler http.HandlerFunc
}

// Routes is the API's one route table.
func (s *Server) Routes() []Route {
	return []Route{
		{"POST", "/auth/register", ClassAuth, s.register},
		{"POST", "/keys/verify", ClassVerify, s.verifyKey},
		{"POST", "/auth/login", ClassAuth, s.login},
		{"GET", "/auth/me", ClassDefault, s.keyed(domain.ScopeProfileRead, s.me)},
		{"POST", "/auth/password-reset-request", ClassAuth, s.passwordResetRequest},
		{"POST", "/auth/reset-password", ClassAuth, s.resetPassword},
		{"POST", "/auth/verify-email", ClassAuth, s.verifyEmail},
		{"POST", "/auth/verify-email/resend", ClassAuth, s.resendVerification},
		{"PUT", "/auth/users/{username}/password", ClassDefault, s.authed(s.changePassword)},
		{"PUT", "/auth/users/{username}/email", ClassDefault, s.authed(s.changeEmail)},
		{"DELETE", "/auth/users/{username}", ClassDefault, s.authed(s.deleteUser)},
		{"POST", "/auth/refresh", ClassAuth, s.refresh},
		{"POST", "/auth/logout", ClassDefault, s.authed(s.logout)},
		{"GET", "/auth/users/{username}", ClassDefault, s.authed(s.userDetails)},
		{"GET", "/auth/sessions", ClassDefault, s.authed(s.listSessions)},
		{"DELETE", "/auth/sessions/{id}", ClassDefault, s.authed(s.endSession)},
		{"GET", "/admin/audit", ClassDefault, s.authed(s.audit)},
		{"POST", "/auth/mfa/totp", ClassAuth, s.enrolment(s.mfaEnroll)},
		{"POST", "/auth/mfa/totp/verify", ClassAuth, s.enrolment(s.mfaVerify)},
		{"DELETE", "/auth/mfa/totp", ClassAuth, s.enrolment(s.mfaDisable)},
		{"POST", "/auth/mfa/challenge", ClassAuth, s.mfaChallenge},
		{"POST", "/auth/mfa/webauthn/begin", ClassAuth, s.mfaWebAuthnBegin},
		{"POST", "/auth/mfa/webauthn/finish", ClassAuth, s.mfaWebAuthnFinish},
		{"POST", "/auth/api-keys", ClassDefault, s.authed(s.createAPIKey)},
		{"GET", "/auth/api-keys", ClassDefault, s.authed(s.listAPIKeys)},
		{"DELETE", "/auth/api-keys/{id}", ClassDefault, s.authed(s.revokeAPIKey)},
		{"POST", "/auth/passkeys/register/begin", ClassAuth, s.authed(s.passkeyRegisterBegin)},
		{"POST", "/auth/passkeys/register/finish", ClassAuth, s.authed(s.passkeyRegisterFinish)},
		{"POST", "/auth/passkeys/signup/begin", ClassAuth, s.passkeySignUpBegin},
		{"POST", "/auth/passkeys/signup/finish", ClassAuth, s.passkeySignUpFinish},
		{"POST", "/auth/passkeys/login/begin", ClassAuth, s.passkeyLoginBegin},
		{"POST", "/auth/passkeys/login/finish", ClassAuth, s.passkeyLoginFinish},
		{"GET", "/auth/passkeys", ClassDefault, s.authed(s.listPasskeys)},
		{"PATCH", "/auth/passkeys/{id}", ClassDefault, s.authed(s.renamePasskey)},
		{"DELETE", "/auth/passkeys/{id}", ClassDefault, s.authed(s.deletePasskey)},
		{"GET", "/auth/providers", ClassDefault, s.listProviders},
		{"GET", "/auth/providers/{name}/start", ClassAuth, s.providerStart},
		{"GET", "/auth/providers/{name}/callback", ClassAuth, s.providerCallback},
		{"POST", "/auth/providers/exchange", ClassAuth, s.providerExchange},
		{"POST", "/auth/identities/{provider}/start", ClassAuth, s.authed(s.identityLinkStart)},
		{"POST", "/auth/identities/exchange", ClassAuth, s.authed(s.identityLinkExchange)},
		{"GET", "/auth/identities", ClassDefault, s.authed(s.listIdentities)},
		{"DELETE", "/auth/identities/{id}", ClassDefault, s.authed(s.unlinkIdentity)},

		{"GET", "/credits/balance", ClassDefault, s.keyed(domain.ScopeCreditsRead, s.creditBalance)},
		{"POST", "/credits/add", ClassDefault, s.authed(s.creditAdd)},
		{"POST", "/credits/use", ClassDefault, s.keyed(domain.ScopeCreditsUse, s.creditUse)},
		{"GET", "/credits/transactions", ClassDefault, s.keyed(domain.ScopeCreditsRead, s.creditTransactions)},
		{"POST", "/credits/holds", ClassDefault, s.keyed(domain.ScopeCreditsHold, s.holdCreate)},
		{"GET", "/credits/holds", ClassDefault, s.keyed(domain.ScopeCreditsHold, s.holdList)},
		{"POST", "/credits/holds/{id}/capture", ClassDefault, s.keyed(domain.ScopeCreditsHold, s.holdCapture)},
		{"POST", "/credits/holds/{id}/void", ClassDefault, s.keyed(domain.ScopeCreditsHold, s.holdVoid)},

		{"GET", "/healthz", ClassExempt, s.healthz},
		{"GET", "/readyz", ClassExempt, s.readyz},
		{"GET", "/metrics", ClassExempt, s.serveMetrics},
		{"GET", jwksPath, ClassDefault, s.jwks},
		{"GET", "/openapi.json", ClassDefault, s.openapiJSON()},
		{"GET", "/docs", ClassDefault, s.docs()},
		{"GET", "/docs/{asset}", ClassDefault, s.docs()},
	}
}
