//! Postgres and Redis from local binaries, for machines without a Docker engine.
//!
//! Data lives under `target/services/` (so `cargo clean` removes it). Postgres refuses to run as
//! root, so when xtask runs as root it runs Postgres as the `postgres` user, which then must own the
//! data directory.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use url::Url;

fn services_dir(root: &Path) -> PathBuf {
    root.join("target").join("services")
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Runs `program` as the `postgres` user when we are root, as ourselves otherwise.
fn as_postgres_user(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) -> Result<Output> {
    let output = command
        .output()
        .with_context(|| format!("cannot run {what}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        bail!(
            "{what} failed ({}): {}",
            output.status,
            format!("{stderr}{stdout}").trim()
        );
    }
    Ok(output)
}

/// The first of `candidates` that exists, searching `PATH` first.
fn find_program(name: &str, extra_dirs: &[PathBuf]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra_dirs.iter().cloned())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Postgres server binaries: in `PATH`, else Debian's `/usr/lib/postgresql/<major>/bin` (newest
/// first), else Homebrew's.
pub fn postgres_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .collect();
    versions.sort_by_key(|dir| {
        let major = dir
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u32>().ok());
        std::cmp::Reverse(major.unwrap_or(0))
    });
    versions.extend(
        [
            "/opt/homebrew/opt/postgresql@15/bin",
            "/usr/local/opt/postgresql@15/bin",
        ]
        .map(PathBuf::from),
    );
    find_program("pg_ctl", &versions).and_then(|pg_ctl| pg_ctl.parent().map(Path::to_path_buf))
}

pub fn redis_server() -> Option<PathBuf> {
    find_program(
        "redis-server",
        &["/usr/bin", "/opt/homebrew/bin", "/usr/local/bin"].map(PathBuf::from),
    )
}

struct PostgresDirs {
    base: PathBuf,
    data: PathBuf,
    sockets: PathBuf,
    log: PathBuf,
}

/// `target/services/postgres`, unless we are root and the `postgres` user cannot enter the kit's
/// folder (a clone under `/root`, say): then a folder in the system temp dir, one per kit.
fn postgres_base(root: &Path) -> PathBuf {
    let preferred = services_dir(root).join("postgres");
    if !is_root() {
        return preferred;
    }
    let _ = std::fs::create_dir_all(services_dir(root));
    let enters = as_postgres_user(Path::new("test"))
        .arg("-x")
        .arg(services_dir(root))
        .status()
        .is_ok_and(|status| status.success());
    if enters {
        return preferred;
    }
    std::env::temp_dir().join(format!(
        "twelve-factor-rust-postgres-{:016x}",
        // FNV-1a gives the same name for the same folder with every Rust release
        // (`DefaultHasher` makes no such promise, and a new name would orphan a learner's data).
        crate::gate::integrity::fnv1a(root.as_os_str().as_encoded_bytes())
    ))
}

fn postgres_dirs(root: &Path) -> PostgresDirs {
    let base = postgres_base(root);
    PostgresDirs {
        data: base.join("data"),
        sockets: base.join("run"),
        log: base.join("postgres.log"),
        base,
    }
}

pub fn start_postgres(root: &Path, url: &Url) -> Result<()> {
    let bin = match postgres_bin_dir() {
        Some(bin) => bin,
        None => {
            crate::engine::tools::install(&crate::engine::tools::POSTGRES)?;
            postgres_bin_dir().context("Postgres was installed, but no pg_ctl was found")?
        }
    };
    let dirs = postgres_dirs(root);
    let user = url.username();
    let password = url.password().unwrap_or_default();
    let port = url.port().unwrap_or(5432);
    let host = url.host_str().unwrap_or("127.0.0.1");
    std::fs::create_dir_all(&dirs.sockets)?;
    if is_root() {
        if !matches!(nix::unistd::User::from_name("postgres"), Ok(Some(_))) {
            bail!(
                "Postgres refuses to run as root and there is no `postgres` user to run it: \
                 create one (`useradd --system --home /var/lib/postgresql postgres`) or run as a normal user"
            );
        }
        let mut chown = Command::new("chown");
        chown.arg("-R").arg("postgres:postgres").arg(&dirs.base);
        run(chown, "chown of the Postgres data directory")?;
    }
    if !dirs.data.join("PG_VERSION").exists() {
        let pwfile = dirs.base.join("pwfile");
        std::fs::write(&pwfile, password)?;
        if is_root() {
            let mut chown = Command::new("chown");
            chown.arg("postgres:postgres").arg(&pwfile);
            run(chown, "chown of the password file")?;
        }
        let mut initdb = as_postgres_user(&bin.join("initdb"));
        initdb
            .arg("--pgdata")
            .arg(&dirs.data)
            .arg("--username")
            .arg(user)
            .arg(format!("--pwfile={}", pwfile.display()))
            .args([
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-instructions",
            ]);
        let result = run(initdb, "initdb");
        let _ = std::fs::remove_file(&pwfile);
        result?;
    }
    let options = format!(
        "-c listen_addresses={host} -p {port} -k {sockets} -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=200",
        sockets = dirs.sockets.display()
    );
    let mut pg_ctl = as_postgres_user(&bin.join("pg_ctl"));
    pg_ctl
        .arg("--pgdata")
        .arg(&dirs.data)
        .arg("--log")
        .arg(&dirs.log)
        .args(["--wait", "--timeout=20", "--options", &options, "start"]);
    run(pg_ctl, "pg_ctl start").with_context(|| format!("see {}", dirs.log.display()))?;
    create_database(url)
}

/// Creates the database named in `url` unless it exists (initdb only creates `postgres`).
fn create_database(url: &Url) -> Result<()> {
    use sqlx::Connection;
    let name = url.path().trim_start_matches('/').to_string();
    if name.is_empty() || name == "postgres" {
        return Ok(());
    }
    let mut maintenance = url.clone();
    maintenance.set_path("/postgres");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut connection = sqlx::PgConnection::connect(maintenance.as_str())
            .await
            .context(
                "the local Postgres refuses the credentials in DATABASE_URL; if you changed them, \
             run `cargo xtask services down --purge` and then `cargo xtask services up`",
            )?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&name)
                .fetch_one(&mut connection)
                .await?;
        if !exists {
            // The name comes from the learner's own DATABASE_URL; quote it as an identifier.
            let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut connection)
                .await?;
        }
        anyhow::Ok(())
    })
}

struct RedisFiles {
    dir: PathBuf,
    pid: PathBuf,
    log: PathBuf,
}

fn redis_files(root: &Path) -> RedisFiles {
    let dir = services_dir(root).join("redis");
    RedisFiles {
        pid: dir.join("redis.pid"),
        log: dir.join("redis.log"),
        dir,
    }
}

pub fn start_redis(root: &Path, url: &Url) -> Result<()> {
    let server = match redis_server() {
        Some(server) => server,
        None => {
            crate::engine::tools::install(&crate::engine::tools::REDIS)?;
            redis_server().context("Redis was installed, but no redis-server was found")?
        }
    };
    let files = redis_files(root);
    std::fs::create_dir_all(&files.dir)?;
    let mut command = Command::new(server);
    command
        .arg("--port")
        .arg(url.port().unwrap_or(6379).to_string())
        .arg("--bind")
        .arg(url.host_str().unwrap_or("127.0.0.1"))
        // Tests lease one database index each, in parallel: give them room.
        .args([
            "--databases",
            "64",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
        ])
        .arg("--pidfile")
        .arg(&files.pid)
        .arg("--logfile")
        .arg(&files.log)
        .arg("--dir")
        .arg(&files.dir);
    if let Some(password) = url.password() {
        command.args(["--requirepass", password]);
    }
    run(command, "redis-server").map(drop)
}

/// The process named in `pid_file`, if it is still alive (signal 0 asks the kernel, on any Unix;
/// `EPERM` means it lives but belongs to another user, such as `postgres`).
fn pid_alive(pid_file: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(pid_file).ok()?;
    let pid: i32 = text.lines().next()?.trim().parse().ok()?;
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) | Err(nix::errno::Errno::EPERM) => u32::try_from(pid).ok(),
        Err(_) => None,
    }
}

/// Stops the local services this kit started; returns what it did, one line each.
pub fn stop_all(root: &Path, purge: bool) -> Result<Vec<String>> {
    let mut done = Vec::new();
    let pg = postgres_dirs(root);
    if pid_alive(&pg.data.join("postmaster.pid")).is_some() {
        let bin = postgres_bin_dir().context("no pg_ctl found to stop Postgres")?;
        let mut pg_ctl = as_postgres_user(&bin.join("pg_ctl"));
        pg_ctl
            .arg("--pgdata")
            .arg(&pg.data)
            .args(["--mode=fast", "--wait", "stop"]);
        run(pg_ctl, "pg_ctl stop")?;
        done.push("Stopped the local Postgres.".to_string());
    }
    let redis = redis_files(root);
    if let Some(pid) = pid_alive(&redis.pid) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .context("cannot stop redis-server")?;
        for _ in 0..100 {
            if pid_alive(&redis.pid).is_none() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        done.push("Stopped the local Redis.".to_string());
    }
    if purge {
        for dir in [&pg.base, &redis.dir] {
            if dir.exists() {
                std::fs::remove_dir_all(dir)
                    .with_context(|| format!("cannot remove {}", dir.display()))?;
                done.push(format!("Deleted {}.", dir.display()));
            }
        }
    }
    if done.is_empty() {
        done.push("No local services of this kit were running.".to_string());
    }
    Ok(done)
}

/// ` (local, target/services/redis)` when the service answering is the one this kit started.
pub fn note(root: &Path, service: crate::engine::manifest::Service) -> String {
    let (pid_file, dir) = match service {
        crate::engine::manifest::Service::Postgres => {
            let dirs = postgres_dirs(root);
            (dirs.data.join("postmaster.pid"), dirs.base)
        }
        crate::engine::manifest::Service::Redis => {
            let files = redis_files(root);
            (files.pid, files.dir)
        }
    };
    match pid_alive(&pid_file) {
        Some(_) => format!(
            " (local, {})",
            dir.strip_prefix(root).unwrap_or(&dir).display()
        ),
        None => String::new(),
    }
}
