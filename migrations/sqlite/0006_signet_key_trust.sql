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
-- database copied from Go notary is indexed by the backfill that `signet_key_trust_backfill`
-- records.
CREATE TABLE IF NOT EXISTS signet_key_trust (
  gun VARCHAR(255) NOT NULL,
  role VARCHAR(255) NOT NULL,
  key_id VARCHAR(255) NOT NULL,
  listed_key_id VARCHAR(255) NOT NULL,
  source VARCHAR(255) NOT NULL,
  PRIMARY KEY (gun, role, key_id)
);

-- The answer is a range of this index: WHERE key_id = ?1 AND (gun, role) > cursor ORDER BY
-- gun, role LIMIT n.
CREATE INDEX IF NOT EXISTS signet_key_trust_key_id_idx
  ON signet_key_trust (key_id, gun, role);

-- The one-time index of every repository stored before this table existed (or copied in by
-- `import-notary-server`): `done` once every GUN up to the end was indexed; `last_gun` is
-- the last GUN indexed, where an interrupted run goes on (GUNs are indexed in order, one
-- batch per transaction).
CREATE TABLE IF NOT EXISTS signet_key_trust_backfill (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  done INTEGER NOT NULL,
  last_gun VARCHAR(255) NOT NULL
);

INSERT OR IGNORE INTO signet_key_trust_backfill (id, done, last_gun) VALUES (1, 0, '');
