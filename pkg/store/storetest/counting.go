package storetest

import (
	"context"
	"database/sql/driver"
	"sync/atomic"
)

// Counter counts the statements a database pool sends: every query and
// exec (prepared or not), BEGIN, COMMIT and ROLLBACK. Preparing a statement
// is not counted: the pool prepares each hot query once per connection.
// Without pipelining, each statement is one round trip to the server.
type Counter struct{ n, tx atomic.Int64 }

// Count returns the statements sent so far.
func (c *Counter) Count() int64 { return c.n.Load() }

// Transactions returns the explicit transactions begun so far.
func (c *Counter) Transactions() int64 { return c.tx.Load() }

func (c *Counter) add() { c.n.Add(1) }

// NewCounter returns a Counter at zero; pass its Wrap as the store's
// Options.WrapDriver (or cmd.BuildOptions.WrapDriver).
func NewCounter() *Counter { return &Counter{} }

// Wrap wraps a database driver so that c counts its statements.
func (c *Counter) Wrap(d driver.Driver) driver.Driver { return countingDriver{d, c} }

type countingDriver struct {
	driver.Driver
	c *Counter
}

func (d countingDriver) Open(name string) (driver.Conn, error) {
	conn, err := d.Driver.Open(name)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, c: d.c}, nil
}

// countingConn forwards every optional interface database/sql looks for.
type countingConn struct {
	driver.Conn
	c *Counter
}

func (cn *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := cn.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = cn.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &countingStmt{Stmt: st, c: cn.c}, nil
}

func (cn *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	cn.c.add()
	cn.c.tx.Add(1)
	var tx driver.Tx
	var err error
	if b, ok := cn.Conn.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		tx, err = cn.Conn.Begin() //nolint:staticcheck // the fallback database/sql uses too
	}
	if err != nil {
		return nil, err
	}
	return countingTx{tx, cn.c}, nil
}

func (cn *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := cn.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip // database/sql prepares it instead: counted there
	}
	cn.c.add()
	return q.QueryContext(ctx, query, args)
}

func (cn *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := cn.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	cn.c.add()
	return e.ExecContext(ctx, query, args)
}

func (cn *countingConn) Ping(ctx context.Context) error {
	if p, ok := cn.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (cn *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := cn.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (cn *countingConn) IsValid() bool {
	if v, ok := cn.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (cn *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := cn.Conn.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

type countingStmt struct {
	driver.Stmt
	c *Counter
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.c.add()
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	return s.Stmt.Exec(values(args)) //nolint:staticcheck // the fallback database/sql uses too
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.c.add()
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	return s.Stmt.Query(values(args)) //nolint:staticcheck // the fallback database/sql uses too
}

func (s *countingStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func values(args []driver.NamedValue) []driver.Value {
	v := make([]driver.Value, len(args))
	for i, a := range args {
		v[i] = a.Value
	}
	return v
}

type countingTx struct {
	driver.Tx
	c *Counter
}

func (t countingTx) Commit() error   { t.c.add(); return t.Tx.Commit() }
func (t countingTx) Rollback() error { t.c.add(); return t.Tx.Rollback() }
