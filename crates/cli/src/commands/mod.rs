//! The commands, one module per group. Each checks its positional arguments first (with
//! notary's messages), then calls the libraries and prints through [`Context::out`].

pub(crate) mod changes;
pub(crate) mod delegations;
pub(crate) mod keys;
pub(crate) mod repo;
pub(crate) mod resign;
pub(crate) mod trust;

use crate::args::Command;
use crate::context::Context;
use crate::error::Result;

/// Runs `command`. `version` is handled before a context exists.
pub(crate) fn run(ctx: &mut Context, command: Command) -> Result<()> {
    match command {
        Command::Add(args) => changes::add(ctx, &args),
        Command::Addhash(args) => changes::addhash(ctx, &args),
        Command::Remove(args) => changes::remove(ctx, &args),
        Command::Status(args) => changes::status(ctx, &args),
        Command::Reset(args) => changes::reset(ctx, &args),
        Command::Witness(args) => changes::witness(ctx, &args),
        Command::Init(args) => repo::init(ctx, &args),
        Command::Publish(args) => repo::publish(ctx, &args),
        Command::List(args) => repo::list(ctx, &args),
        Command::Lookup(args) => repo::lookup(ctx, &args),
        Command::Verify(args) => repo::verify(ctx, &args),
        Command::Delete(args) => repo::delete(ctx, &args),
        Command::Resign(args) => resign::resign(ctx, &args),
        Command::Key(command) => keys::run(ctx, command),
        Command::Delegation(command) => delegations::run(ctx, command),
        Command::Version => Ok(()),
        // Run from `main` with the global options (it resolves its own trust dir and server).
        Command::Trust(_) => Ok(()),
    }
}
