package store

import (
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
)

// SQL exposes the pool to the store's own tests (which read and corrupt rows
// directly); nothing outside package store's tests can reach it.
func (db *DB) SQL() *sqlx.DB { return db.pool }

// AvailableCovers is batchState.covers for a balance row (balance, held).
func AvailableCovers(balance, held, amount int64) bool {
	st := &batchState{hasRow: true, balance: balance, held: held}
	return st.covers(domain.Cents(amount))
}

// SQLAvailableCovers is the available-funds rule of the single statements.
const SQLAvailableCovers = sqlAvailableCovers
