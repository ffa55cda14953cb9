-- Marketing activities (activity/activity.h) and their versions of terms. A version's terms
-- are canonical JSON with their SHA-256 digest, the digest the maker-checker approval names.
-- phase is the operator's switch ('draft' until a version is approved); scheduled/live/ended
-- by date follow from the published version's window and the clock.
CREATE TABLE activities (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  phase TEXT NOT NULL DEFAULT 'draft'
    CHECK (phase IN ('draft', 'published', 'paused', 'ended')),
  published_version INTEGER NOT NULL DEFAULT 0,
  latest_version INTEGER NOT NULL DEFAULT 1,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  CHECK (phase = 'draft' OR published_version > 0)
);
CREATE INDEX activities_published ON activities (phase) WHERE published_version > 0;

CREATE TABLE activity_versions (
  activity_id INTEGER NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'draft'
    CHECK (status IN ('draft', 'submitted', 'approved', 'rejected', 'superseded')),
  terms_json TEXT NOT NULL,
  digest TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  approval_id INTEGER NOT NULL DEFAULT 0,
  decided_by TEXT NOT NULL DEFAULT '',
  decided_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (activity_id, version)
) WITHOUT ROWID;

-- Approved terms are frozen: only a draft's (or a rejected version's) terms may change, and
-- an approved version never goes back. Defence in depth behind the service's rules.
CREATE TRIGGER activity_versions_frozen
BEFORE UPDATE OF terms_json, digest ON activity_versions
WHEN OLD.status NOT IN ('draft', 'rejected')
BEGIN
  SELECT RAISE(ABORT, 'activity version terms are frozen once submitted');
END;
CREATE TRIGGER activity_versions_no_unapprove
BEFORE UPDATE OF status ON activity_versions
WHEN OLD.status IN ('approved', 'superseded') AND NEW.status NOT IN ('superseded')
BEGIN
  SELECT RAISE(ABORT, 'an approved activity version cannot be un-approved');
END;
