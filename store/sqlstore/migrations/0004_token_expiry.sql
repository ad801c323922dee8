-- Tokens that are not active are deleted some days after their last
-- change (ntf.Store.DeleteInactive). The partial index holds only them,
-- by the time of that change, so each sweep reads just the rows it
-- deletes and never the active tokens.
CREATE INDEX tokens_inactive_updated_at ON tokens (updated_at) WHERE status <> 'active';
