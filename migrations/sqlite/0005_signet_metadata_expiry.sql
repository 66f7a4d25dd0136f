-- When the current metadata of each repository expires, for the expiry gauges of /metrics:
-- one row per (GUN, role) of the roles the latest snapshot names (root, targets, delegations)
-- and of the snapshot itself, at their latest stored version. Timestamps are left out: the
-- server signs them and re-signs an expired one when it is read. A snapshot signed by a key
-- the server holds has kind 'server_snapshot' (re-signed like a timestamp; not alerted on).
-- `expires` is in Unix seconds; a file whose expiry cannot be read is stored as 0 (expired,
-- as the server itself treats it).
--
-- signet keeps it up to date in the transaction of every write and delete; rows written by
-- another writer (an imported or copied database) are caught up from the changefeed, from the
-- record after `signet_metadata_expiry_cursor.change_id`.
CREATE TABLE IF NOT EXISTS signet_metadata_expiry (
  gun VARCHAR(255) NOT NULL,
  role VARCHAR(255) NOT NULL,
  kind VARCHAR(16) NOT NULL
    CHECK (kind IN ('root', 'targets', 'delegation', 'snapshot', 'server_snapshot')),
  version INTEGER NOT NULL,
  expires INTEGER NOT NULL,
  PRIMARY KEY (gun, role)
);

-- The gauges read only the rows expiring within 30 days, and the earliest row of each kind.
CREATE INDEX IF NOT EXISTS signet_metadata_expiry_kind_expires_idx
  ON signet_metadata_expiry (kind, expires);

CREATE TABLE IF NOT EXISTS signet_metadata_expiry_cursor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  change_id INTEGER NOT NULL
);

INSERT OR IGNORE INTO signet_metadata_expiry_cursor (id, change_id) VALUES (1, 0);
