-- Campaigns send in bulk (issue 6: a campaign to 1M customers at sandbox speed): each message
-- and each member outcome should maintain as few index entries as the queries need.

-- Pending members are found through a partial index: a member whose outcome is recorded
-- leaves it, instead of moving inside a full (campaign, state, uid) index.
DROP INDEX campaign_members_state;
CREATE INDEX campaign_members_pending ON campaign_members (campaign_id, uid)
  WHERE state = 'pending';

-- A customer's messages are found through the caps index, whose first column is the customer
-- (a customer has few messages; listing them newest first sorts them). The separate
-- (customer, id) index cost one more entry per message.
DROP INDEX outreach_messages_customer;
