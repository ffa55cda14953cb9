-- Indexes for reads that scanned a whole table on every call (found by counting full-scan
-- steps, sqlite_internal::FullScanSteps; tests/indexed_paths_test.cc keeps them found).

-- A tracked link's click count is read on every click (/t/{token}) and placement stats join
-- clicks to impressions by token: without this both stepped through every click ever made.
CREATE INDEX outreach_clicks_token ON outreach_clicks (token);

-- A manager's follow-ups, newest first.
CREATE INDEX workbench_followups_manager_id ON workbench_followups (manager_id, id);
