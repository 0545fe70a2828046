-- Asymmetric token-signing keys shared by every replica (issue 12). The
-- private key is stored sealed (AES-256-GCM under auth.key_encryption_key),
-- never in the clear. HS256 with auth.secret_key is not a row: it always
-- exists while the secret is configured.

-- +migrate Up
CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY,
    alg                TEXT      NOT NULL CHECK (alg IN ('EdDSA', 'ES256', 'RS256')),
    state              TEXT      NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    public_key         BLOB      NOT NULL,
    private_key_sealed BLOB      NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    activated_at       TIMESTAMP,
    retired_at         TIMESTAMP,
    verify_until       TIMESTAMP
);
-- At most one key signs at a time.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';

-- +migrate Down
DROP TABLE signing_keys;
