//! signet-server library.
#![forbid(unsafe_code)]
