-- 0004_auth_failures.sql - failed logins shared by every mailgated.
--
-- One row per client address (kind 'address') or mailbox (kind
-- 'mailbox', lower case) with recent failures. Each mailgated adds its
-- failures in batches about once a second and reads back the totals and
-- the locks other instances set, so a lockout holds on every instance
-- and a guesser gains nothing by spreading attempts over several. Rows
-- whose failures are older than a lockout, and not locked, are deleted
-- by the next batch. "mailgate lockout clear" sets failures to 0 and
-- locked_at to now(): the instances see that as a lifted lock.
CREATE TABLE auth_failures (
	kind text NOT NULL CHECK (kind IN ('address', 'mailbox')),
	key text NOT NULL CHECK (length(key) BETWEEN 1 AND 320),
	failures integer NOT NULL CHECK (failures >= 0),
	last_failed_at timestamptz NOT NULL,
	locked_until timestamptz,
	locked_at timestamptz,
	PRIMARY KEY (kind, key)
);
CREATE INDEX auth_failures_locked_at ON auth_failures (locked_at)
	WHERE locked_at IS NOT NULL;
CREATE INDEX auth_failures_last ON auth_failures (last_failed_at);
