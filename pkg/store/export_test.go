package store

import (
	"github.com/jmoiron/sqlx"
)

// SQL exposes the pool to the store's own tests (which read and corrupt rows
// directly); nothing outside package store's tests can reach it.
func (db *DB) SQL() *sqlx.DB { return db.pool }

// AvailableCovers is the available-funds rule as specified: the available
// part of a balance row (balance - held) covers the amount.
func AvailableCovers(balance, held, amount int64) bool {
	return balance-held >= amount
}

// SQLAvailableCovers is the available-funds rule of the ledger's walk, over
// columns balance and held and a placeholder for the amount.
var SQLAvailableCovers = sqlAvailableCovers("balance", "held", "?")
