package store

import "github.com/jmoiron/sqlx"

// SQL exposes the pool to the store's own tests (which read and corrupt rows
// directly); nothing outside package store's tests can reach it.
func (db *DB) SQL() *sqlx.DB { return db.pool }
