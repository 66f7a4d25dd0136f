//! Servers shared by the signet-server tests, and the side-by-side driver that runs one script
//! against signet-server and the Go notary-server.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use signet_e2e::{
    CommandOutput, DelegationRow, GoNotaryServer, NotaryCli, Result, SignetServer, TargetRow,
    http_get,
};

use crate::client_support::Signet;
use crate::support::{go_notary_available, sorted};

/// A signet-server on SQLite and a Go notary-server in memory, shared by the tests running at
/// the same time (each test uses its own GUNs). Stopped when the last test lets go.
pub(crate) struct SharedServers {
    pub(crate) signet: SignetServer,
    pub(crate) go: GoNotaryServer,
}

/// The shared servers, started on first use; `None` (skip notice) when the Go binaries are
/// missing outside CI.
pub(crate) fn shared_servers() -> Option<Arc<SharedServers>> {
    static SHARED: Mutex<Weak<SharedServers>> = Mutex::new(Weak::new());
    if !go_notary_available() {
        return None;
    }
    let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(servers) = slot.upgrade() {
        return Some(servers);
    }
    let servers = Arc::new(SharedServers {
        signet: SignetServer::start_sqlite().unwrap(),
        go: GoNotaryServer::start_memory().unwrap(),
    });
    *slot = Arc::downgrade(&servers);
    Some(servers)
}

/// One Go `notary` CLI per server, driven through the same steps; after each step a
/// newcomer (fresh trust dir) lists both repositories and the listings must agree.
pub(crate) struct SideBySide {
    pub(crate) gun: String,
    pub(crate) signet: NotaryCli,
    pub(crate) go: NotaryCli,
}

impl SideBySide {
    /// Owners with empty trust dirs for `gun` on both servers.
    pub(crate) fn new(signet_url: &str, go_url: &str, gun: &str) -> Self {
        Self {
            gun: gun.to_owned(),
            signet: NotaryCli::new(signet_url).unwrap(),
            go: NotaryCli::new(go_url).unwrap(),
        }
    }

    /// Runs `action` with the signet-side CLI, then the Go-side CLI; both must succeed.
    pub(crate) fn both<T: std::fmt::Debug + PartialEq>(
        &self,
        step: &str,
        action: impl Fn(&NotaryCli, &str) -> Result<T>,
    ) -> T {
        let signet = action(&self.signet, &self.gun)
            .unwrap_or_else(|e| panic!("step {step:?} failed against signet-server: {e}"));
        let go = action(&self.go, &self.gun)
            .unwrap_or_else(|e| panic!("step {step:?} failed against the Go server: {e}"));
        assert_eq!(signet, go, "step {step:?} returned different results");
        signet
    }

    /// Runs a raw command on both sides; both must succeed.
    pub(crate) fn run_both(&self, step: &str, args: &[&str]) {
        self.both(step, |cli, _| cli.run_ok(args).map(|_| ()));
    }

    /// Lists the repository from fresh trust dirs on both servers and from the owners' trust
    /// dirs; all four must agree. Returns the (sorted) rows.
    pub(crate) fn check_listing(&self, step: &str) -> Vec<TargetRow> {
        let signet = sorted(fresh_list(&self.signet, &self.gun, step, "signet-server"));
        let go = sorted(fresh_list(&self.go, &self.gun, step, "Go notary-server"));
        assert_eq!(
            signet, go,
            "after step {step:?}: signet-server (left) and Go notary-server (right) list differently"
        );
        let owner = sorted(self.signet.list(&self.gun).unwrap());
        assert_eq!(owner, signet, "after step {step:?}: owner's view on signet");
        signet
    }

    /// Lists delegations from fresh trust dirs on both servers; they must agree.
    pub(crate) fn check_delegations(&self, step: &str) -> Vec<DelegationRow> {
        let signet = self
            .signet
            .fresh()
            .unwrap()
            .delegation_list(&self.gun)
            .unwrap();
        let go = self.go.fresh().unwrap().delegation_list(&self.gun).unwrap();
        assert_eq!(
            signet, go,
            "after step {step:?}: delegation listings differ"
        );
        signet
    }

    /// `signet list` and `signet delegation list` from fresh trust dirs against both servers:
    /// each must print what the Go CLI listed (`targets`, `delegations`).
    pub(crate) fn check_signet_reads(
        &self,
        step: &str,
        targets: &[TargetRow],
        delegations: &[DelegationRow],
    ) {
        for (server, cli) in [
            ("signet-server", &self.signet),
            ("Go notary-server", &self.go),
        ] {
            let signet = Signet::new(cli.server_url());
            assert_eq!(
                sorted(signet.list(&self.gun)),
                targets,
                "after step {step:?}: `signet list` against {server}"
            );
            assert_eq!(
                signet.delegation_list(&self.gun),
                delegations,
                "after step {step:?}: `signet delegation list` against {server}"
            );
        }
    }

    /// The current `<role>.json` as each server serves it: signet-server's, then the Go
    /// notary-server's.
    pub(crate) fn served(&self, role: &str) -> [String; 2] {
        let get = |cli: &NotaryCli| {
            let url = format!(
                "{}/v2/{}/_trust/tuf/{role}.json",
                cli.server_url(),
                self.gun
            );
            let response = http_get(&url).unwrap();
            assert_eq!(response.status, 200, "GET {url}: {}", response.text());
            response.text()
        };
        [get(&self.signet), get(&self.go)]
    }

    /// `notary list` from fresh trust dirs on both; returns the two outputs (for failures).
    pub(crate) fn fresh_list_outputs(&self) -> (CommandOutput, CommandOutput) {
        let args = ["list", self.gun.as_str()];
        (
            self.signet.fresh().unwrap().run(&args).unwrap(),
            self.go.fresh().unwrap().run(&args).unwrap(),
        )
    }
}

fn fresh_list(cli: &NotaryCli, gun: &str, step: &str, server: &str) -> Vec<TargetRow> {
    cli.fresh()
        .unwrap()
        .list(gun)
        .unwrap_or_else(|e| panic!("after step {step:?}: fresh list against {server}: {e}"))
}
