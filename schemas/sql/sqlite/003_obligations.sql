-- What a taxpayer must do by a date (file a return, report invoices), and which reminders
-- about it have gone out: a reminder is claimed by setting its time, once, in the transaction
-- that records its event.
CREATE TABLE obligations (
  id                   TEXT PRIMARY KEY,            -- taxpayer/kind/period
  taxpayer_id          TEXT NOT NULL,
  kind                 TEXT NOT NULL,
  period               TEXT NOT NULL,
  due_date             TEXT NOT NULL,               -- YYYY-MM-DD
  met                  INTEGER NOT NULL DEFAULT 0,
  attributes           TEXT NOT NULL DEFAULT '{}',
  created_at           INTEGER NOT NULL,
  met_at               INTEGER NOT NULL DEFAULT 0,
  due_reminded_at      INTEGER NOT NULL DEFAULT 0,
  overdue_reminded_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX obligations_open ON obligations (met, due_date);
CREATE INDEX obligations_taxpayer ON obligations (taxpayer_id, due_date);
