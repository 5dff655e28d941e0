//! The "See it break" demos of Factors VII to XII, as their chapters tell them.

use super::early::{first_lines, without_time, without_times};
use super::world::World;
use super::{Exercise, Transcript};
use anyhow::{Context, Result};
use kit_harness::{App, HttpStub, Signal};
use serde_json::json;
use std::time::{Duration, Instant};

fn url(name: &str, path: &str) -> String {
    format!("localhost:${name}{path}")
}

/// Waits up to `timeout` for a line of `app`'s output containing `text`.
fn wait_for(app: &App, text: &str, timeout: Duration) -> Option<String> {
    app.wait_for_line(timeout, |line| line.contains(text))
        .map(|line| without_time(&line.text))
}

/// What `curl` says when nothing answers on the port.
fn curl_error(result: Result<kit_harness::Reply, String>, port: u16) -> String {
    match result {
        Ok(reply) => format!("HTTP/1.1 {}\n{}", reply.status, reply.body.trim_end()),
        Err(_) => format!(
            "curl: (7) Failed to connect to localhost port {port}: Couldn't connect to server"
        ),
    }
}

/// Factor VII: a port of its own choosing, a second copy that cannot start, loopback only, and a
/// `PORT` that is not a port accepted in silence.
pub fn port_binding(world: &mut World, exercise: &Exercise, t: &mut Transcript) -> Result<()> {
    t.command("PORT=$PORT cargo run -p ex07-port-binding");
    let first = world.process(exercise.binary(None)).start();
    t.output(&wait_for(&first, "listening", Duration::from_secs(5)).unwrap_or_default());
    t.command(&format!("curl {}", url("PORT", "/")));
    t.output(&curl_error(first.try_get("/"), first.port()));
    t.note("a platform waits for $PORT, finds nothing, and kills the process as failed");
    t.command("PORT=$OTHER cargo run -p ex07-port-binding");
    let mut second = world.process(exercise.binary(None)).start();
    let _ = second.wait_exit(Duration::from_secs(5));
    t.output(&without_times(&second.output()));
    if cfg!(target_os = "linux") {
        t.command(
            "ss -ltn 'sport = :8080'   # the listening sockets of the first copy, from /proc",
        );
        for address in kit_harness::procfs::listening_sockets(first.pid()) {
            t.output(&format!("LISTEN {address}"));
        }
    } else {
        t.command("lsof -a -p <pid> -iTCP -sTCP:LISTEN -n -P   # macOS has no ss");
        let lsof = std::process::Command::new("lsof")
            .args([
                "-a",
                "-p",
                &first.pid().to_string(),
                "-iTCP",
                "-sTCP:LISTEN",
                "-n",
                "-P",
                "-Fn",
            ])
            .output()?;
        for line in String::from_utf8_lossy(&lsof.stdout).lines() {
            if let Some(address) = line.strip_prefix('n') {
                t.output(&format!("LISTEN {address}"));
            }
        }
    }
    t.note("127.0.0.1: in a container, nothing from outside could reach it");
    drop(first);
    t.command("PORT=abc cargo run -p ex07-port-binding");
    let third = world
        .process(exercise.binary(None))
        .env("PORT", "abc")
        .start();
    t.output(
        &wait_for(&third, "listening", Duration::from_secs(5))
            .unwrap_or_else(|| without_times(&third.output())),
    );
    t.note("no complaint: the typo would surface later as a health check that never passes");
    Ok(())
}

/// Factor VIII: a delivery made inside the web process, lost when the process stops, and no
/// other process type to take it over. The exercise's Procfile runs under the kit's own Procfile
/// runner (`deploy::formation`), which stops one process without stopping the rest.
pub fn concurrency(world: &mut World, exercise: &Exercise, t: &mut Transcript) -> Result<()> {
    use crate::deploy::formation::{Formation, LogSink, Settings};
    use crate::deploy::procfile::{Procfile, Scale};
    let webhook = HttpStub::start().delay(Duration::from_secs(5));
    let database = world.database().url();
    let redis_url = world.redis().url();
    let procfile = Procfile::read(&exercise.dir.join("Procfile"))?;
    let scratch = tempfile::tempdir()?;
    let settings = Settings {
        env: [
            ("DATABASE_URL".to_string(), database.clone()),
            ("REDIS_URL".to_string(), redis_url.clone()),
            ("WEBHOOK_URL".to_string(), webhook.url("/hook")),
            ("RUST_LOG".to_string(), "info".to_string()),
        ]
        .into(),
        bin_dirs: vec![exercise.bin_dir.clone()],
        cwd: scratch.path().to_path_buf(),
        // The merged log (times, pids) stays out of the transcript: it differs on every run.
        logs: LogSink::new(std::io::sink()),
        grace: Duration::from_secs(5),
        readiness: "/health".into(),
    };
    t.note("a webhook that takes 5 s to answer listens on $HOOK; DATABASE_URL is the demo's own database");
    t.command("cat exercises/08-concurrency/Procfile | grep -v '^#'");
    t.output(&procfile_lines(&exercise.dir.join("Procfile")));
    t.command(
        "cargo xtask deploy --procfile exercises/08-concurrency/Procfile --scale web=1,worker=1",
    );
    match Scale::parse("web=1,worker=1").and_then(|scale| scale.check_against(&procfile)) {
        Ok(()) => t.output("(it started a worker)"),
        Err(err) => t.output(&format!("error: {err:#}")),
    }
    t.note("there is no other process type to scale: start the one there is");
    t.command("cargo xtask deploy --procfile exercises/08-concurrency/Procfile --scale web=1");
    let mut formation = Formation::start(&procfile, &Scale::parse("web=1")?, settings)?;
    formation.wait_ready("web.1", Duration::from_secs(10))?;
    let port = formation
        .process("web.1")
        .map(|process| process.port)
        .context("web.1 is not running")?;
    t.command(&format!(
        "curl -i {} -H 'Content-Type: application/json' -d '{{\"name\":\"ada\",\"message\":\"hello\"}}'",
        url("PORT", "/notifications")
    ));
    let posted = kit_harness::http::post_json(
        &format!("http://127.0.0.1:{port}/notifications"),
        &json!({"name": "ada", "message": "hello"}),
    )
    .map_err(anyhow::Error::msg)?;
    t.output(&format!(
        "HTTP/1.1 {}\n{}",
        posted.status,
        posted.body.trim_end()
    ));
    let calls = webhook.wait_for_calls(1, Duration::from_secs(5));
    t.command("# Ctrl+C for web.1 alone, while the webhook still holds the call");
    formation.kill("web.1", Signal::SIGINT)?;
    let received = calls
        .first()
        .and_then(|call| call.json())
        .map(|body| format!("{} {}", body["name"], body["message"]))
        .unwrap_or_else(|| "nothing".into());
    t.output(&format!(
        "(the webhook received {received}, and never got to answer)"
    ));
    std::thread::sleep(Duration::from_secs(1));
    t.command("psql \"$DATABASE_URL\" -c 'SELECT id, name, delivered_at, attempts FROM outbox'");
    let rows = |world: &mut World| {
        world.database().rows(
            "SELECT id::text, name, coalesce(delivered_at::text, ''), attempts::text FROM outbox ORDER BY id",
        )
    };
    print_rows(t, &["id", "name", "delivered_at", "attempts"], &rows(world));
    t.note("start a web process again: nothing retries row 1, now or ever");
    let again = formation.start_process("web")?;
    formation.wait_ready(&again, Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_secs(2));
    t.command("psql \"$DATABASE_URL\" -c 'SELECT id, name, delivered_at, attempts FROM outbox'");
    print_rows(t, &["id", "name", "delivered_at", "attempts"], &rows(world));
    formation.stop();
    t.command("cargo run -q -p ex08-concurrency -- worker");
    let worker = world
        .process(exercise.binary(None))
        .arg("worker")
        .env("DATABASE_URL", database.clone())
        .run_to_end(Duration::from_secs(5));
    t.output(&worker.stderr);
    Ok(())
}

/// A Procfile's process types, without its comments.
fn procfile_lines(path: &std::path::Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Rows as psql prints them (without its column alignment).
fn print_rows(t: &mut Transcript, columns: &[&str], rows: &[Vec<Option<String>>]) {
    t.output(&format!(" {}", columns.join(" | ")));
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .map(|cell| cell.clone().unwrap_or_default())
            .collect();
        t.output(&format!(" {}", cells.join(" | ")));
    }
    t.output(&format!(
        "({} row{})",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    ));
}

/// Factor IX: a slow start, a request cut off by SIGTERM, a job lost by a stopped worker.
pub fn disposability(world: &mut World, exercise: &Exercise, t: &mut Transcript) -> Result<()> {
    let database = world.database().url();
    let web = |world: &World| {
        world
            .process(exercise.binary(None))
            .name("web")
            .env("DATABASE_URL", database.clone())
            .start()
    };
    t.command("./target/debug/ex09-disposability & WEB=$!");
    let mut first = web(world);
    std::thread::sleep(Duration::from_millis(300));
    t.command(&format!("curl {}", url("PORT", "/health")));
    t.output(&curl_error(first.try_get("/health"), first.port()));
    let started = Instant::now();
    first.wait_ready(Some("/health"), Duration::from_secs(20));
    t.varies(&format!(
        "(it answers ok {:.0} s later)",
        started.elapsed().as_secs_f64() + 0.3
    ));
    t.command(&format!(
        "curl '{}' & sleep 1; kill -TERM $WEB",
        url("PORT", "/slow?ms=5000")
    ));
    let reply = std::thread::scope(|scope| {
        let slow = scope.spawn(|| first.try_get("/slow?ms=5000"));
        std::thread::sleep(Duration::from_secs(1));
        first.signal(Signal::SIGTERM);
        slow.join()
    })
    .map_err(|_| anyhow::anyhow!("the slow request failed"))?;
    t.output(&match reply {
        Ok(reply) => format!("HTTP/1.1 {}", reply.status),
        Err(_) => "curl: (52) Empty reply from server".into(),
    });
    let _ = first.wait_exit(Duration::from_secs(5));
    t.note("the request was cut off; now a worker whose webhook (the web process's /slow) holds each delivery 10 s");
    t.command("./target/debug/ex09-disposability & WEB=$!");
    let mut second = web(world);
    second.wait_ready(Some("/health"), Duration::from_secs(20));
    t.command(
        "WEBHOOK_URL='http://127.0.0.1:$PORT/slow?ms=10000' ./target/debug/ex09-disposability worker & WORKER=$!",
    );
    let mut worker = world
        .process(exercise.binary(None))
        .name("worker")
        .arg("worker")
        .env("DATABASE_URL", database.clone())
        .env("WEBHOOK_URL", second.url("/slow?ms=10000"))
        .start();
    t.command(&format!(
        "curl {} -H 'Content-Type: application/json' -d '{{\"name\":\"ada\",\"message\":\"hello\"}}'",
        url("PORT", "/notifications")
    ));
    t.output(
        &second
            .post_json(
                "/notifications",
                &json!({"name": "ada", "message": "hello"}),
            )
            .body,
    );
    t.command("sleep 1; kill -TERM $WORKER");
    // One second into the delivery, as the book times it: first wait until the worker has taken
    // the job (on a busy machine it may need longer than a second to start).
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline
        && world.database().rows("SELECT count(*)::text FROM jobs")
            != vec![vec![Some("0".to_string())]]
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    worker.signal(Signal::SIGTERM);
    let _ = worker.wait_exit(Duration::from_secs(5));
    t.command("psql \"$DATABASE_URL\" -c 'SELECT count(*) FROM jobs'");
    let count = world.database().rows("SELECT count(*)::text FROM jobs");
    print_rows(t, &["count"], &count);
    t.note("the queue is empty and the webhook never answered: ada's notification is lost");
    drop(second);
    Ok(())
}

/// Factor X: development and production, same code, different answers.
pub fn dev_prod_parity(world: &mut World, exercise: &Exercise, t: &mut Transcript) -> Result<()> {
    let database = world.database().url();
    let start_dev = |world: &World| {
        world
            .process(exercise.binary(None))
            .name("development")
            .env("APP_ENV", "development")
            .spawn()
    };
    t.note("the production process gets a database of the demo's own (the book's parity_demo)");
    t.command("APP_ENV=development PORT=$DEV cargo run -p ex10-dev-prod-parity");
    let dev = start_dev(world);
    t.command("APP_ENV=production PORT=$PROD DATABASE_URL=postgres://…/parity_demo cargo run -p ex10-dev-prod-parity");
    let prod = world
        .process(exercise.binary(None))
        .name("production")
        .env("APP_ENV", "production")
        .env("DATABASE_URL", database)
        .spawn();
    t.command("for port in $DEV $PROD; do curl … ada 'Standup moved to 10:00'; curl … grace 'Deploy freeze starts Friday'; done");
    for app in [&dev, &prod] {
        app.post_json(
            "/notifications",
            &json!({"name": "ada", "message": "Standup moved to 10:00"}),
        );
        app.post_json(
            "/notifications",
            &json!({"name": "grace", "message": "Deploy freeze starts Friday"}),
        );
    }
    for (name, app) in [("DEV", &dev), ("PROD", &prod)] {
        t.command(&format!("curl -s {}", url(name, "/notifications")));
        t.output(&app.get("/notifications").body);
    }
    t.note("same code, same requests, two different orders");
    t.command("LONG=$(printf 'x%.0s' $(seq 281))");
    let long = "x".repeat(281);
    for (name, app) in [("DEV", &dev), ("PROD", &prod)] {
        t.command(&format!(
            "curl -s -o /dev/null -w '%{{http_code}}\\n' {} -H 'Content-Type: application/json' -d \"{{\\\"name\\\":\\\"linus\\\",\\\"message\\\":\\\"$LONG\\\"}}\"",
            url(name, "/notifications")
        ));
        t.output(
            &app.post_json("/notifications", &json!({"name": "linus", "message": long}))
                .status
                .to_string(),
        );
    }
    t.note("development accepts what production rejects; now restart development");
    drop(dev);
    let dev = start_dev(world);
    t.command(&format!("curl -s {}", url("DEV", "/notifications")));
    t.output(&dev.get("/notifications").body);
    t.command(&format!("curl -s {}", url("PROD", "/notifications")));
    t.output(&prod.get("/notifications").body);
    Ok(())
}

/// Factor XI: one line on stdout, the rest in a file the process holds open.
pub fn logs(world: &mut World, exercise: &Exercise, t: &mut Transcript) -> Result<()> {
    t.note("run from a scratch folder (the book runs it at the repository root, where log/ is git-ignored)");
    t.command("PORT=$PORT cargo run -q -p ex11-logs");
    let app = world.process(exercise.binary(None)).spawn();
    t.output(&first_lines(&app, 1));
    for path in ["/notifications/2", "/notifications/99"] {
        t.command(&format!("curl -s {}", url("PORT", path)));
        t.output(&app.get(path).body);
    }
    t.command("tail -n 3 log/noticeboard.log");
    let file = app.home().join("log/noticeboard.log");
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("{} is missing", file.display()))?;
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    t.output(&without_times(&tail.join("\n")));
    if cfg!(target_os = "linux") {
        t.command("ls -l /proc/$(pgrep -n ex11-logs)/fd | grep noticeboard.log");
        for path in kit_harness::procfs::files_open_for_writing(app.pid()) {
            if path.ends_with("log/noticeboard.log") {
                t.output("l-wx------ … -> …/log/noticeboard.log");
            }
        }
    } else {
        t.command("lsof -p <pid> | grep noticeboard.log   # macOS has no /proc");
        let lsof = std::process::Command::new("lsof")
            .args(["-p", &app.pid().to_string()])
            .output()?;
        for line in String::from_utf8_lossy(&lsof.stdout).lines() {
            if line.contains("noticeboard.log") {
                t.output("… w … …/log/noticeboard.log");
            }
        }
    }
    t.note("now turn the level up, as an operator would");
    drop(app);
    t.command("RUST_LOG=debug PORT=$PORT cargo run -q -p ex11-logs");
    let debug = world
        .process(exercise.binary(None))
        .env("RUST_LOG", "debug")
        .spawn();
    std::thread::sleep(Duration::from_millis(300));
    t.output(&first_lines(&debug, 1));
    t.note("nothing changes: the level is INFO because the code says so");
    Ok(())
}

/// Factor XII: an open admin route, a migrate that asks for psql, and replicas racing to create
/// the schema.
pub fn admin_processes(world: &mut World, exercise: &Exercise, t: &mut Transcript) -> Result<()> {
    let database = world.database().url();
    t.note("DATABASE_URL is a database of the demo's own (the book's admin_demo)");
    t.command("PORT=$PORT cargo run -p ex12-admin-processes --bin ex12-admin-processes");
    let web = world
        .process(exercise.binary(None))
        .env("DATABASE_URL", database.clone())
        .spawn();
    for _ in 0..2 {
        t.command(&format!("curl {}", url("PORT", "/")));
        t.output(&web.get("/").body);
    }
    t.command(&format!("curl -X POST {}", url("PORT", "/admin/reset")));
    t.output(&web.post_json("/admin/reset", &json!({})).body);
    t.command(&format!("curl {}", url("PORT", "/visits")));
    t.output(&web.get("/visits").body);
    drop(web);
    t.command("cargo run -q -p ex12-admin-processes --bin ex12-admin-processes-migrate; echo $?");
    let migrate = world
        .process(exercise.binary(Some("ex12-admin-processes-migrate")))
        .env("DATABASE_URL", database.clone())
        .run_to_end(Duration::from_secs(20));
    t.output(&format!("{}{}", migrate.stdout, migrate.stderr));
    t.output(&migrate.status.code().unwrap_or(-1).to_string());
    t.note("the race: drop the table, start six web processes at the same moment; three rounds");
    t.command("psql \"$DATABASE_URL\" -c 'DROP TABLE visits'; for port in 1 2 3 4 5 6; do target/debug/ex12-admin-processes & done");
    let mut died = 0;
    let mut example = None;
    for _ in 0..3 {
        world.database().execute("DROP TABLE IF EXISTS visits");
        let mut replicas: Vec<App> = (0..6)
            .map(|_| {
                world
                    .process(exercise.binary(None))
                    .env("DATABASE_URL", database.clone())
                    .start()
            })
            .collect();
        std::thread::sleep(Duration::from_secs(3));
        for replica in &mut replicas {
            if replica.poll_exit().is_some() {
                died += 1;
                example.get_or_insert_with(|| without_times(&replica.output()));
            }
        }
    }
    t.varies(&format!(
        "{died} of 18 replicas died before serving a request"
    ));
    if let Some(example) = example {
        t.varies(&example);
    }
    t.note("two replicas both saw no table and both created it; how often depends on the machine");
    Ok(())
}
