//! Rebuild when a migration changes: `sqlx::migrate!` embeds them at compile time. Also hands
//! the compiler version and target to `signet_server_build_info`.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=SIGNET_BUILD_RUSTC={version}");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_owned());
    println!("cargo:rustc-env=SIGNET_BUILD_TARGET={target}");
}
