-- Recurring campaigns (campaign/recurrence.h): a series plans its next run; each run is a
-- campaign of its own with the series' id and its number, created once per number.
ALTER TABLE campaigns ADD COLUMN parent_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN run_no INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN next_run_ms INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX campaigns_runs ON campaigns (parent_id, run_no) WHERE parent_id > 0;
