-- The tables of the Go notary-server schema, in SQLite form. Times are stored as RFC 3339
-- text in UTC.

CREATE TABLE IF NOT EXISTS tuf_files (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at TEXT NULL DEFAULT NULL,
  updated_at TEXT NULL DEFAULT NULL,
  deleted_at TEXT NULL DEFAULT NULL,
  gun VARCHAR(255) NOT NULL,
  role VARCHAR(255) NOT NULL,
  version INTEGER NOT NULL,
  data BLOB NOT NULL,
  sha256 CHAR(64) DEFAULT NULL,
  CONSTRAINT tuf_files_gun_role_version_key UNIQUE (gun, role, version)
);

CREATE INDEX IF NOT EXISTS tuf_files_sha256_idx ON tuf_files (sha256);

CREATE TABLE IF NOT EXISTS change_category (
  category VARCHAR(20) PRIMARY KEY
);

INSERT OR IGNORE INTO change_category (category) VALUES ('update'), ('deletion');

-- AUTOINCREMENT: change IDs are never reused.
CREATE TABLE IF NOT EXISTS changefeed (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at TEXT DEFAULT CURRENT_TIMESTAMP,
  gun VARCHAR(255) NOT NULL,
  version INTEGER NOT NULL,
  sha256 CHAR(64) DEFAULT NULL,
  category VARCHAR(20) NOT NULL DEFAULT 'update' REFERENCES change_category (category)
);

CREATE INDEX IF NOT EXISTS idx_changefeed_gun ON changefeed (gun);
