//! A trusted Notary repository as a client sees it: trust dir, cache, changelist, update and publish.
#![forbid(unsafe_code)]
