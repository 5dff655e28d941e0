//! Where the backing services are.
//!
//! The same URLs serve docker compose, `cargo xtask services up`, the tests and CI: the real
//! environment first, then the project's `.env`, then the workshop defaults of `.env.example`.

use std::sync::OnceLock;
use std::time::Duration;

/// How long a test waits for a backing service before failing with the fix.
pub const REACH_TIMEOUT: Duration = Duration::from_secs(3);

// ANCHOR: defaults
const DEFAULT_DATABASE_URL: &str = "postgres://workshop:workshop@127.0.0.1:5432/noticeboard";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
// ANCHOR_END: defaults

/// The one-line fix printed whenever a backing service cannot be reached.
pub const START_SERVICES: &str = "run `cargo xtask services up`";

fn load_dotenv() {
    static LOADED: OnceLock<()> = OnceLock::new();
    LOADED.get_or_init(|| {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.env");
        // `.env` never overrides the real environment (dotenvy's default), and it is optional.
        let _ = dotenvy::from_path(root);
    });
}

fn setting(key: &str, default: &str) -> String {
    load_dotenv();
    std::env::var(key)
        .ok()
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// The administrative Postgres URL tests create their databases through.
pub fn database_url() -> String {
    setting("DATABASE_URL", DEFAULT_DATABASE_URL)
}

/// The Redis server tests lease their database indexes from.
pub fn redis_url() -> String {
    setting("REDIS_URL", DEFAULT_REDIS_URL)
}
