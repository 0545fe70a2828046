-- The applications that sign their users in through authsvc (OpenID Connect
-- clients), registered by admins with `authsvc client create`. A
-- confidential client's secret is kept as its SHA-256 only (it is 32 random
-- bytes); a public client (a SPA, a mobile app) has none. The lists are JSON
-- arrays of strings.

-- +migrate Up
CREATE TABLE oidc_clients (
    id                        TEXT    PRIMARY KEY,
    name                      TEXT    NOT NULL,
    secret_hash               TEXT,
    public                    BOOLEAN NOT NULL,
    first_party               BOOLEAN NOT NULL,
    redirect_uris             TEXT    NOT NULL,
    post_logout_redirect_uris TEXT    NOT NULL,
    grants                    TEXT    NOT NULL,
    scopes                    TEXT    NOT NULL,
    created_at                TIMESTAMPTZ NOT NULL,
    updated_at                TIMESTAMPTZ NOT NULL
);

-- +migrate Down
DROP TABLE oidc_clients;
