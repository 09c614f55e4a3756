-- taxhub ledger, PostgreSQL. Times are milliseconds since the Unix epoch; 0 means "not yet".

CREATE TABLE requests (
  id           TEXT PRIMARY KEY,
  kind         TEXT NOT NULL,
  taxpayer_id  TEXT NOT NULL,
  attributes   JSONB NOT NULL,
  body         BYTEA NOT NULL,          -- the exact bytes submitted
  fingerprint  TEXT NOT NULL,
  route        TEXT NOT NULL,           -- the route it was planned with
  route_version BIGINT NOT NULL,          -- the route table version (route_tables.version)
  state        TEXT NOT NULL,
  accepted_at  BIGINT NOT NULL,
  updated_at   BIGINT NOT NULL,
  finished_at  BIGINT NOT NULL DEFAULT 0,
  -- The electronic signature, kept so that the proof can be checked again years later.
  signature    BYTEA NOT NULL DEFAULT '',  -- detached, over body exactly
  certificate  BYTEA NOT NULL DEFAULT '',  -- the signer's X.509 certificate, DER
  signer       TEXT NOT NULL DEFAULT '',  -- its subject
  verified_at  BIGINT NOT NULL DEFAULT 0     -- when the hub verified it; 0: unsigned
);
CREATE INDEX requests_taxpayer ON requests (taxpayer_id, accepted_at);
CREATE INDEX requests_state ON requests (state, updated_at);

CREATE TABLE stages (
  request_id    TEXT NOT NULL REFERENCES requests (id),
  idx           INTEGER NOT NULL,
  name          TEXT NOT NULL,
  label         TEXT NOT NULL,
  service       TEXT NOT NULL,
  state         TEXT NOT NULL,
  attempt       INTEGER NOT NULL DEFAULT 0,
  max_attempts  INTEGER NOT NULL,
  token         BIGINT NOT NULL DEFAULT 0,
  time_limit_ms BIGINT NOT NULL,
  ready_at      BIGINT NOT NULL DEFAULT 0,
  started_at    BIGINT NOT NULL DEFAULT 0,
  finished_at   BIGINT NOT NULL DEFAULT 0,
  deadline_at   BIGINT NOT NULL DEFAULT 0,
  lease_until   BIGINT NOT NULL DEFAULT 0,
  lease_owner   TEXT NOT NULL DEFAULT '',
  handler       TEXT NOT NULL DEFAULT '',
  code          TEXT NOT NULL DEFAULT '',
  message       TEXT NOT NULL DEFAULT '',
  outputs       JSONB NOT NULL DEFAULT '{}',
  -- The plan, kept per request so that route reloads never change a request under way.
  queue         TEXT NOT NULL DEFAULT '',    -- human stage: the staff queue
  difficulty    DOUBLE PRECISION NOT NULL DEFAULT 1.0,
  condition     TEXT NOT NULL DEFAULT '',    -- `when`, encoded; empty: always
  initial_backoff_ms  BIGINT NOT NULL,
  backoff_multiplier  DOUBLE PRECISION NOT NULL,
  max_backoff_ms      BIGINT NOT NULL,
  attempt_timeout_ms  BIGINT NOT NULL,    -- the lease of one delivery
  PRIMARY KEY (request_id, idx)
);
-- Claiming scans only ready rows of one service, oldest first.
CREATE INDEX stages_ready ON stages (service, ready_at) WHERE state = 'READY';
CREATE INDEX stages_leased ON stages (lease_until) WHERE state = 'DISPATCHED';
-- Human stages waiting in a staff queue.
CREATE INDEX stages_queued ON stages (queue, ready_at) WHERE state = 'READY' AND queue <> '';

-- The event log: append-only, and a hash chain per hub. Each hub writes its own chain (named
-- by its hub id) so that several hubs never contend for one chain head; each row's hash covers
-- its content and the hash of the row before it in its chain.
CREATE TABLE chains (
  chain       TEXT PRIMARY KEY,          -- the hub id
  algorithm   TEXT NOT NULL,             -- sha256 | sm3
  created_at  BIGINT NOT NULL
);

-- Partitioned by month of `at` (milliseconds since the epoch), so that the log can grow for
-- years while recent months stay small and old ones can be archived whole. Monthly partitions
-- are made ahead of time by taxhub_ensure_event_partitions (the hub calls it at start and
-- every few hours); anything outside them lands in events_default. Uniqueness of
-- (chain, chain_seq) is kept by the chain's single writer and checked by verify-ledger (a
-- partitioned table's unique keys must include the partition key).
CREATE TABLE events (
  seq         BIGSERIAL,
  chain       TEXT NOT NULL REFERENCES chains (chain),
  chain_seq   BIGINT NOT NULL,           -- 1, 2, 3 … within the chain, no gaps
  request_id  TEXT NOT NULL,
  stage       INTEGER NOT NULL,
  type        TEXT NOT NULL,
  at          BIGINT NOT NULL,
  detail      TEXT NOT NULL,
  prev_hash   TEXT NOT NULL,             -- the hash of chain_seq - 1 ('' for the first)
  hash        TEXT NOT NULL,             -- H(prev_hash, chain, chain_seq, request_id, stage, type, at, detail)
  PRIMARY KEY (seq, at)
) PARTITION BY RANGE (at);
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE INDEX events_chain ON events (chain, chain_seq);
CREATE INDEX events_request ON events (request_id, seq);

-- Every route table the hub has planned requests with, by version.
CREATE TABLE route_tables (
  version    BIGSERIAL PRIMARY KEY,
  digest     TEXT NOT NULL UNIQUE,       -- SHA-256 of the text
  source     TEXT NOT NULL,              -- the file it was read from
  text       TEXT NOT NULL,              -- the routes file as loaded
  loaded_at  BIGINT NOT NULL
);

-- Creates the monthly partitions of events for `months` months from the month of `first`.
CREATE FUNCTION taxhub_ensure_event_partitions(first DATE, months INTEGER) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
  month DATE := date_trunc('month', first)::date;
  made INTEGER := 0;
  name TEXT;
BEGIN
  PERFORM pg_advisory_xact_lock(7274824);  -- one hub at a time
  FOR i IN 1..months LOOP
    name := 'events_' || to_char(month, 'YYYYMM');
    IF to_regclass(name) IS NULL THEN
      EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%s) TO (%s)', name,
                     (extract(epoch FROM month) * 1000)::bigint,
                     (extract(epoch FROM month + interval '1 month') * 1000)::bigint);
      made := made + 1;
    END IF;
    month := (month + interval '1 month')::date;
  END LOOP;
  RETURN made;
END $$;

-- Signed statements by a hub that its chain had reached (chain_seq, hash): they make removing
-- the newest rows detectable, and tie the chain to the hub's key.
CREATE TABLE checkpoints (
  chain        TEXT NOT NULL REFERENCES chains (chain),
  chain_seq    BIGINT NOT NULL,
  hash         TEXT NOT NULL,
  at           BIGINT NOT NULL,
  signature    BYTEA NOT NULL,          -- over "chain|chain_seq|hash"
  certificate  BYTEA NOT NULL,          -- the hub's certificate, DER
  PRIMARY KEY (chain, chain_seq)
);

-- The event log is append-only.
CREATE FUNCTION taxhub_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'events are append-only';
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION taxhub_events_append_only();
