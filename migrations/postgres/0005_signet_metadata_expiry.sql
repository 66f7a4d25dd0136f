-- When the current metadata of each repository expires, for the expiry gauges of /metrics:
-- one row per (GUN, role) of the roles the latest snapshot names (root, targets, delegations)
-- and of the snapshot itself, at their latest stored version. Timestamps are left out: the
-- server signs them and re-signs an expired one when it is read. A snapshot signed by a key
-- the server holds has kind 'server_snapshot' (re-signed like a timestamp; not alerted on).
-- `expires` is in Unix seconds; a file whose expiry cannot be read is stored as 0 (expired,
-- as the server itself treats it).
--
-- signet keeps it up to date in the transaction of every write and delete; rows written by
-- another writer (a Go notary-server sharing the database, an adopted database) are caught up
-- from the changefeed, from the record after `signet_metadata_expiry_cursor.change_id`.
CREATE TABLE IF NOT EXISTS signet_metadata_expiry (
    gun varchar(255) NOT NULL,
    role varchar(255) NOT NULL,
    kind varchar(16) NOT NULL
        CONSTRAINT signet_metadata_expiry_kind_check
            CHECK (kind IN ('root', 'targets', 'delegation', 'snapshot', 'server_snapshot')),
    version integer NOT NULL,
    expires bigint NOT NULL,
    CONSTRAINT signet_metadata_expiry_pkey PRIMARY KEY (gun, role)
);

-- The gauges read only the rows expiring within 30 days, and the earliest row of each kind.
CREATE INDEX IF NOT EXISTS signet_metadata_expiry_kind_expires_idx
    ON signet_metadata_expiry (kind, expires);

CREATE TABLE IF NOT EXISTS signet_metadata_expiry_cursor (
    id integer NOT NULL CONSTRAINT signet_metadata_expiry_cursor_pkey PRIMARY KEY
        CONSTRAINT signet_metadata_expiry_cursor_id_check CHECK (id = 1),
    change_id bigint NOT NULL
);

INSERT INTO signet_metadata_expiry_cursor (id, change_id) VALUES (1, 0) ON CONFLICT DO NOTHING;
