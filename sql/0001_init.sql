-- 0001_init.sql - mailboxes, identity links, app tokens and the audit log.
-- Applied by "mailgate db migrate" inside one transaction under an
-- advisory lock; the runner records it in mailgate_schema_migrations.

-- A mailbox is the unit everything else hangs off. Addresses are stored
-- in their canonical lower-case form; mailboxes are disabled, not deleted,
-- so that tokens and audit rows keep their meaning.
CREATE TABLE mailboxes (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	address     text NOT NULL UNIQUE
	            CHECK (address = lower(address)
	                   AND length(address) BETWEEN 3 AND 254),
	enabled     boolean NOT NULL DEFAULT true,
	created_at  timestamptz NOT NULL DEFAULT now(),
	created_by  text NOT NULL,
	updated_at  timestamptz NOT NULL DEFAULT now()
);

-- An identity at an OpenID provider, (issuer, subject), linked to one
-- mailbox. Never keyed by e-mail: providers let users change it.
CREATE TABLE identities (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	issuer        text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 1024),
	subject       text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
	mailbox_id    bigint NOT NULL REFERENCES mailboxes (id),
	created_at    timestamptz NOT NULL DEFAULT now(),
	created_by    text NOT NULL,
	last_login_at timestamptz,
	UNIQUE (issuer, subject)
);
CREATE INDEX identities_mailbox ON identities (mailbox_id);

-- App tokens. Only an HMAC-SHA256 of the token under a server key that is
-- never stored here; key_id names that key so keys can rotate. scopes is a
-- bit mask: 1 imap, 2 pop3, 4 smtp, 8 submission, 16 sieve.
CREATE TABLE app_tokens (
	id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	public_id         text NOT NULL UNIQUE CHECK (public_id ~ '^[0-9a-z]{12}$'),
	mailbox_id        bigint NOT NULL REFERENCES mailboxes (id),
	key_id            text NOT NULL CHECK (key_id ~ '^[0-9a-f]{8}$'),
	hash              bytea NOT NULL CHECK (length(hash) = 32),
	scopes            integer NOT NULL CHECK (scopes BETWEEN 1 AND 31),
	label             text NOT NULL CHECK (length(label) <= 100),
	created_at        timestamptz NOT NULL DEFAULT now(),
	created_by        text NOT NULL,
	expires_at        timestamptz,
	revoked_at        timestamptz,
	revoked_by        text,
	revoke_reason     text,
	last_used_at      timestamptz,
	last_used_ip      inet,
	last_used_service text,
	CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX app_tokens_mailbox ON app_tokens (mailbox_id);

-- Every change, in the transaction that made it. Append-only: the
-- trigger below refuses UPDATE, DELETE and TRUNCATE.
CREATE TABLE audit_log (
	id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at       timestamptz NOT NULL DEFAULT now(),
	actor    text NOT NULL,
	action   text NOT NULL,
	mailbox  text,
	target   text,
	detail   jsonb
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_mailbox ON audit_log (mailbox, at);

CREATE FUNCTION mailgate_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION mailgate_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION mailgate_audit_append_only();

-- Cache invalidation for every mailgated sharing this database: a
-- revoked or changed token, or a mailbox enabled or disabled, is
-- announced on channel "mailgate" as "token:<public_id>" or
-- "mailbox:<address>". NOTIFY is delivered at commit, so a listener
-- never sees a change that was rolled back.
CREATE FUNCTION mailgate_notify_token() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('mailgate', 'token:' || NEW.public_id);
	RETURN NULL;
END
$$;
CREATE TRIGGER app_tokens_notify AFTER UPDATE OF revoked_at, expires_at,
	scopes, hash, key_id, mailbox_id ON app_tokens
	FOR EACH ROW EXECUTE FUNCTION mailgate_notify_token();

CREATE FUNCTION mailgate_notify_mailbox() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('mailgate', 'mailbox:' || NEW.address);
	RETURN NULL;
END
$$;
CREATE TRIGGER mailboxes_notify AFTER UPDATE OF enabled, address
	ON mailboxes FOR EACH ROW EXECUTE FUNCTION mailgate_notify_mailbox();
