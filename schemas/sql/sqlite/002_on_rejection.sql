-- Stages that run only after an earlier stage rejected the request (telling the taxpayer why).
ALTER TABLE stages ADD COLUMN on_rejection INTEGER NOT NULL DEFAULT 0;
