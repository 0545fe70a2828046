package store_test

import (
	"testing"

	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// TestAvailableFundsRuleAgrees: the available-funds rule of the single
// statements (a use, a new hold), evaluated by the database, and the
// batch's rule in Go accept exactly the same (balance, held, amount),
// including the edges (amount equal to the available part, one more).
func TestAvailableFundsRuleAgrees(t *testing.T) {
	cases := []struct{ balance, held, amount int64 }{
		{0, 0, 1}, {1, 0, 1}, {1, 0, 2}, {5_00, 2_00, 3_00}, {5_00, 2_00, 3_01},
		{5_00, 5_00, 1}, {10_00, 0, 10_00}, {10_00, 9_99, 1}, {10_00, 9_99, 2},
	}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		q := db.SQL().Rebind(`SELECT COUNT(*) FROM (SELECT CAST(? AS BIGINT) AS balance, CAST(? AS BIGINT) AS held) r
			WHERE ` + store.SQLAvailableCovers)
		accepted := 0
		for _, c := range cases {
			var n int
			if err := db.SQL().Get(&n, q, c.balance, c.held, c.amount); err != nil {
				t.Fatal(err)
			}
			inSQL, inGo := n == 1, store.AvailableCovers(c.balance, c.held, c.amount)
			if inSQL != inGo {
				t.Errorf("balance %d held %d amount %d: SQL accepts %v, Go %v", c.balance, c.held, c.amount, inSQL, inGo)
			}
			if inGo {
				accepted++
			}
		}
		if accepted == 0 || accepted == len(cases) {
			t.Errorf("%d of %d cases accepted: the cases do not test both outcomes", accepted, len(cases))
		}
	})
}
