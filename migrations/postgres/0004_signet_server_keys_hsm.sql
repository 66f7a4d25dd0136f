-- Server keys held in a YubiHSM 2: the device object that holds the private key, and its
-- label. A key generated on the device has no sealed copy (an empty sealed_private_key); a key
-- moved onto the device keeps its sealed copy until the move is told to remove it. Every key
-- keeps at least one of the two.
ALTER TABLE signet_server_keys
    ADD COLUMN IF NOT EXISTS hsm_object_id integer NULL
        CONSTRAINT signet_server_keys_hsm_object_id_check
            CHECK (hsm_object_id BETWEEN 1 AND 65535);
ALTER TABLE signet_server_keys ADD COLUMN IF NOT EXISTS hsm_label varchar(40) NULL;
ALTER TABLE signet_server_keys
    ADD CONSTRAINT signet_server_keys_custody_check
        CHECK (octet_length(sealed_private_key) > 0 OR hsm_object_id IS NOT NULL);
