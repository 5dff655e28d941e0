//! The "See it break" demos of Factors I to VI, as their chapters tell them.

use super::world::{World, server_connection};
use super::{Exercise, Transcript};
use anyhow::{Context, Result};
use kit_harness::App;
use redis::Commands;
use serde_json::json;
use std::process::Command;
use std::time::Duration;

/// `curl` as the transcript shows it: `localhost:$NAME` for the process's port.
fn url(name: &str, path: &str) -> String {
    format!("localhost:${name}{path}")
}

/// A reply as `curl -i` would show its first line, then the body.
fn status_and_body(reply: &kit_harness::Reply) -> String {
    format!("HTTP/1.1 {}\n{}", reply.status, reply.body.trim_end())
}

/// Factor I: two diverged copies, two answers to one request, one version for both, and a third
/// deploy that cannot exist.
pub fn codebase(world: &mut World, exercise: &Exercise, t: &mut Transcript) -> Result<()> {
    t.command("cd exercises/01-codebase && diff src/main.rs src/bin/staging.rs");
    let diff = Command::new("diff")
        .args(["src/main.rs", "src/bin/staging.rs"])
        .current_dir(&exercise.dir)
        .output()
        .context("cannot run diff")?;
    t.output(&String::from_utf8_lossy(&diff.stdout));
    let production = world
        .process(exercise.binary(None))
        .name("production")
        .spawn();
    let staging = world
        .process(exercise.binary(Some("staging")))
        .name("staging")
        .spawn();
    t.note("production runs as $PROD, staging as $STAGING (cargo run --bin ex01-codebase / --bin staging)");
    t.command("for port in $PROD $STAGING; do for i in 1 2 3 4 5; do curl -s localhost:$port/notifications -H 'Content-Type: application/json' -d \"{\\\"name\\\":\\\"ada\\\",\\\"message\\\":\\\"notice $i\\\"}\" > /dev/null; done; done");
    for app in [&production, &staging] {
        for i in 1..=5 {
            app.post_json(
                "/notifications",
                &json!({"name": "ada", "message": format!("notice {i}")}),
            );
        }
    }
    for (name, app) in [("PROD", &production), ("STAGING", &staging)] {
        t.command(&format!(
            "curl -s '{}'",
            url(name, "/notifications?limit=3")
        ));
        t.output(&app.get("/notifications?limit=3").body);
    }
    t.note("the same request, two answers: production has the bug staging fixed");
    for (name, app) in [("PROD", &production), ("STAGING", &staging)] {
        t.command(&format!("curl -s {}", url(name, "/version")));
        t.output(&app.get("/version").body);
    }
    drop(production);
    t.command("DEPLOY_NAME=preview-1 NOTICEBOARD_BANNER='Preview: for the design review' cargo run -p ex01-codebase --bin ex01-codebase");
    let preview = world
        .process(exercise.binary(None))
        .name("preview")
        .env("DEPLOY_NAME", "preview-1")
        .env("NOTICEBOARD_BANNER", "Preview: for the design review")
        .spawn();
    t.command(&format!("curl -s {}", url("PREVIEW", "/")));
    t.output(&preview.get("/").body);
    t.note("it ignores its environment: it can only ever be production");
    Ok(())
}

/// Factor II: no `curl` on the PATH, and nothing in the manifest said the app needed one.
pub fn dependencies(world: &mut World, exercise: &Exercise, t: &mut Transcript) -> Result<()> {
    t.command("PATH=/nonexistent WEBHOOK_URL=https://example.com/hooks/noticeboard target/debug/ex02-dependencies");
    let app = world
        .process(exercise.binary(None))
        .env("PATH", "/nonexistent")
        .env("WEBHOOK_URL", "https://example.com/hooks/noticeboard")
        .spawn();
    t.command(&format!(
        "curl -s {} -H 'Content-Type: application/json' -d '{{\"name\":\"ada\",\"message\":\"Tea is ready\"}}'",
        url("PORT", "/notifications")
    ));
    let reply = app.post_json(
        "/notifications",
        &json!({"name": "ada", "message": "Tea is ready"}),
    );
    t.output(&reply.body);
    t.note("it started and answered its health check; it failed on its first notification");
    t.command("cargo tree -p ex02-dependencies --depth 1 -e normal");
    let tree = crate::engine::testrun::cargo_command()
        .args([
            "tree",
            "-p",
            &exercise.package,
            "--depth",
            "1",
            "-e",
            "normal",
            "--offline",
        ])
        .current_dir(&world.root)
        .output()?;
    t.output(&String::from_utf8_lossy(&tree.stdout));
    t.note("no curl: curl is not a crate, and no manifest declares it");
    // `readelf -d` on Linux, `otool -L` on macOS: the libraries the loader must find.
    if cfg!(target_os = "macos") {
        t.command("otool -L target/debug/ex02-dependencies");
        let otool = Command::new("otool")
            .arg("-L")
            .arg(exercise.binary(None))
            .output()?;
        t.output(&String::from_utf8_lossy(&otool.stdout));
    } else {
        t.command("readelf -d target/debug/ex02-dependencies | grep NEEDED");
        let needed = kit_harness::elf::needed_libraries(exercise.binary(None))
            .map_err(anyhow::Error::msg)?;
        for library in needed {
            t.output(&format!(
                " 0x0000000000000001 (NEEDED)  Shared library: [{library}]"
            ));
        }
    }
    Ok(())
}

/// Factor III: the password in the first log line, a 503, and a DATABASE_URL that changes nothing.
pub fn config(world: &mut World, exercise: &Exercise, t: &mut Transcript) -> Result<()> {
    t.command("cargo run -p ex03-config");
    let app = world.process(exercise.binary(None)).spawn();
    std::thread::sleep(Duration::from_millis(500));
    t.output(&without_times(&first_lines(&app, 3)));
    t.command(&format!("curl -i {}", url("PORT", "/notifications")));
    t.output(&status_and_body(&app.get("/notifications")));
    drop(app);
    let database = world.database().url();
    t.note("now point it at a database of the demo's own, the way a platform would");
    t.command("DATABASE_URL=postgres://…/<the demo's database> cargo run -p ex03-config");
    let app = world
        .process(exercise.binary(None))
        .env("DATABASE_URL", database)
        .spawn();
    std::thread::sleep(Duration::from_millis(500));
    t.output(&without_times(&first_lines(&app, 1)));
    t.command(&format!("curl -i {}", url("PORT", "/notifications")));
    t.output(&status_and_body(&app.get("/notifications")));
    t.note("nothing changed: the app ignores the variable");
    Ok(())
}

/// Factor IV: the count lands in database 0 despite `REDIS_URL`, and a cut connection never
/// comes back. Only the app's own connection is cut (`CLIENT KILL ID`), never anyone else's.
pub fn backing_services(world: &mut World, exercise: &Exercise, t: &mut Transcript) -> Result<()> {
    // The exercise counts in database 0 whatever it is told: the demo's two visits are taken
    // back when it ends.
    let before = world.give_back_redis_count("visits", 2)?;
    let redis_url = world.redis().url();
    t.note("$DB is a Redis database index of the demo's own (the book uses 5)");
    t.command("REDIS_URL=redis://127.0.0.1:6379/$DB cargo run -p ex04-backing-services");
    let app = world
        .process(exercise.binary(None))
        .env("REDIS_URL", redis_url)
        .spawn();
    for _ in 0..2 {
        t.command(&format!("curl {}", url("PORT", "/")));
        t.output(&app.get("/").body);
    }
    let mut own: redis::Connection = world.redis().connection();
    let mut zero = server_connection()?;
    t.command("redis-cli -n $DB GET visits");
    t.output(&redis_cli(own.get::<_, Option<String>>("visits")?));
    t.command("redis-cli -n 0 GET visits");
    let after: Option<i64> = zero.get("visits")?;
    match before {
        // Database 0 is shared: other runs of this exercise count there too.
        Some(before) => {
            t.varies(&redis_cli(after.map(|count| count.to_string())));
            t.output(&format!(
                "(that is {} more than before the demo started)",
                after.unwrap_or(0) - before
            ));
        }
        None => t.output(&redis_cli(after.map(|count| count.to_string()))),
    }
    t.note("the app never read REDIS_URL; the visits went where the code said");
    let killed = kill_connections_of(app.pid(), &mut zero)?;
    t.note("cut the app's own Redis connection (the book's `CLIENT KILL TYPE normal` would cut every client of this Redis)");
    t.command("redis-cli CLIENT KILL ID <the app's connection>");
    t.output(&format!("(integer) {killed}"));
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..2 {
        t.command(&format!("curl -i {}", url("PORT", "/")));
        t.output(&status_and_body(&app.get("/")));
        std::thread::sleep(Duration::from_secs(2));
    }
    let line = app
        .output()
        .lines()
        .find(|line| line.contains("redis is unavailable"))
        .map(without_time)
        .unwrap_or_default();
    t.output(&line);
    t.note("Redis is fine (redis-cli still talks to it): only a restart brings the app back");
    Ok(())
}

fn redis_cli(value: Option<String>) -> String {
    match value {
        Some(value) => format!("\"{value}\""),
        None => "(nil)".into(),
    }
}

/// Closes the Redis connections `pid` holds, by id: `CLIENT LIST` says which client is which
/// address; the process's own sockets say which addresses are its own (`/proc` on Linux, `lsof`
/// on macOS).
pub(crate) fn kill_connections_of(pid: u32, redis: &mut redis::Connection) -> Result<usize> {
    let locals = local_addresses(pid)?;
    let clients: String = redis::cmd("CLIENT").arg("LIST").query(redis)?;
    let mut killed = 0;
    for client in clients.lines() {
        let field = |name: &str| {
            client
                .split(' ')
                .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
                .unwrap_or_default()
                .to_string()
        };
        if locals.contains(&field("addr")) {
            let _: i64 = redis::cmd("CLIENT")
                .arg("KILL")
                .arg("ID")
                .arg(field("id"))
                .query(redis)?;
            killed += 1;
        }
    }
    Ok(killed)
}

/// The local `ip:port` of each TCP connection `pid` holds.
fn local_addresses(pid: u32) -> Result<Vec<String>> {
    if cfg!(target_os = "linux") {
        return Ok(kit_harness::procfs::tcp_connections(pid)
            .iter()
            .map(|connection| connection.local.to_string())
            .collect());
    }
    // macOS: `lsof -a -p PID -iTCP -n -P` lists `local->remote`.
    let output = Command::new("lsof")
        .args(["-a", "-p", &pid.to_string(), "-iTCP", "-n", "-P", "-Fn"])
        .output()
        .context("cannot run lsof")?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_prefix('n'))
        .filter_map(|pair| pair.split_once("->").map(|(local, _)| local.to_string()))
        .collect())
}

/// Factor V: the build machine's banner in the release, and a template read from the checkout.
pub fn build_release_run(world: &mut World, exercise: &Exercise, t: &mut Transcript) -> Result<()> {
    t.command(
        "NOTICEBOARD_BANNER=\"Street party on Saturday\" cargo build -p ex05-build-release-run",
    );
    let built = exercise.rebuild(
        &world.root,
        &[(
            "NOTICEBOARD_BANNER".to_string(),
            "Street party on Saturday".to_string(),
        )]
        .into(),
    )?;
    t.command("RELEASE_ID=v42 NOTICEBOARD_BANNER=\"Bins go out on Tuesday\" ./target/debug/ex05-build-release-run");
    let app = world
        .process(built.binary(None))
        .env("RELEASE_ID", "v42")
        .env("NOTICEBOARD_BANNER", "Bins go out on Tuesday")
        .spawn();
    t.command(&format!(
        "curl -s {} | grep -E 'banner|footer'",
        url("PORT", "/")
    ));
    let home = app.get("/").body;
    t.output(
        &home
            .lines()
            .filter(|line| line.contains("banner") || line.contains("footer"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    t.command(&format!("curl {}", url("PORT", "/release")));
    t.output(&app.get("/release").body);
    t.command("grep -c \"Street party\" target/debug/ex05-build-release-run");
    let bytes = std::fs::read(built.binary(None))?;
    let count = bytes
        .windows(b"Street party".len())
        .filter(|window| *window == b"Street party")
        .count();
    t.output(&count.min(1).to_string());
    t.note("the release ignored its own config; the build's banner is in the binary's bytes");
    // Take the template away as a server without the checkout would, and put it back whatever
    // happens next (the demo's world restores it even on a panic).
    let templates = built.dir.join("templates");
    let away = built.dir.join("templates.away");
    std::fs::rename(&templates, &away).context("cannot move the templates away")?;
    let (from, to) = (away.clone(), templates.clone());
    world.on_exit(move || {
        if from.exists() && !to.exists() {
            let _ = std::fs::rename(&from, &to);
        }
    });
    t.command(
        "mv exercises/05-build-release-run/templates exercises/05-build-release-run/templates.away",
    );
    t.command(&format!("curl -si {} | head -1", url("PORT", "/")));
    t.output(&format!("HTTP/1.1 {}", app.get("/").status));
    std::fs::rename(&away, &templates).context("cannot put the templates back")?;
    t.command(
        "mv exercises/05-build-release-run/templates.away exercises/05-build-release-run/templates",
    );
    t.note("the binary reads the template from this checkout, on this machine");
    Ok(())
}

/// Factor VI: two replicas that disagree, a restart that forgets, a session only one knows.
pub fn processes(world: &mut World, exercise: &Exercise, t: &mut Transcript) -> Result<()> {
    let redis_url = world.redis().url();
    let replica = |name: &str| -> App {
        world
            .process(exercise.binary(None))
            .name(name)
            .env("REDIS_URL", redis_url.clone())
            .spawn()
    };
    t.note("replica A on $A and replica B on $B, both with REDIS_URL=redis://127.0.0.1:6379/$DB");
    let mut a = replica("replica A");
    let b = replica("replica B");
    for (name, app) in [("A", &a), ("A", &a), ("B", &b)] {
        t.command(&format!("curl {}", url(name, "/")));
        t.output(&app.get("/").body);
    }
    for (name, app) in [("A", &a), ("B", &b)] {
        t.command(&format!("curl {}", url(name, "/visits")));
        t.output(&app.get("/visits").body);
    }
    t.note("three visits, and neither replica knows it; now restart replica A");
    a.kill();
    let a = replica("replica A, restarted");
    t.command(&format!("curl {}", url("A", "/visits")));
    t.output(&a.get("/visits").body);
    t.command(&format!(
        "TOKEN=$(curl -s {} -H 'Content-Type: application/json' -d '{{\"name\":\"ada\"}}' | sed -E 's/.*\"token\":\"([^\"]+)\".*/\\1/')",
        url("A", "/login")
    ));
    let token = a
        .post_json("/login", &json!({"name": "ada"}))
        .json::<serde_json::Value>()
        .and_then(|body| body["token"].as_str().map(str::to_string))
        .context("POST /login gave no token")?;
    let bearer = format!("Bearer {token}");
    for (name, app) in [("A", &a), ("B", &b)] {
        t.command(&format!(
            "curl {} -H \"Authorization: Bearer $TOKEN\"",
            url(name, "/me")
        ));
        t.output(&app.get_with("/me", &[("Authorization", &bearer)]).body);
    }
    t.note("behind a load balancer, ada is logged out on every other click");
    Ok(())
}

/// The first `count` lines the process wrote.
pub fn first_lines(app: &App, count: usize) -> String {
    app.output()
        .lines()
        .take(count)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Log lines without their leading timestamp (`2026-11-28T21:31:23.292831Z  INFO …`).
pub fn without_times(text: &str) -> String {
    text.lines()
        .map(without_time)
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn without_time(line: &str) -> String {
    let line = kit_harness::noticeboard::strip_ansi(line);
    let line = line.as_str();
    let first = line.split_whitespace().next().unwrap_or_default();
    let looks_like_time = first.len() >= 20 && first.as_bytes()[4] == b'-' && first.contains('T');
    if looks_like_time {
        line[first.len()..].trim_start().to_string()
    } else {
        line.to_string()
    }
}
