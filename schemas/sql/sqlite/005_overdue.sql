-- A stage still waiting or under way past its time limit (办结时限) is reported once, as a
-- stage.overdue event: setting overdue_at is the claim, in the transaction that records it.
ALTER TABLE stages ADD COLUMN overdue_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX stages_running_deadline ON stages (deadline_at)
  WHERE overdue_at = 0 AND state IN ('READY', 'DISPATCHED');
