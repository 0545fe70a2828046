package userimport

import (
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
)

const hash = "$2b$04$abcdefghijklmnopqrstuu5ZqTtWvrcOBF9v/7oqLa4uEJ0wr8pHi"

func TestParseWhatPsqlWrites(t *testing.T) {
	in := "\xEF\xBB\xBFid,username,email,hashed_password,is_admin,created_at,credit_balance,updated_at\n" +
		"1,Alice,Alice@Example.com," + hash + ",t,2024-05-01 12:00:00.5+02,100.50,x\n" +
		"2,bob,bob@example.com," + strings.Replace(hash, "$2b$", "$2y$", 1) + ",f,2024-05-01 12:00:00,,x\n" +
		"3,cy,cy@example.com," + hash + ",maybe,yesterday,1.005,x\n"
	users, bad, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := domain.ImportedUser{Line: 2, Username: "Alice", Email: "alice@example.com", PasswordHash: hash, IsAdmin: true,
		CreatedAt: time.Date(2024, 5, 1, 10, 0, 0, 5e8, time.UTC), Balance: 10050}
	if len(users) != 2 || users[0] != want || users[1].Balance != 0 || !users[1].CreatedAt.Equal(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("got %+v", users)
	}
	if len(bad) != 1 || bad[0].Line != 4 {
		t.Fatalf("bad rows %+v", bad)
	}
	for _, w := range []string{`is_admin "maybe" is not true or false`, `created_at "yesterday"`, `balance "1.005"`} {
		if !strings.Contains(bad[0].Err.Error(), w) {
			t.Fatalf("%q lacks %q", bad[0].Err, w)
		}
	}
}

func TestParseRefusesAHeaderWithoutHashes(t *testing.T) {
	_, _, err := Parse(strings.NewReader("username,email\nann,ann@example.com\n"))
	want := `CSV header "username,email" has no password_hash column (want username, email, hashed_password, is_admin, created_at, balance)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v", err)
	}
	if _, _, err := Parse(strings.NewReader("\n  \n")); err == nil {
		t.Fatal("an empty file must be an error")
	}
}

// Every hash that imports compares as a hash at login: a body outside
// bcrypt's base64 (which made every login of the account a 500) and a cost
// above domain.MaxBcryptCost (a cost-31 login takes days) are refused per row.
func TestParseChecksHashesWhole(t *testing.T) {
	body := hash[7:]
	for name, tc := range map[string]struct{ hash, want string }{
		"valid":            {hash, ""},
		"cost 14":          {"$2a$14$" + body, ""},
		"malformed body":   {"$2a$04$" + strings.Repeat("!", 53), "not a bcrypt hash"},
		"one bad char":     {"$2a$04$" + body[:52] + "%", "not a bcrypt hash"},
		"no cost dollar":   {"$2a$04x" + body, "not a bcrypt hash"},
		"cost 3":           {"$2a$03$" + body, "not a bcrypt hash"},
		"cost 15":          {"$2a$15$" + body, "above the highest accepted (14)"},
		"cost 31":          {"$2b$31$" + body, "above the highest accepted (14)"},
		"letters for cost": {"$2b$ab$" + body, "not a bcrypt hash"},
	} {
		t.Run(name, func(t *testing.T) {
			_, bad, err := Parse(strings.NewReader("username,email,hashed_password\nann,ann@example.com," + tc.hash + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == "" && len(bad) != 0:
				t.Fatalf("refused: %+v", bad)
			case tc.want != "" && (len(bad) != 1 || !strings.Contains(bad[0].Error(), tc.want)):
				t.Fatalf("got %+v, want one row error containing %q", bad, tc.want)
			}
		})
	}
}
