package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/rs/zerolog"
)

// BenchmarkSQLiteHotDebit measures debits (ApplyCredit: conditional update
// + transaction row, one transaction) on one hot account of a SQLite file,
// 16 clients, with synchronous=NORMAL (before: a power cut could roll back
// acknowledged commits) and FULL (the default now). Compare the ops/s.
func BenchmarkSQLiteHotDebit(b *testing.B) {
	for _, sync := range []string{"NORMAL", "FULL"} {
		b.Run(sync, func(b *testing.B) {
			db, err := store.Open("sqlite:"+filepath.Join(b.TempDir(), "authsvc.db"),
				store.Options{MaxOpenConns: 32, MaxIdleConns: 32, Logger: zerolog.Nop(), SQLiteSynchronous: sync})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			ctx := context.Background()
			if _, err := db.MigrateUp(ctx); err != nil {
				b.Fatal(err)
			}
			u := &domain.User{Username: "hot", Email: "hot@example.com", PasswordHash: "x"}
			if err := db.CreateUser(ctx, u); err != nil {
				b.Fatal(err)
			}
			if _, _, err := db.ApplyCredit(ctx, &domain.LedgerEntry{UserID: u.ID, Type: domain.CreditAdded, Amount: domain.MaxAmount}); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := db.ApplyCredit(ctx, &domain.LedgerEntry{UserID: u.ID, Type: domain.CreditUsed, Amount: 1}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}
