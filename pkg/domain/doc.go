// Package domain holds the domain of the authentication service: users,
// token claims, credit transactions, outbound email, the one error type with
// its codes, and the interfaces the adapters (store, token, password, mail)
// implement. It imports nothing from the project and only the standard library.
package domain
