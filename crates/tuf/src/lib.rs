//! Notary-format TUF metadata: types, canonical JSON, keys, signature verification and the client update state machine (no I/O).
#![forbid(unsafe_code)]
