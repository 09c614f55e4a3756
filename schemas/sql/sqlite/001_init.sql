-- taxhub ledger, SQLite. Times are milliseconds since the Unix epoch; 0 means "not yet".

CREATE TABLE requests (
  id           TEXT PRIMARY KEY,
  kind         TEXT NOT NULL,
  taxpayer_id  TEXT NOT NULL,
  attributes   TEXT NOT NULL,           -- JSON object of strings
  body         BLOB NOT NULL,           -- the exact bytes submitted
  fingerprint  TEXT NOT NULL,
  workflow     TEXT NOT NULL,
  state        TEXT NOT NULL,
  accepted_at  INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  finished_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX requests_taxpayer ON requests (taxpayer_id, accepted_at);

CREATE TABLE stages (
  request_id    TEXT NOT NULL REFERENCES requests (id),
  idx           INTEGER NOT NULL,
  name          TEXT NOT NULL,
  label         TEXT NOT NULL,
  service       TEXT NOT NULL,
  state         TEXT NOT NULL,
  attempt       INTEGER NOT NULL DEFAULT 0,
  max_attempts  INTEGER NOT NULL,
  token         INTEGER NOT NULL DEFAULT 0,
  time_limit_ms INTEGER NOT NULL,
  ready_at      INTEGER NOT NULL DEFAULT 0,
  started_at    INTEGER NOT NULL DEFAULT 0,
  finished_at   INTEGER NOT NULL DEFAULT 0,
  deadline_at   INTEGER NOT NULL DEFAULT 0,
  lease_until   INTEGER NOT NULL DEFAULT 0,
  lease_owner   TEXT NOT NULL DEFAULT '',
  handler       TEXT NOT NULL DEFAULT '',
  code          TEXT NOT NULL DEFAULT '',
  message       TEXT NOT NULL DEFAULT '',
  outputs       TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (request_id, idx)
) WITHOUT ROWID;
-- Claiming scans only ready rows of one service, oldest first.
CREATE INDEX stages_ready ON stages (service, ready_at) WHERE state = 'READY';
CREATE INDEX stages_leased ON stages (lease_until) WHERE state = 'DISPATCHED';

CREATE TABLE events (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id  TEXT NOT NULL,
  stage       INTEGER NOT NULL,
  type        TEXT NOT NULL,
  at          INTEGER NOT NULL,
  detail      TEXT NOT NULL
);
CREATE INDEX events_request ON events (request_id, seq);

-- The event log is append-only.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
