package store

// signInRemains is the one rule "the account can still sign in without the
// way being removed", as an SQL condition: the account (the user id
// expression user) has a password (an empty hash is none,
// domain.NoPassword), a passkey other than exceptPasskey, or a linked
// identity other than exceptIdentity (id expressions; "0" excepts none).
// Deleting a passkey and unlinking an identity both decide with it, in
// their deleting statement, under the user's row lock (lockUser), so that
// concurrent removals of an account's last two ways cannot both succeed.
// A further way to sign in is one more OR'd term here.
func signInRemains(user, exceptPasskey, exceptIdentity string) string {
	return `(EXISTS (SELECT 1 FROM users su WHERE su.id = ` + user + ` AND su.password_hash <> '')
		OR EXISTS (SELECT 1 FROM webauthn_credentials sk WHERE sk.user_id = ` + user + ` AND sk.id <> ` + exceptPasskey + `)
		OR EXISTS (SELECT 1 FROM user_identities si WHERE si.user_id = ` + user + ` AND si.id <> ` + exceptIdentity + `))`
}
