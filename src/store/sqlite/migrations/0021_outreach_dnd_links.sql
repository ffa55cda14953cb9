-- The bank's do-not-disturb list (outreach/contact_policy.h): customers no marketing message
-- may reach on any channel (complaints, regulator requests, staff), whatever their consent.
CREATE TABLE contact_dnd (
  customer TEXT PRIMARY KEY,
  reason TEXT NOT NULL,
  added_by TEXT NOT NULL,
  added_ms INTEGER NOT NULL
);

-- Tracked links (outreach/outreach_service.h): each message's {{link}} becomes /t/<token>,
-- which redirects to the URL and records the click.
CREATE TABLE outreach_links (
  token TEXT PRIMARY KEY,
  message_id INTEGER NOT NULL,
  customer TEXT NOT NULL,
  url TEXT NOT NULL,
  origin TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX outreach_links_message ON outreach_links (message_id);

CREATE TABLE outreach_clicks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  token TEXT NOT NULL REFERENCES outreach_links (token),
  message_id INTEGER NOT NULL,
  clicked_ms INTEGER NOT NULL,
  user_agent TEXT NOT NULL DEFAULT '',
  ip TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outreach_clicks_message ON outreach_clicks (message_id);
