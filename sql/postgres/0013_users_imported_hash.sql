-- The password hash a user arrived with from `authsvc user import`. A login
-- rehashes an imported hash to auth.bcrypt_cost, and a re-run of the same
-- import must still recognise the account as the one it created; an account
-- someone registered under the same username and email has none, and gets
-- neither the imported hash nor the imported balance.
--
-- users_password_cost_idx lets serve read the highest bcrypt cost in use
-- (the two digits after "$2b$") at start-up without reading the table.

-- +migrate Up
ALTER TABLE users ADD COLUMN imported_password_hash TEXT;
CREATE INDEX users_password_cost_idx ON users (substr(password_hash, 5, 2));

-- +migrate Down
DROP INDEX users_password_cost_idx;
ALTER TABLE users DROP COLUMN imported_password_hash;
