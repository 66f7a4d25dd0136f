-- Keys the server signs timestamps and snapshots with. The private key arrives sealed by the
-- signer; the database never holds it in the clear.
CREATE TABLE IF NOT EXISTS signet_server_keys (
  gun VARCHAR(255) NOT NULL,
  role VARCHAR(255) NOT NULL,
  key_id VARCHAR(255) NOT NULL,
  algorithm VARCHAR(50) NOT NULL,
  public_key BLOB NOT NULL,
  sealed_private_key BLOB NOT NULL,
  state VARCHAR(16) NOT NULL DEFAULT 'pending'
    CHECK (state IN ('pending', 'active', 'retired')),
  created_at TEXT NOT NULL,
  last_used TEXT NULL,
  PRIMARY KEY (gun, role, key_id)
);
