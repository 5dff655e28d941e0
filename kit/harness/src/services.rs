//! Where the backing services are: the kit's one rule (`kit_common::settings`), the same for
//! docker compose, `cargo xtask services up`, the tests and CI: the real environment first, then
//! the kit's `.env`, then `.env.example`, an empty value counting as unset.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

/// How long a test waits for a backing service before failing with the fix.
pub const REACH_TIMEOUT: Duration = Duration::from_secs(3);

/// The one-line fix printed whenever a backing service cannot be reached.
pub const START_SERVICES: &str = "run `cargo xtask services up`";

/// The two URLs the checks use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urls {
    pub database_url: String,
    pub redis_url: String,
}

impl Urls {
    /// The URLs of the kit at `root` under `environment`, as the checks resolve them.
    #[track_caller]
    pub fn of(root: &Path, environment: HashMap<String, String>) -> Urls {
        let settings = kit_common::settings::Settings::load_with(root, environment)
            .unwrap_or_else(|err| panic!("{err:#}: fix the file, or remove it"));
        Urls {
            database_url: settings.database_url().to_string(),
            redis_url: settings.redis_url().to_string(),
        }
    }
}

/// This kit's URLs under this process's environment, read once.
fn urls() -> &'static Urls {
    static URLS: OnceLock<Urls> = OnceLock::new();
    URLS.get_or_init(|| Urls::of(crate::kit_root(), std::env::vars().collect()))
}

/// The administrative Postgres URL tests create their databases through.
pub fn database_url() -> String {
    urls().database_url.clone()
}

/// The Redis server tests lease their database indexes from.
pub fn redis_url() -> String {
    urls().redis_url.clone()
}
