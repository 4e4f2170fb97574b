-- Tokens and people have a lifecycle: a token may expire and be revoked (keeping its name,
-- so the audit log's "token:<name>" stays unambiguous); a person may be disabled. A removed
-- person's row goes, but the ledger and the audit log keep their name as written.
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
ALTER TABLE api_tokens ADD COLUMN revoked_at TEXT;
ALTER TABLE users ADD COLUMN disabled_at TEXT;
