package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
)

// This file wraps lib/pq's connections for two production faults:
//
//   - A frozen server (SIGSTOP, a dead network path that drops packets):
//     lib/pq reacts to a cancelled context by asking the server to cancel,
//     over a new connection, and then keeps waiting for the answer of the
//     frozen server. Here every connection is dialled through a dialer that
//     remembers the net.Conn, and each context-aware call arms a
//     context.AfterFunc that moves the socket's deadline to "now" when the
//     context ends: the blocked read returns at once, lib/pq marks the
//     connection bad and database/sql drops it.
//   - A read-only database: lib/pq begins every transaction with
//     "BEGIN READ WRITE", which overrides an operator's
//     default_transaction_read_only and fails outright on a standby in
//     recovery. Transactions with default options begin with a plain BEGIN.

// cancelDialTimeout bounds the side connections lib/pq opens to send a
// cancel request (and their whole exchange), so a frozen server cannot keep
// them forever.
const cancelDialTimeout = 5 * time.Second

// connHolderKey carries, in the context of one Connect, the slot where the
// dialer leaves the socket it opened.
type connHolderKey struct{}

type connHolder struct {
	mu      sync.Mutex
	nc      net.Conn
	expired bool // the Connect's context ended
}

// set records the dialled socket; when the context already ended, its
// deadline is moved to now at once.
func (h *connHolder) set(nc net.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nc = nc
	if h.expired {
		nc.SetDeadline(time.Now()) //nolint:errcheck // unblocks the handshake
	}
}

// expire moves the socket's deadline to now (and any socket dialled later).
func (h *connHolder) expire() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expired = true
	if h.nc != nil {
		h.nc.SetDeadline(time.Now()) //nolint:errcheck // unblocks the handshake
	}
}

// conn returns the socket dialled last.
func (h *connHolder) conn() net.Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.nc
}

// guardDialer dials TCP (or Unix) sockets for lib/pq.
type guardDialer struct{ d net.Dialer }

func (g *guardDialer) Dial(network, address string) (net.Conn, error) {
	return g.DialContext(context.Background(), network, address)
}

func (g *guardDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return g.DialContext(ctx, network, address)
}

func (g *guardDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	holder, _ := ctx.Value(connHolderKey{}).(*connHolder)
	if holder == nil {
		// A cancel request: bound its dial and its exchange.
		ctx, cancel := context.WithTimeout(ctx, cancelDialTimeout)
		defer cancel()
		nc, err := g.d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		nc.SetDeadline(time.Now().Add(cancelDialTimeout)) //nolint:errcheck // best effort
		return nc, nil
	}
	nc, err := g.d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	holder.set(nc)
	return nc, nil
}

// guardConnector opens lib/pq connections that honour context deadlines
// even against a frozen server.
type guardConnector struct {
	pq *pq.Connector
}

func newGuardConnector(dsn string) (*guardConnector, error) {
	c, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	c.Dialer(&guardDialer{d: net.Dialer{KeepAlive: 30 * time.Second}})
	return &guardConnector{pq: c}, nil
}

// Connect opens one connection; the startup handshake is abandoned when ctx
// ends, whatever the server does.
func (c *guardConnector) Connect(ctx context.Context) (driver.Conn, error) {
	holder := &connHolder{}
	ctx = context.WithValue(ctx, connHolderKey{}, holder)
	stop := context.AfterFunc(ctx, holder.expire)
	conn, err := c.pq.Connect(ctx)
	stopped := stop()
	if err != nil {
		if ctx.Err() != nil {
			return nil, errors.Join(ctx.Err(), err)
		}
		return nil, err
	}
	nc := holder.conn()
	if !stopped || nc == nil {
		conn.Close()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, driver.ErrBadConn
	}
	return &guardConn{Conn: conn, nc: nc}, nil
}

// Driver returns lib/pq's driver.
func (c *guardConnector) Driver() driver.Driver { return c.pq.Driver() }

// guardConn is a lib/pq connection whose context-aware calls cannot outlive
// their context.
type guardConn struct {
	driver.Conn
	nc  net.Conn
	bad atomic.Bool // a deadline fired: the connection is unusable
}

// guard arms the socket for ctx: when ctx ends before done is called, the
// socket's deadline moves to now and the connection is marked bad.
func (c *guardConn) guard(ctx context.Context) (done func()) {
	if ctx.Done() == nil {
		return func() {}
	}
	stop := context.AfterFunc(ctx, func() {
		c.bad.Store(true)
		c.nc.SetDeadline(time.Now()) //nolint:errcheck // unblocks a read or write in progress
	})
	return func() { stop() }
}

// check refuses work on a connection whose deadline fired.
func (c *guardConn) check() error {
	if c.bad.Load() {
		return driver.ErrBadConn
	}
	return nil
}

// BeginTx begins with a plain BEGIN when opts are the defaults, so that the
// server's default_transaction_read_only and recovery state decide.
func (c *guardConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	done := c.guard(ctx) // until Commit or Rollback, which take no context
	var tx driver.Tx
	var err error
	if opts.Isolation == 0 && !opts.ReadOnly {
		tx, err = c.Conn.Begin() //nolint:staticcheck // Begin sends a plain BEGIN; BeginTx adds READ WRITE
	} else {
		tx, err = c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	}
	if err != nil {
		done()
		return nil, err
	}
	return &guardTx{Tx: tx, done: done}, nil
}

// guardTx keeps the transaction's guard armed through Commit or Rollback.
type guardTx struct {
	driver.Tx
	done func()
}

func (t *guardTx) Commit() error {
	defer t.done()
	return t.Tx.Commit()
}

func (t *guardTx) Rollback() error {
	defer t.done()
	return t.Tx.Rollback()
}

// PrepareContext prepares a statement under ctx's deadline.
func (c *guardConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	defer c.guard(ctx)()
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &guardStmt{Stmt: st, conn: c}, nil
}

// QueryContext runs a query under ctx's deadline.
func (c *guardConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	done := c.guard(ctx)
	rows, err := c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	if err != nil {
		done()
		return nil, err
	}
	return &guardRows{Rows: rows, done: done}, nil
}

// ExecContext runs a statement under ctx's deadline.
func (c *guardConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	defer c.guard(ctx)()
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

// Ping checks the connection under ctx's deadline.
func (c *guardConn) Ping(ctx context.Context) error {
	if err := c.check(); err != nil {
		return err
	}
	defer c.guard(ctx)()
	return c.Conn.(driver.Pinger).Ping(ctx)
}

// ResetSession tells database/sql to drop a connection whose deadline fired.
func (c *guardConn) ResetSession(ctx context.Context) error {
	if err := c.check(); err != nil {
		return err
	}
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

// IsValid reports whether the connection may go back to the pool.
func (c *guardConn) IsValid() bool {
	if c.bad.Load() {
		return false
	}
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// CheckNamedValue defers to lib/pq's argument conversion.
func (c *guardConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// guardStmt is a prepared statement whose executions are guarded like the
// connection's own calls. lib/pq gets a context without cancellation: on a
// cancelled context its statements wait for their cancel request to be
// answered before returning (up to cancelDialTimeout against a frozen
// server), which would hold the request past its deadline. The guard ends
// the call instead, and the connection is dropped; PostgreSQL ends the
// statement's transaction when it sees the connection gone.
type guardStmt struct {
	driver.Stmt
	conn *guardConn
}

func (s *guardStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if err := s.conn.check(); err != nil {
		return nil, err
	}
	defer s.conn.guard(ctx)()
	return s.Stmt.(driver.StmtExecContext).ExecContext(context.WithoutCancel(ctx), args)
}

func (s *guardStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if err := s.conn.check(); err != nil {
		return nil, err
	}
	done := s.conn.guard(ctx)
	rows, err := s.Stmt.(driver.StmtQueryContext).QueryContext(context.WithoutCancel(ctx), args)
	if err != nil {
		done()
		return nil, err
	}
	return &guardRows{Rows: rows, done: done}, nil
}

func (s *guardStmt) CheckNamedValue(nv *driver.NamedValue) error {
	return s.conn.CheckNamedValue(nv)
}

// guardRows keeps the guard armed until the rows are closed: reading them
// reads the socket too.
type guardRows struct {
	driver.Rows
	done func()
	once sync.Once
}

func (r *guardRows) Close() error {
	err := r.Rows.Close()
	r.once.Do(r.done)
	return err
}

// ColumnTypeScanType and friends are not forwarded: sqlx scans by name.
var (
	_ driver.Connector          = (*guardConnector)(nil)
	_ driver.ConnBeginTx        = (*guardConn)(nil)
	_ driver.QueryerContext     = (*guardConn)(nil)
	_ driver.ExecerContext      = (*guardConn)(nil)
	_ driver.ConnPrepareContext = (*guardConn)(nil)
	_ driver.Pinger             = (*guardConn)(nil)
	_ driver.SessionResetter    = (*guardConn)(nil)
	_ driver.Validator          = (*guardConn)(nil)
	_ driver.NamedValueChecker  = (*guardConn)(nil)
)
