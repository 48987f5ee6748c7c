-- 0002_web.sql - sign-in flows in progress and signed-in browsers.
-- Both tables are keyed by the SHA-256 of a random value that only the
-- browser holds (the OAuth "state", the session cookie), so a database
-- dump cannot finish a flow or ride a session. Any mailgated sharing
-- this database may finish a flow that another began.

-- One row per /login not yet finished. Deleted by the first /callback
-- that presents its state (single use), or by the purge when expired.
-- The PKCE verifier and the nonce live here, not in the browser.
CREATE TABLE web_login_states (
	state_hash    bytea PRIMARY KEY CHECK (length(state_hash) = 32),
	nonce         text NOT NULL CHECK (length(nonce) BETWEEN 16 AND 128),
	code_verifier text NOT NULL
	              CHECK (code_verifier ~ '^[A-Za-z0-9._~-]{43,128}$'),
	-- Where to go after sign-in: a local path only, never "//host" or
	-- "/\host", never a control character.
	return_to     text CHECK (return_to IS NULL
	              OR (length(return_to) <= 512
	                  AND return_to ~ '^/([^/\\]|$)'
	                  AND return_to !~ '[[:cntrl:]]')),
	created_at    timestamptz NOT NULL DEFAULT now(),
	expires_at    timestamptz NOT NULL,
	CHECK (expires_at > created_at)
);
CREATE INDEX web_login_states_expires ON web_login_states (expires_at);

-- A signed-in browser. Ends at expires_at (absolute) or when idle for
-- longer than [http] session_idle; sign-out deletes the row. Removing an
-- identity link ends the sessions it opened.
CREATE TABLE web_sessions (
	id_hash       bytea PRIMARY KEY CHECK (length(id_hash) = 32),
	mailbox_id    bigint NOT NULL REFERENCES mailboxes (id),
	identity_id   bigint REFERENCES identities (id) ON DELETE CASCADE,
	mfa           boolean NOT NULL DEFAULT false,
	notice        text CHECK (length(notice) <= 1024),
	created_at    timestamptz NOT NULL DEFAULT now(),
	created_ip    inet,
	last_seen_at  timestamptz NOT NULL DEFAULT now(),
	expires_at    timestamptz NOT NULL
);
CREATE INDEX web_sessions_mailbox ON web_sessions (mailbox_id);
CREATE INDEX web_sessions_identity ON web_sessions (identity_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
