//! Private keys for signet: notary-compatible trust-dir key store, in-memory and YubiHSM 2 backends, root certificates, rotation.
#![forbid(unsafe_code)]
