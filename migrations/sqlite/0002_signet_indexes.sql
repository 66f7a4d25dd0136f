-- Indexes for signet's queries. The latest-version and by-version reads are served by the
-- unique index on (gun, role, version).

-- GET <role>.<sha256>.json: WHERE gun = ? AND role = ? AND sha256 = ?.
CREATE INDEX IF NOT EXISTS signet_tuf_files_gun_role_sha256_idx ON tuf_files (gun, role, sha256);

-- Changefeed pages of one GUN: WHERE gun = ? AND id > ? ORDER BY id.
CREATE INDEX IF NOT EXISTS signet_changefeed_gun_id_idx ON changefeed (gun, id);
