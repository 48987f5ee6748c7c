-- 0003_login_bound.sql - a bound on sign-ins in progress per client address.
--
-- The client address that asked for /login. Each address may have a
-- bounded number of flows in progress (checked at insert, see
-- web_store.c), so anonymous requests cannot fill web_login_states.
-- Rows written before this migration have no address and count for
-- nobody; they expire within ten minutes.
ALTER TABLE web_login_states ADD COLUMN created_ip inet;
CREATE INDEX web_login_states_ip ON web_login_states (created_ip, expires_at);
