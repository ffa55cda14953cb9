-- A campaign's audience snapshot as two bitmaps instead of one row per member (issue 6: a
-- campaign to 1M customers at sandbox speed). The snapshot wrote a row per member and every
-- outcome rewrote it; now the snapshot is one row, and a member gets a row in campaign_members
-- only once it has an outcome (sent, suppressed, failed). Pending members are the treated
-- bitmap's members without a row; holdout members have no row at all.
CREATE TABLE campaign_snapshots (
  campaign_id INTEGER PRIMARY KEY REFERENCES campaigns (id),
  treated BLOB NOT NULL,          -- portable CRoaring bitmap of the treated members' uids
  holdout BLOB NOT NULL,          -- the same, of the control group
  treated_count INTEGER NOT NULL CHECK (treated_count >= 0),
  holdout_count INTEGER NOT NULL CHECK (holdout_count >= 0)
);

-- Campaigns snapshotted before this migration keep their members as rows. The store turns
-- each of them into a snapshot row when it opens (the bitmaps are built in C++) and deletes
-- its pending and holdout rows; this table lists the campaigns still to convert.
CREATE TABLE campaign_snapshot_conversions (campaign_id INTEGER PRIMARY KEY);
INSERT INTO campaign_snapshot_conversions (campaign_id)
  SELECT id FROM campaigns WHERE snapshot_ms > 0;

-- Nothing is pending as a row any more.
DROP INDEX campaign_members_pending;
