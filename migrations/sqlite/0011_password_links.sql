-- One-time links to set a password: an invitation to a new person, or a reset by an admin.
-- Only a hash of the link's token is kept; a link works once, for a limited time.
CREATE TABLE password_links (
    id         INTEGER PRIMARY KEY,
    token_hash TEXT   NOT NULL UNIQUE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT   NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_at TEXT   NOT NULL,
    expires_at TEXT   NOT NULL,
    used_at    TEXT
);
CREATE INDEX password_links_user ON password_links (user_id);
