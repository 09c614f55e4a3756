-- Risk alerts. A figure is one number a rule watches, per taxpayer and month: the tax due of a
-- month's VAT return, the invoices of a month's copy report — the latest stage that reported it
-- wins (a corrected return replaces the first). An alert is raised once per taxpayer, rule and
-- period: the insert that creates it is the claim, in the transaction that records its event.
CREATE TABLE figures (
  taxpayer_id  TEXT NOT NULL,
  name         TEXT NOT NULL,               -- "<request kind>.<output>", e.g. filing.vat.tax_due
  period       TEXT NOT NULL,               -- YYYY-MM
  value        TEXT NOT NULL,               -- as the adapter reported it, e.g. "0.00"
  request_id   TEXT NOT NULL,
  at           BIGINT NOT NULL,
  PRIMARY KEY (taxpayer_id, name, period)
);
CREATE TABLE alerts (
  id           TEXT PRIMARY KEY,            -- taxpayer/rule/period
  taxpayer_id  TEXT NOT NULL,
  rule         TEXT NOT NULL,
  period       TEXT NOT NULL,
  text         TEXT NOT NULL,               -- what the taxpayer is told
  detail       TEXT NOT NULL DEFAULT '{}',  -- the figures behind it (JSON)
  raised_at    BIGINT NOT NULL
);
CREATE INDEX alerts_taxpayer ON alerts (taxpayer_id, raised_at);
