-- Which repositories trust a key, for `GET /v2/_trust/keys/<keyid>/repositories` and
-- `signet-server trusted-by`: one row per (GUN, role, key ID) of the current metadata of each
-- repository. `source` is the role whose file lists the key: `root` for the keys of root,
-- targets, snapshot and timestamp; the delegating role (`targets`, `targets/…`) for a
-- delegation's keys, taken from its `delegations`. `key_id` is the ID searched for: the ID
-- the metadata lists (`listed_key_id`) and, for an x509 key, also its canonical ID (the ID of
-- its public key, which key stores name files by) in a second row.
--
-- Only the latest stored version of each source counts, and only the delegations reachable
-- from targets. signet keeps it up to date in the transaction of every write and delete; a
-- database adopted from Go notary (or written by it) is indexed by the backfill that
-- `signet_key_trust_backfill` records, and writes by a Go notary-server sharing the database
-- are caught up with the expiry records (from the changefeed).
CREATE TABLE IF NOT EXISTS signet_key_trust (
    gun varchar(255) NOT NULL,
    role varchar(255) NOT NULL,
    key_id varchar(255) NOT NULL,
    listed_key_id varchar(255) NOT NULL,
    source varchar(255) NOT NULL,
    CONSTRAINT signet_key_trust_pkey PRIMARY KEY (gun, role, key_id)
);

-- The answer is a range of this index: WHERE key_id = $1 AND (gun, role) > cursor ORDER BY
-- gun, role LIMIT n.
CREATE INDEX IF NOT EXISTS signet_key_trust_key_id_idx
    ON signet_key_trust (key_id, gun, role);

-- The one-time index of every repository stored before this table existed (or copied in by
-- `import-notary-server`): `done` once every GUN up to the end was indexed; `last_gun` is
-- the last GUN indexed, where an interrupted run goes on (GUNs are indexed in order, one
-- batch per transaction).
CREATE TABLE IF NOT EXISTS signet_key_trust_backfill (
    id integer NOT NULL CONSTRAINT signet_key_trust_backfill_pkey PRIMARY KEY
        CONSTRAINT signet_key_trust_backfill_id_check CHECK (id = 1),
    done boolean NOT NULL,
    last_gun varchar(255) NOT NULL
);

INSERT INTO signet_key_trust_backfill (id, done, last_gun) VALUES (1, false, '')
    ON CONFLICT DO NOTHING;
