package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
)

// The one write path of the ledger. Every balance change (a use, an add, a
// new hold, a capture, a void, an expiry, the import, a group-committed
// batch) is a ledgerOp, and every list of ledgerOps goes through
// applyLedger: a single request is a batch of one.
//
// The ops are decided by one statement, the same text on both dialects (the
// ops arrive as one JSON argument, so the text is the same for every batch
// size and prepared once): a recursive walk over each account's ops in
// order, from its balance row, that gives each op its outcome and the
// balance after it. sqlAvailableCovers, the available-funds rule, is
// written there and nowhere else. On PostgreSQL the same statement also
// writes everything (balance rows, ledger rows, holds, hold resolutions,
// audit events) as data-modifying WITH clauses, so a single op is one round
// trip; on SQLite the decision is read and the writes follow in the same
// transaction.
//
// Ledger rows are numbered one way: seq is the account's highest seq + 1,
// evaluated as each row is inserted under the balance row's lock (the
// credit_transactions_number trigger on PostgreSQL, which sees rows
// committed while the statement waited for the lock and the rows inserted
// before by the same statement; sqlNextSeq on SQLite, one writer at a time).

// Op kinds.
const (
	opUse     = "use"     // balance − amount; needs available ≥ amount
	opAdd     = "add"     // balance + amount; needs balance + amount ≤ MaxBalance
	opHold    = "hold"    // held + amount; needs available ≥ amount
	opCapture = "capture" // balance − amount, held − the hold's amount
	opRelease = "release" // held − amount (a void or an expiry)
)

// Outcomes.
const (
	outcomeApplied      = "ok"
	outcomeReplay       = "replay"       // the reference was taken before
	outcomeConflict     = "conflict"     // a capture's reference was taken before
	outcomeInsufficient = "insufficient" // available < amount
	outcomeLimit        = "limit"        // balance + amount > MaxBalance
)

// sqlAvailableCovers is the available-funds rule, the only one: the
// available part of the running balance (balance − held) covers the op's
// amount. It is evaluated by the walk of sqlLedgerDecide for every use and
// every new hold; the balance row's CHECK (balance − held ≥ 0) is the
// database's backstop.
func sqlAvailableCovers(balance, held, amount string) string {
	return balance + ` - ` + held + ` >= ` + amount
}

// ledgerOp is one balance change. The exported fields are its JSON form, the
// argument of the decision statement.
type ledgerOp struct {
	K         int        `json:"k"` // place in the batch, 1, 2, …
	N         int        `json:"n"` // place among the ops of its account, 1, 2, …
	UserID    int64      `json:"u"`
	Kind      string     `json:"t"`
	Amount    int64      `json:"a"`           // ledger amount; a hold's or release's amount
	Held      int64      `json:"h"`           // a capture: the hold's amount, released
	Ref       *string    `json:"r"`           // reference_id
	Desc      *string    `json:"d"`           // description
	Admin     bool       `json:"pa"`          // a new hold: placed_by_admin
	ExpiresAt *time.Time `json:"x,omitempty"` // a new hold
	HoldID    int64      `json:"hid"`         // a capture or release: the hold (locked by the caller)
	Status    string     `json:"st"`          // a capture or release: the hold's new status

	audit     *domain.PendingAudit // events to write when the op is applied
	ctx       context.Context      // the audit events' Client
	expiresIn time.Duration        // a new hold

	// Results.
	outcome  string
	balance  int64 // balance after the op (after the ops before it when refused)
	txID     int64 // the ledger row of an applied use, add or capture
	seq      int64
	holdID   int64 // the hold row of an applied new hold
	now      time.Time
	auditIDs []int64
}

// ledgerType is the ledger row's transaction_type of a use, add or capture.
func (op *ledgerOp) ledgerType() domain.TransactionType {
	if op.Kind == opAdd {
		return domain.CreditAdded
	}
	return domain.CreditUsed
}

// writesLedgerRow reports that the op, applied, writes a ledger row.
func (op *ledgerOp) writesLedgerRow() bool {
	return op.Kind == opUse || op.Kind == opAdd || op.Kind == opCapture
}

// transaction is the ledger row an applied op wrote.
func (op *ledgerOp) transaction() *domain.Transaction {
	return &domain.Transaction{ID: op.txID, Seq: op.seq, UserID: op.UserID, Amount: domain.Cents(op.Amount),
		Type: op.ledgerType(), ReferenceID: op.Ref, Description: op.Desc, CreatedAt: op.now,
		NewBalance: domain.Cents(op.balance)}
}

// newHold is the hold row an applied new hold wrote.
func (op *ledgerOp) newHold() *domain.Hold {
	return &domain.Hold{ID: op.holdID, UserID: op.UserID, Amount: domain.Cents(op.Amount), Status: domain.HoldPending,
		PlacedByAdmin: op.Admin, ReferenceID: op.Ref, Description: op.Desc, CreatedAt: op.now, ExpiresAt: *op.ExpiresAt}
}

// The decision, the same text on both dialects after sqlLedgerOps: o is the
// ops, b the balance rows (locked on PostgreSQL), taken the ops whose
// reference is already in the database, w the walk. An op's outcome depends
// on the running state before it (w) and the op (o).
const sqlOutcome = `CASE
		WHEN o.k IN (SELECT k FROM taken) THEN CASE WHEN o.t = 'capture' THEN 'conflict' ELSE 'replay' END
		WHEN o.t IN ('use', 'hold') AND NOT (%s) THEN 'insufficient'
		WHEN o.t = 'add' AND w.bal + o.a > p.max THEN 'limit'
		ELSE 'ok' END`

func sqlLedgerWalk() string {
	outcome := fmt.Sprintf(sqlOutcome, sqlAvailableCovers("w.bal", "w.held", "o.a"))
	return `,
	taken AS (SELECT o.k FROM o WHERE o.r IS NOT NULL AND (CASE WHEN o.t = 'hold'
		THEN (SELECT 1 FROM credit_holds c WHERE c.user_id = o.u AND c.placed_by_admin = o.pa AND c.reference_id = o.r)
		ELSE (SELECT 1 FROM credit_transactions c WHERE c.user_id = o.u AND c.reference_id = o.r
			AND c.transaction_type = CASE WHEN o.t = 'add' THEN 'credit_added' ELSE 'credit_used' END) END) IS NOT NULL),
	w (k, n, u, bal, held, outcome) AS (
		SELECT 0, 0, us.u, COALESCE(b.balance, 0), COALESCE(b.held, 0), ''
		FROM (SELECT DISTINCT u FROM o) us LEFT JOIN b ON b.user_id = us.u
		UNION ALL
		SELECT o.k, o.n, o.u,
			w.bal + CASE WHEN ` + outcome + ` = 'ok' THEN CASE o.t WHEN 'use' THEN -o.a WHEN 'add' THEN o.a
				WHEN 'capture' THEN -o.a ELSE 0 END ELSE 0 END,
			w.held + CASE WHEN ` + outcome + ` = 'ok' THEN CASE o.t WHEN 'hold' THEN o.a WHEN 'capture' THEN -o.h
				WHEN 'release' THEN -o.a ELSE 0 END ELSE 0 END,
			` + outcome + `
		FROM w JOIN o ON o.u = w.u AND o.n = w.n + 1 CROSS JOIN p)`
}

// sqlLedgerSQLite is the decision on SQLite: the ops from json_each, the
// balance rows as they are (one writer at a time).
var sqlLedgerSQLite = `WITH RECURSIVE
	p AS (SELECT CAST(? AS INTEGER) AS max),
	o AS (SELECT CAST(json_extract(value, '$.k') AS INTEGER) AS k, CAST(json_extract(value, '$.n') AS INTEGER) AS n,
		CAST(json_extract(value, '$.u') AS INTEGER) AS u, json_extract(value, '$.t') AS t,
		CAST(json_extract(value, '$.a') AS INTEGER) AS a, CAST(json_extract(value, '$.h') AS INTEGER) AS h,
		json_extract(value, '$.r') AS r, json_extract(value, '$.pa') AS pa FROM json_each(?)),
	b AS (SELECT user_id, balance, held FROM user_credits WHERE user_id IN (SELECT u FROM o))` + sqlLedgerWalk() + `
	SELECT k, outcome, bal, held FROM w WHERE k > 0 ORDER BY k`

// sqlLedgerPostgres is the decision and every write on PostgreSQL, one
// statement. Arguments: now, MaxBalance, the ops (JSON), the audit events
// (JSON). Row ids are drawn from their sequences before the inserts, so
// that each returned id is known to be its op's.
var sqlLedgerPostgres = `WITH RECURSIVE
	p AS (SELECT CAST(? AS timestamptz) AS now, CAST(? AS bigint) AS max),
	o AS MATERIALIZED (SELECT * FROM jsonb_to_recordset(CAST(? AS jsonb)) AS o (k int, n int, u bigint, t text,
		a bigint, h bigint, r text, d text, pa boolean, x timestamptz, hid bigint, st text)),
	b AS MATERIALIZED (SELECT user_id, balance, held FROM user_credits WHERE user_id = ANY (ARRAY(SELECT u FROM o))
		ORDER BY user_id FOR UPDATE)` + sqlLedgerWalk() + `,
	ok AS MATERIALIZED (SELECT o.*, w.bal, w.held FROM w JOIN o ON o.k = w.k WHERE w.outcome = 'ok'),
	fin AS MATERIALIZED (SELECT DISTINCT ON (w.u) w.u, w.bal, w.held FROM w ORDER BY w.u, w.n DESC),
	chg AS MATERIALIZED (SELECT u, bool_or(t IN ('use', 'add', 'capture')) AS moved FROM ok GROUP BY u),
	upd AS (UPDATE user_credits c SET balance = fin.bal, held = fin.held,
			updated_at = CASE WHEN chg.moved THEN p.now ELSE c.updated_at END
		FROM fin JOIN chg ON chg.u = fin.u CROSS JOIN p
		WHERE c.user_id = ANY (ARRAY(SELECT u FROM chg)) AND c.user_id = fin.u RETURNING c.user_id),
	ins AS (INSERT INTO user_credits (user_id, balance, held, updated_at)
		SELECT fin.u, fin.bal, fin.held, p.now FROM fin JOIN chg ON chg.u = fin.u CROSS JOIN p
		WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.user_id = fin.u) RETURNING user_id),
	ti AS MATERIALIZED (SELECT nextval('credit_transactions_id_seq') AS id, s.* FROM
		(SELECT k, u, t, a, r, d, bal FROM ok WHERE t IN ('use', 'add', 'capture') ORDER BY k) s),
	tx AS (INSERT INTO credit_transactions (id, user_id, amount, transaction_type, reference_id, description, balance_after, created_at)
		SELECT ti.id, ti.u, ti.a, CASE WHEN ti.t = 'add' THEN 'credit_added' ELSE 'credit_used' END, ti.r, ti.d, ti.bal, p.now
		FROM ti CROSS JOIN p ORDER BY ti.k RETURNING id, seq),
	hi AS MATERIALIZED (SELECT nextval('credit_holds_id_seq') AS id, s.* FROM
		(SELECT k, u, a, r, d, pa, x FROM ok WHERE t = 'hold' ORDER BY k) s),
	hins AS (INSERT INTO credit_holds (id, user_id, amount, status, reference_id, description, created_at, expires_at, placed_by_admin)
		SELECT hi.id, hi.u, hi.a, 'pending', hi.r, hi.d, p.now, hi.x, hi.pa FROM hi CROSS JOIN p ORDER BY hi.k RETURNING id),
	hres AS (UPDATE credit_holds h SET status = ok.st, captured_amount = CASE WHEN ok.t = 'capture' THEN ok.a END,
			transaction_id = ti.id, resolved_at = p.now
		FROM ok LEFT JOIN ti ON ti.k = ok.k CROSS JOIN p
		WHERE h.id = ANY (ARRAY(SELECT hid FROM ok WHERE t IN ('capture', 'release')))
			AND ok.t IN ('capture', 'release') AND h.id = ok.hid AND h.status = 'pending' RETURNING h.id),
	e AS MATERIALIZED (SELECT nextval('audit_events_id_seq') AS id, s.* FROM (SELECT * FROM jsonb_to_recordset(CAST(? AS jsonb))
		AS e (k int, i int, created_at timestamptz, event text, actor_id bigint, target_id bigint, client_ip text,
			user_agent text, request_id text, details text) WHERE e.k IN (SELECT k FROM ok) ORDER BY e.k, e.i) s),
	aud AS (INSERT INTO audit_events (id, ` + auditInsertColumns + `)
		SELECT e.id, e.created_at, e.event, e.actor_id, e.target_id, e.client_ip, e.user_agent, e.request_id,
			CASE WHEN ti.id IS NULL THEN e.details
				ELSE (CAST(e.details AS jsonb) || jsonb_build_object('transaction_id', ti.id))::text END
		FROM e LEFT JOIN ti ON ti.k = e.k ORDER BY e.id RETURNING id)
	SELECT w.k, w.outcome, w.bal, COALESCE(ti.id, 0) AS tx_id, COALESCE(tx.seq, 0) AS seq, COALESCE(hi.id, 0) AS hold_id,
		COALESCE((SELECT string_agg(CAST(e.id AS text), ',' ORDER BY e.i) FROM e WHERE e.k = w.k), '') AS audit_ids,
		(SELECT count(*) FROM hres) AS resolved, (SELECT count(*) FROM upd) + (SELECT count(*) FROM ins) AS balances
	FROM w LEFT JOIN ti ON ti.k = w.k LEFT JOIN tx ON tx.id = ti.id LEFT JOIN hi ON hi.k = w.k
	WHERE w.k > 0 ORDER BY w.k`

// ledgerAuditRow is an audit event of an op in sqlLedgerPostgres's JSON form.
type ledgerAuditRow struct {
	K         int       `json:"k"`
	I         int       `json:"i"`
	CreatedAt time.Time `json:"created_at"`
	Event     string    `json:"event"`
	ActorID   *int64    `json:"actor_id"`
	TargetID  *int64    `json:"target_id"`
	ClientIP  string    `json:"client_ip"`
	UserAgent string    `json:"user_agent"`
	RequestID string    `json:"request_id"`
	Details   string    `json:"details"`
}

// numberOps gives each op its place in the batch and among its account's.
func numberOps(ops []*ledgerOp) {
	perUser := map[int64]int{}
	for i, op := range ops {
		op.K = i + 1
		perUser[op.UserID]++
		op.N = perUser[op.UserID]
	}
}

// applyLedger decides and writes ops, in order; each op's outcome is in its
// result fields. On PostgreSQL tx may be nil (the statement is then its own
// transaction); on SQLite it must not be. No reference may appear twice in
// ops (see ledgerRounds). An error is the whole batch's: nothing was written.
func (db *DB) applyLedger(ctx context.Context, tx *sqlx.Tx, ops []*ledgerOp) error {
	numberOps(ops)
	now := db.Now()
	for _, op := range ops {
		op.now = now
		if op.Kind == opHold {
			x := now.Add(op.expiresIn).Truncate(time.Microsecond)
			op.ExpiresAt = &x
		}
	}
	raw, err := json.Marshal(ops)
	if err != nil {
		return fmt.Errorf("ledger ops: %w", err)
	}
	if db.Dialect == Postgres {
		return db.applyLedgerPostgres(ctx, tx, ops, now, raw)
	}
	return db.applyLedgerSQLite(ctx, tx, ops, now, raw)
}

// takeAudits takes the op's pending events (stamped now with its Client).
func takeAudits(op *ledgerOp, now time.Time) ([]*domain.AuditEvent, [][]any, error) {
	if op.audit == nil {
		return nil, nil, nil
	}
	events := op.audit.Take()
	rows := make([][]any, 0, len(events))
	client := domain.ClientFrom(op.ctx)
	for _, e := range events {
		row, err := auditValues(e, client, now)
		if err != nil {
			return nil, nil, err
		}
		rows = append(rows, row)
	}
	return events, rows, nil
}

func (db *DB) applyLedgerPostgres(ctx context.Context, tx *sqlx.Tx, ops []*ledgerOp, now time.Time, raw []byte) error {
	var auditRows []ledgerAuditRow
	events := make([][]*domain.AuditEvent, len(ops))
	for i, op := range ops {
		evs, rows, err := takeAudits(op, now)
		if err != nil {
			return err
		}
		events[i] = evs
		for j, e := range evs {
			r := ledgerAuditRow{K: op.K, I: j, CreatedAt: now, Event: e.Event, ClientIP: rows[j][4].(string),
				UserAgent: rows[j][5].(string), RequestID: rows[j][6].(string), Details: rows[j][7].(string)}
			if e.ActorID != 0 {
				r.ActorID = &e.ActorID
			}
			if e.TargetID != 0 {
				r.TargetID = &e.TargetID
			}
			auditRows = append(auditRows, r)
		}
	}
	audits, err := json.Marshal(auditRows)
	if err != nil {
		return fmt.Errorf("ledger audit events: %w", err)
	}
	if auditRows == nil {
		audits = []byte("[]")
	}
	args := []any{now, int64(domain.MaxBalance), string(raw), string(audits)}
	var rows *sqlx.Rows
	if tx == nil {
		st, perr := db.prepared(ctx, sqlLedgerPostgres)
		if perr != nil || st == nil {
			rows, err = db.pool.QueryxContext(ctx, db.pool.Rebind(sqlLedgerPostgres), args...)
		} else {
			rows, err = st.QueryxContext(ctx, args...)
		}
	} else if st, ok := db.stmts.Load(sqlLedgerPostgres); ok {
		rows, err = tx.StmtxContext(ctx, st.(*sqlx.Stmt)).QueryxContext(ctx, args...)
	} else {
		rows, err = tx.QueryxContext(ctx, tx.Rebind(sqlLedgerPostgres), args...)
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	var resolved, balances int64
	i := 0
	for rows.Next() {
		var r struct {
			K        int    `db:"k"`
			Outcome  string `db:"outcome"`
			Bal      int64  `db:"bal"`
			TxID     int64  `db:"tx_id"`
			Seq      int64  `db:"seq"`
			HoldID   int64  `db:"hold_id"`
			AuditIDs string `db:"audit_ids"`
			Resolved int64  `db:"resolved"`
			Balances int64  `db:"balances"`
		}
		if err := rows.StructScan(&r); err != nil {
			return err
		}
		if r.K != i+1 || i >= len(ops) {
			return fmt.Errorf("ledger: result %d for op %d", r.K, i+1)
		}
		op := ops[i]
		op.outcome, op.balance, op.txID, op.seq, op.holdID = r.Outcome, r.Bal, r.TxID, r.Seq, r.HoldID
		resolved, balances = r.Resolved, r.Balances
		if r.AuditIDs != "" {
			for j, s := range strings.Split(r.AuditIDs, ",") {
				var id int64
				if _, err := fmt.Sscan(s, &id); err == nil && j < len(events[i]) {
					events[i][j].ID = id
				}
			}
		}
		i++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if i != len(ops) {
		return fmt.Errorf("ledger: %d results for %d ops", i, len(ops))
	}
	if err := checkResolved(ops, resolved, balances); err != nil {
		return err
	}
	for _, op := range ops { // the events' details as written
		if op.outcome == outcomeApplied && op.txID != 0 && op.audit != nil {
			op.audit.Annotate("transaction_id", op.txID)
		}
	}
	return nil
}

// checkResolved checks that every applied capture and release resolved its
// pending hold, and that a balance row was written when an op was applied.
func checkResolved(ops []*ledgerOp, resolved, balances int64) error {
	var want int64
	applied := false
	for _, op := range ops {
		if op.outcome == outcomeApplied {
			applied = true
			if op.Kind == opCapture || op.Kind == opRelease {
				want++
			}
		}
	}
	if resolved != want {
		return fmt.Errorf("ledger: %d of %d holds resolved", resolved, want)
	}
	if applied && balances == 0 {
		return errors.New("ledger: no balance row written")
	}
	return nil
}

// The writes on SQLite, after the decision.
const (
	sqlLedgerSetBalance = `UPDATE user_credits SET balance = ?, held = ?,
		updated_at = CASE WHEN ? THEN ? ELSE updated_at END WHERE user_id = ?`
	sqlLedgerNewBalance = `INSERT INTO user_credits (user_id, balance, held, updated_at) VALUES (?, ?, ?, ?)`
)

func (db *DB) applyLedgerSQLite(ctx context.Context, tx *sqlx.Tx, ops []*ledgerOp, now time.Time, raw []byte) error {
	rows, err := tx.QueryxContext(ctx, sqlLedgerSQLite, int64(domain.MaxBalance), string(raw))
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	type state struct {
		bal, held int64
		applied   bool
		moved     bool
	}
	final := map[int64]*state{}
	var users []int64
	i := 0
	for rows.Next() {
		var k int
		var outcome string
		var bal, held int64
		if err := rows.Scan(&k, &outcome, &bal, &held); err != nil {
			rows.Close()
			return fmt.Errorf("ledger: %w", err)
		}
		if k != i+1 || i >= len(ops) {
			rows.Close()
			return fmt.Errorf("ledger: result %d for op %d", k, i+1)
		}
		op := ops[i]
		op.outcome, op.balance = outcome, bal
		s := final[op.UserID]
		if s == nil {
			s = &state{}
			final[op.UserID] = s
			users = append(users, op.UserID)
		}
		s.bal, s.held = bal, held
		if outcome == outcomeApplied {
			s.applied = true
			s.moved = s.moved || op.writesLedgerRow()
		}
		i++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if i != len(ops) {
		return fmt.Errorf("ledger: %d results for %d ops", i, len(ops))
	}
	slices.Sort(users)
	for _, u := range users {
		s := final[u]
		if !s.applied {
			continue
		}
		res, err := tx.ExecContext(ctx, sqlLedgerSetBalance, s.bal, s.held, s.moved, now, u)
		if err != nil {
			return fmt.Errorf("ledger: set balance: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("ledger: set balance: %w", err)
		} else if n == 0 {
			if _, err := tx.ExecContext(ctx, sqlLedgerNewBalance, u, s.bal, s.held, now); err != nil {
				return fmt.Errorf("ledger: new balance: %w", err)
			}
		}
	}
	for _, op := range ops {
		if op.outcome != outcomeApplied {
			continue
		}
		if err := db.writeOpSQLite(ctx, tx, op, now); err != nil {
			return err
		}
	}
	return nil
}

// writeOpSQLite writes the rows of one applied op on SQLite.
func (db *DB) writeOpSQLite(ctx context.Context, tx *sqlx.Tx, op *ledgerOp, now time.Time) error {
	if op.writesLedgerRow() {
		err := db.txQueryRow(ctx, tx, sqlInsertTransaction, op.UserID, op.Amount, string(op.ledgerType()),
			op.Ref, op.Desc, op.balance, now, op.UserID).Scan(&op.txID, &op.seq)
		if err != nil {
			return fmt.Errorf("insert transaction: %w", err)
		}
	}
	switch op.Kind {
	case opHold:
		err := db.txQueryRow(ctx, tx, sqlInsertHold, op.UserID, op.Amount, op.Ref, op.Desc, now, *op.ExpiresAt,
			op.Admin).Scan(&op.holdID)
		if err != nil {
			return fmt.Errorf("insert hold: %w", err)
		}
	case opCapture, opRelease:
		var captured *int64
		var txID *int64
		if op.Kind == opCapture {
			captured, txID = &op.Amount, &op.txID
		}
		var id int64
		if err := db.txQueryRow(ctx, tx, sqlResolveHold, op.Status, captured, txID, now, op.HoldID).Scan(&id); err != nil {
			return fmt.Errorf("resolve hold %d: %w", op.HoldID, err)
		}
	}
	if op.audit == nil {
		return nil
	}
	if op.txID != 0 {
		op.audit.Annotate("transaction_id", op.txID)
	}
	events, rows, err := takeAudits(op, now)
	if err != nil {
		return err
	}
	for j, e := range events {
		if err := tx.QueryRowxContext(ctx, sqlInsertAudit+` RETURNING id`, rows[j]...).Scan(&e.ID); err != nil {
			return fmt.Errorf("insert audit event: %w", err)
		}
	}
	return nil
}

// ledgerRounds splits ops into rounds in which no reference appears twice
// (a repeat within a batch is decided after its original is written, by the
// next statement of the same transaction).
func ledgerRounds(ops []*ledgerOp) [][]*ledgerOp {
	type key struct {
		user  int64
		space string
		admin bool
		ref   string
	}
	var rounds [][]*ledgerOp
	var seen []map[key]bool
	for _, op := range ops {
		if op.Ref == nil {
			if len(rounds) == 0 {
				rounds, seen = append(rounds, nil), append(seen, map[key]bool{})
			}
			last := len(rounds) - 1
			rounds[last] = append(rounds[last], op)
			continue
		}
		space := "used"
		switch op.Kind {
		case opAdd:
			space = "added"
		case opHold:
			space = "hold"
		}
		k := key{op.UserID, space, op.Admin && op.Kind == opHold, *op.Ref}
		r := len(rounds) - 1
		if r < 0 || seen[r][k] {
			rounds, seen = append(rounds, nil), append(seen, map[key]bool{})
			r++
		}
		seen[r][k] = true
		rounds[r] = append(rounds[r], op)
	}
	return rounds
}

// ignoreNoRows is nil for sql.ErrNoRows, else err as what failed.
func ignoreNoRows(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	return mapError(fmt.Errorf("%s: %w", what, err))
}
