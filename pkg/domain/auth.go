package domain

import "context"

// AccessToken is a freshly issued access token and its claims.
type AccessToken struct {
	Token  string
	Claims *Claims
	// MFA, when not nil, is a login that needs its second factor: Token and
	// Claims are empty, and POST /auth/mfa/challenge completes it.
	MFA *MFAPending
}

// Registration is a new account (POST /auth/register, `authsvc user create`).
type Registration struct {
	Username string
	Email    string
	Password string
	IsAdmin  bool // honoured by the CLI only; self-registration never makes an admin
	Verified bool // the CLI only: the email counts as verified, no link is sent
}

// PasswordChange is PUT /auth/users/{username}/password.
type PasswordChange struct {
	Username        string // whose password changes
	CurrentPassword string // the caller's own password (an admin's, when acting on another user)
	NewPassword     string
	Code            string // the caller's current TOTP code or a recovery code, when the caller has MFA on
}

// EmailChange is PUT /auth/users/{username}/email.
type EmailChange struct {
	Username        string // whose email changes
	NewEmail        string
	CurrentPassword string // the caller's own password
	Code            string // the caller's current TOTP code or a recovery code, when the caller has MFA on
}

// AuthService is the account use cases (register, login, reset, change,
// delete, refresh, logout) shared by the HTTP API and the CLI. Every method
// returns EVALIDATION (422) listing every bad field, and EUNAVAILABLE when the
// database cannot be reached.
type AuthService interface {
	// Register creates an account, queues the welcome email and logs the new
	// user in. ECONFLICT (Reason username_taken / email_taken) when taken.
	Register(ctx context.Context, r Registration) (*User, *AccessToken, error)
	// Login checks a username and password. EUNAUTHORIZED (Reason
	// invalid_credentials) for an unknown user or a wrong password alike;
	// ERATELIMIT after too many failures for the username.
	Login(ctx context.Context, username, password string) (*AccessToken, error)
	// Me returns the caller (userID 0 or the caller's own id) or, for an
	// admin, the user with userID. EFORBIDDEN, ENOTFOUND.
	Me(ctx context.Context, p *Principal, userID int64) (*User, error)
	// UserDetails returns the named user: self, or anyone for an admin.
	// EFORBIDDEN (whether or not the user exists), ENOTFOUND.
	UserDetails(ctx context.Context, p *Principal, username string) (*User, error)
	// ChangePassword sets a new password; every earlier token of the user dies.
	// EUNAUTHORIZED wrong current password, EFORBIDDEN, ENOTFOUND.
	ChangePassword(ctx context.Context, p *Principal, c PasswordChange) error
	// ChangeEmail sets a new email, queues a notice to the old address and
	// kills every earlier token of the user. EINVALID (Reason email_taken),
	// EUNAUTHORIZED, EFORBIDDEN, ENOTFOUND.
	ChangeEmail(ctx context.Context, p *Principal, c EmailChange) (*User, error)
	// DeleteAccount deletes the named user after checking the caller's own
	// password (and code, when the caller has MFA on). EUNAUTHORIZED,
	// EFORBIDDEN, ENOTFOUND.
	DeleteAccount(ctx context.Context, p *Principal, username, password, code string) error
	// Refresh revokes a still-valid access token and issues a new one with
	// the same auth_time. EUNAUTHORIZED when the token is invalid, revoked,
	// already refreshed, or its session is older than the maximum.
	Refresh(ctx context.Context, token string) (*AccessToken, error)
	// Logout ends the caller's sessions by scope (LogoutLocal or "" the
	// current one and the presented token, LogoutOthers every other one,
	// LogoutGlobal all). EVALIDATION for another scope.
	Logout(ctx context.Context, p *Principal, scope string) error
	// Sessions lists the caller's live sessions, newest first.
	Sessions(ctx context.Context, p *Principal) ([]*Session, error)
	// EndSession ends one of the caller's sessions. ENOTFOUND (Reason
	// session_not_found) for an unknown id or another user's session.
	EndSession(ctx context.Context, p *Principal, id string) error
	// RequestPasswordReset queues a reset email when an account has that
	// address (at most one per account per interval). It answers the same
	// whether or not the account exists.
	RequestPasswordReset(ctx context.Context, email string) error
	// VerifyEmail uses an email verification link's token: its address
	// becomes the user's verified email. EINVALID (Reason invalid_token) for
	// an unknown, used, expired or other kind of token; EINVALID (Reason
	// email_taken) when a pending new address was taken meanwhile.
	VerifyEmail(ctx context.Context, token string) (*User, error)
	// ResendVerification queues a new verification link when an unverified
	// account has that address (at most one per account per interval). It
	// answers the same whether or not the account exists.
	ResendVerification(ctx context.Context, email string) error
	// Audit lists audit events, newest first, keyset-paged. EFORBIDDEN for a
	// non-admin; EVALIDATION for a bad filter.
	Audit(ctx context.Context, p *Principal, q AuditQuery) (*AuditPage, error)
	// ResetPassword sets a new password with a reset token. EINVALID (Reason
	// invalid_token) for an invalid, expired or used token.
	ResetPassword(ctx context.Context, token, newPassword string) error
}
