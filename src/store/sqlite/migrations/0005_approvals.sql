-- Maker-checker (auth/approvals.h): an object submitted for approval and its decision.
-- object_type/object_id name what is to be approved ("audience_export", "12/3"); digest is
-- the submitter's digest of the exact version submitted, so a later change to the object is
-- not covered by the approval. status moves from 'pending' to one of the others exactly once.
-- Actors are Principal::Actor() strings ("user:alice").
CREATE TABLE approvals (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  object_type TEXT NOT NULL,
  object_id TEXT NOT NULL,
  summary TEXT NOT NULL,
  digest TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn')),
  submitted_by TEXT NOT NULL,
  submitted_ms INTEGER NOT NULL,
  decided_by TEXT NOT NULL DEFAULT '',
  decided_ms INTEGER NOT NULL DEFAULT 0,
  comment TEXT NOT NULL DEFAULT '',
  -- Defence in depth for the rule the service enforces: nobody decides their own submission.
  CHECK (status = 'pending' OR status = 'withdrawn' OR decided_by <> submitted_by)
);
CREATE INDEX approvals_by_status ON approvals (status, id);
CREATE INDEX approvals_by_object ON approvals (object_type, object_id, id);
-- One open submission per object and submitter.
CREATE UNIQUE INDEX approvals_one_pending ON approvals (object_type, object_id, submitted_by)
  WHERE status = 'pending';
