package password_test

import (
	"fmt"
	"testing"

	"github.com/authsvc/authsvc/pkg/password"
)

// BenchmarkCompare measures bcrypt compares per second on all cores at the
// production costs; login throughput is judged against it (docs/performance.md).
func BenchmarkCompare(b *testing.B) {
	for _, cost := range []int{10, 12} {
		b.Run(fmt.Sprintf("cost=%d", cost), func(b *testing.B) {
			h, err := password.New(cost)
			if err != nil {
				b.Fatal(err)
			}
			const pw = "a reasonable passphrase"
			hash, err := h.Hash(pw)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := h.Compare(hash, pw); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkIsCommon measures the common-password lookup.
func BenchmarkIsCommon(b *testing.B) {
	h, err := password.New(4)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		h.IsCommon("Some-Unlisted-Password-42")
	}
}

// BenchmarkNew measures loading the common-password list (and the dummy hash at cost 4).
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := password.New(4); err != nil {
			b.Fatal(err)
		}
	}
}
