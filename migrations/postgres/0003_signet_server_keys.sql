-- Keys the server signs timestamps and snapshots with. The private key arrives sealed by the
-- signer; the database never holds it in the clear.
CREATE TABLE IF NOT EXISTS signet_server_keys (
    gun varchar(255) NOT NULL,
    role varchar(255) NOT NULL,
    key_id varchar(255) NOT NULL,
    algorithm varchar(50) NOT NULL,
    public_key bytea NOT NULL,
    sealed_private_key bytea NOT NULL,
    state varchar(16) NOT NULL DEFAULT 'pending'
        CONSTRAINT signet_server_keys_state_check CHECK (state IN ('pending', 'active', 'retired')),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used timestamptz NULL,
    CONSTRAINT signet_server_keys_pkey PRIMARY KEY (gun, role, key_id)
);
