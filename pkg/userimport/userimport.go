package userimport

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/authsvc/authsvc/pkg/domain"
)

// Options tune an import.
type Options struct {
	// Continue skips bad rows (and rows that conflict with existing users)
	// and reports them, instead of importing nothing.
	Continue bool
	// CreditExisting credits the balance of an existing user with the same
	// username and email whose password differs (see
	// domain.ImportOptions.CreditExisting); without it such a row is a
	// conflict.
	CreditExisting bool
}

// Report is what an import did.
type Report struct {
	domain.ImportResult
	Skipped []domain.ImportRowError `json:"-"` // bad or conflicting rows left out (Continue only)
}

// Import reads users from r (see Parse) and stores them through importer in
// one transaction. Without Continue, the first bad row stops the import with
// an EINVALID error naming its line (a row that conflicts with an existing
// user: ECONFLICT), and nothing is kept.
func Import(ctx context.Context, importer domain.UserImporter, r io.Reader, opts Options) (*Report, error) {
	users, bad, err := Parse(r)
	if err != nil {
		return nil, &domain.Error{Code: domain.EINVALID, Reason: domain.ReasonImportUnreadable, Message: err.Error(), Err: err}
	}
	if len(bad) > 0 && !opts.Continue {
		return nil, &domain.Error{Code: domain.EINVALID, Reason: domain.ReasonImportBadRow, Message: badRows(bad)}
	}
	res, err := importer.ImportUsers(ctx, users, domain.ImportOptions{SkipConflicts: opts.Continue, CreditExisting: opts.CreditExisting})
	var rowErr *domain.ImportRowError
	if errors.As(err, &rowErr) {
		return nil, &domain.Error{Code: domain.ECONFLICT, Reason: domain.ReasonImportConflict,
			Message: rowErr.Error() + "; " + domain.MsgImportConflictNothing}
	}
	if err != nil {
		return nil, err
	}
	rep := &Report{ImportResult: *res}
	rep.Skipped = append(bad, res.Skipped...)
	sortErrors(rep.Skipped)
	return rep, nil
}

// badRows describes the bad rows of a refused import: the first one, and
// how many more.
func badRows(bad []domain.ImportRowError) string {
	msg := bad[0].Error()
	if len(bad) > 1 {
		msg += fmt.Sprintf(" (and %d more bad rows)", len(bad)-1)
	}
	return msg + "; " + domain.MsgImportNothingKept
}
