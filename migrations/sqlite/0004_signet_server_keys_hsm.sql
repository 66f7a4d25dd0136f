-- Server keys held in a YubiHSM 2: the device object that holds the private key, and its
-- label. A key generated on the device has no sealed copy (an empty sealed_private_key); a key
-- moved onto the device keeps its sealed copy until the move is told to remove it. Every key
-- keeps at least one of the two (SQLite cannot add a table constraint: triggers check it).
ALTER TABLE signet_server_keys
  ADD COLUMN hsm_object_id INTEGER NULL CHECK (hsm_object_id BETWEEN 1 AND 65535);
ALTER TABLE signet_server_keys ADD COLUMN hsm_label VARCHAR(40) NULL;
CREATE TRIGGER IF NOT EXISTS signet_server_keys_custody_insert
BEFORE INSERT ON signet_server_keys
WHEN length(NEW.sealed_private_key) = 0 AND NEW.hsm_object_id IS NULL
BEGIN
  SELECT RAISE(ABORT, 'signet_server_keys_custody_check: a server key needs a sealed copy or a device object');
END;
CREATE TRIGGER IF NOT EXISTS signet_server_keys_custody_update
BEFORE UPDATE ON signet_server_keys
WHEN length(NEW.sealed_private_key) = 0 AND NEW.hsm_object_id IS NULL
BEGIN
  SELECT RAISE(ABORT, 'signet_server_keys_custody_check: a server key needs a sealed copy or a device object');
END;
