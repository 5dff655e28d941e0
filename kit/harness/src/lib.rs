//! The kit's black-box test harness.
//!
//! Every exercise and its solution run the *same* test file (under `kit/checks/`), and that file
//! talks to the app only from the outside, through this crate:
//!
//! - [`app`]: spawn the built binary with a cleared env, its own temp cwd/HOME/TMPDIR, a free
//!   `PORT`; wait until it answers; signal it; capture its output and print it (secrets masked)
//!   when a test fails.
//! - [`http`]: tiny blocking HTTP helpers that never hang.
//! - [`postgres`]: a fresh database, owned by a fresh role with a random password, per test.
//! - [`redis`]: a private Redis database index per test, leased through Redis itself.
//! - [`proxy`]: a loopback TCP proxy a test can cut and restore to simulate an outage.
//! - [`stub`]: a loopback HTTP server standing in for an upstream (a webhook): records every call,
//!   answers as slowly as the test wants.
//! - [`ports`]: ports leased so that no two checks on the machine get the same one.
//! - [`sock_diag`]: the machine's listening TCP sockets, from the kernel's socket diagnostics
//!   (fast enough to judge readiness on every app start).
//! - [`procfs`]: what a running process holds: listening sockets, connections (and whether it has
//!   read what arrived on them), open files, child processes, which process holds a connection,
//!   loaded libraries (`kit-platform`: `/proc` on Linux, `lsof` on macOS).
//! - [`logs`]: log lines read as a log platform reads them: JSON events with a time, a level and a
//!   message, in the common shapes (tracing-subscriber, bunyan, ECS).
//! - [`elf`]: the shared libraries a built binary asks the loader for (`kit-platform`: its ELF
//!   `DT_NEEDED` entries on Linux, `otool -L` on macOS).
//! - [`trap`]: stand-ins for system tools (`curl`, ...) that record that they ran, and fail.
//! - [`noticeboard`]: the app's HTTP contract as several factors' checks use it (visits).
//! - [`procfile`]: the process types an app declares in its `Procfile` (`web`, `worker`), for
//!   checks that judge the whole app rather than one process of it.
//! - [`package`]: the package as Cargo and git see it: its binaries (`cargo metadata`), and git
//!   run in its directory.
//! - [`fresh_copy`]: the package copied into a throwaway git repository, built there, and moved
//!   out of reach (Factor I: which commit does a build name?).
//! - [`lesson`]: failure messages that teach: the rule, what was observed, where to read.
//! - [`services`]: where the backing services are (env, then `.env`, then the compose defaults).
//!
//! It is not a general test framework: it exists so that a failing check can tell a learner
//! exactly which twelve-factor rule their code broke.

pub mod app;
pub mod elf;
pub mod fresh_copy;
pub mod http;
pub mod lesson;
pub mod logs;
pub mod noticeboard;
pub mod package;
pub mod ports;
pub mod postgres;
pub mod procfile;
pub mod procfs;
pub mod proxy;
pub mod redis;
pub mod services;
pub mod sock_diag;
pub mod stub;
pub mod target;
pub mod trap;

pub use app::{App, AppBuilder, Finished};
pub use http::Reply;
pub use lesson::{Lesson, lesson};
/// The signals [`App::signal`] sends (`Signal::SIGTERM`, `Signal::SIGINT`, ...), so checks name
/// them without depending on `nix` themselves.
pub use nix::sys::signal::Signal;
pub use package::{Binary, Package};
pub use postgres::TestDatabase;
pub use proxy::TcpProxy;
pub use redis::TestRedis;
pub use stub::HttpStub;
pub use trap::TrapCommands;

/// The kit's checkout (the workspace root, which holds `factors.toml`), as the harness was built.
///
/// Cargo names every workspace member from this same root, so it is a prefix of the path any app
/// would bake in with `env!("CARGO_MANIFEST_DIR")`: the path a check hides to prove that an app
/// no longer needs its source tree.
pub fn kit_root() -> &'static std::path::Path {
    let harness = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    harness
        .parent()
        .and_then(std::path::Path::parent)
        .expect("the harness lives in <kit>/kit/harness")
}

/// The path of a binary of the app under test.
///
/// A factor's checks are compiled once, with its exercise, and judge whichever app xtask points
/// them at (`cargo xtask check N --solution` judges the reference): so the check files never name
/// binaries literally. `app_binary!()` is the app's default binary; `app_binary!("migrate")` is
/// its binary `<package>-migrate` (declare it with `[[bin]]`). Without xtask's `KIT_APP_*`
/// variables (a plain `cargo test -p exNN-…`), they are the binaries of the package being tested.
#[macro_export]
macro_rules! app_binary {
    () => {
        $crate::target::binary(env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME"))), "")
    };
    ($suffix:literal) => {
        $crate::target::binary(
            env!(concat!(
                "CARGO_BIN_EXE_",
                env!("CARGO_PKG_NAME"),
                "-",
                $suffix
            )),
            concat!("-", $suffix),
        )
    };
}

/// The folder of the app under test's package (the one holding its `Cargo.toml`), for the few
/// checks that judge the package rather than one binary they can name: they hand it to
/// [`Package::inspect`] to ask Cargo which binaries the package builds, and run git there. The same
/// rule as [`app_binary!`]: xtask's `KIT_APP_MANIFEST_DIR`, else the package being tested.
#[macro_export]
macro_rules! app_package_dir {
    () => {
        $crate::target::manifest_dir(env!("CARGO_MANIFEST_DIR"))
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn kit_root_is_the_checkout_that_holds_the_manifest() {
        assert!(super::kit_root().join("factors.toml").is_file());
        assert!(super::kit_root().join("kit/harness/Cargo.toml").is_file());
    }
}
