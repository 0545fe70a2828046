// Package sql embeds the database migrations: one folder per dialect
// (postgres, sqlite) in rubenv/sql-migrate format.
package sql

import "embed"

// FS holds postgres/*.sql and sqlite/*.sql.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS
