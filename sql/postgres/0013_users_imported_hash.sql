-- The password hash a user arrived with from `authsvc user import`. A login
-- rehashes an imported hash to auth.bcrypt_cost, and a re-run of the same
-- import must still recognise the account as the one it created; an account
-- someone registered under the same username and email has none, and gets
-- neither the imported hash nor the imported balance.

-- +migrate Up
ALTER TABLE users ADD COLUMN imported_password_hash TEXT;

-- +migrate Down
ALTER TABLE users DROP COLUMN imported_password_hash;
