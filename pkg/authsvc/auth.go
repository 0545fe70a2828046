package authsvc

// AuthService is the account use cases (register, login, reset, change,
// delete, refresh, logout) shared by the HTTP API and the CLI.
type AuthService interface {
	// Filled in by the auth use cases (issue 3).
}
