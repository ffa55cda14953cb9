-- In-app placements (placement/placement_service.h): cards and banners the mobile-banking app
-- shows in a slot, each approved by maker-checker before it goes live.
CREATE TABLE placements (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  slot TEXT NOT NULL,
  name TEXT NOT NULL,
  definition_json TEXT NOT NULL,
  digest TEXT NOT NULL,  -- SHA-256 of definition_json: what an approval covers
  -- draft, submitted, live, paused, ended
  status TEXT NOT NULL DEFAULT 'draft',
  priority INTEGER NOT NULL DEFAULT 0,
  approval_id INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE INDEX placements_slot ON placements (slot, status);

-- One row per card served to a customer; the token is also the card's tracked link
-- (outreach_links, /t/<token>), so clicks land in outreach_clicks.
CREATE TABLE placement_impressions (
  token TEXT PRIMARY KEY,
  placement_id INTEGER NOT NULL REFERENCES placements (id),
  customer TEXT NOT NULL,
  local_day INTEGER NOT NULL,  -- days since 1970-01-01 in the contact policy's time zone
  shown_ms INTEGER NOT NULL
);
CREATE INDEX placement_impressions_cap ON placement_impressions (placement_id, customer, local_day);
CREATE INDEX placement_impressions_day ON placement_impressions (placement_id, local_day);
