//! `verify`'s step for `deploy/`: the Dockerfile, the compose file and the Kubernetes manifests
//! of the finished noticeboard, validated offline, then held to the kit's own rules.
//!
//! - **Dockerfile:** parsed with BuildKit's parser (PyPI `dockerfile`); several stages; every base
//!   image pinned by digest or an exact version; the run stage copies only from the build stage and
//!   runs as a non-root user; it starts one of the app's binaries.
//! - **Compose:** `config` by a real Docker Compose (no engine needed, as for the kit's own compose
//!   file); `migrate` is a one-off that `web` and `worker` wait for
//!   (`service_completed_successfully`); `web` and `worker` can be scaled (no container name, no
//!   host port); images pinned; the stop grace period above the app's.
//! - **Kubernetes:** every manifest against the schemas of Kubernetes [`KUBERNETES_VERSION`]
//!   (PyPI `kubernetes-validate`, strict: unknown fields are errors); then the kit's rules: the
//!   objects the app needs exist; each pod's `terminationGracePeriodSeconds` is above the app's
//!   grace period (plus the web pods' `preStop` pause); `preStop` uses the `sleep` action; requests,
//!   non-root, read-only root filesystem everywhere; the Secret holds examples only.
//! - **Against the real app:** every probe and health-check path (Kubernetes, HAProxy) is asked of
//!   the built binary, which must know it; the readiness paths are one, the local platform's
//!   (`/health/ready`), and do not answer `200` with the database unreachable; and every process (Deployments, Jobs, compose services)
//!   is started with exactly the environment its manifest provides, and must not stop naming a
//!   missing or malformed variable.

use crate::deploy::apps::FINISHED_READINESS;
use crate::engine::testrun::{self, Build};
use crate::engine::tools;
use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The Kubernetes release the manifests are validated against. 1.34 is the first with the
/// `preStop` `sleep` action generally available.
pub const KUBERNETES_VERSION: &str = "1.34.0";

/// The app's grace period when `SHUTDOWN_GRACE_SECONDS` is not set (`noticeboard/src/config.rs`).
const DEFAULT_GRACE_SECONDS: f64 = 3.0;

pub fn check(root: &Path) -> Result<String> {
    let app = build_app(root)?;
    let dockerfile = dockerfile(root)?;
    let compose = compose(root, &app)?;
    let kubernetes = kubernetes(root, &app)?;
    Ok(format!("{dockerfile}; {compose}; {kubernetes}"))
}

fn build_app(root: &Path) -> Result<PathBuf> {
    match testrun::build_app(root, "noticeboard", &BTreeMap::new())? {
        Build::Failed { errors } => bail!("noticeboard does not compile:\n{}", errors.join("\n")),
        Build::Built { .. } => Ok(root.join("target/debug")),
    }
}

// --- Dockerfile -------------------------------------------------------------------------------

const DOCKERFILE: &str = "deploy/Dockerfile";

/// The instructions BuildKit knows; the parser itself accepts any word.
const INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// One parsed instruction.
struct Instruction {
    cmd: String,
    value: Vec<String>,
    flags: Vec<String>,
    line: u64,
}

fn dockerfile(root: &Path) -> Result<String> {
    let parsed = tools::python_package(
        root,
        "python-dockerfile",
        tools::DOCKERFILE_PARSER,
        "dockerfile",
    )?
    .args([
        "-c",
        "import dockerfile, json, sys\n\
         print(json.dumps([{'cmd': c.cmd, 'value': list(c.value), 'flags': list(c.flags), \
         'line': c.start_line} for c in dockerfile.parse_file(sys.argv[1])]))",
    ])
    .arg(root.join(DOCKERFILE))
    .output()?;
    ensure!(
        parsed.status.success(),
        "{DOCKERFILE} does not parse: {}",
        String::from_utf8_lossy(&parsed.stderr).trim()
    );
    let instructions: Vec<Instruction> = serde_json::from_slice::<Vec<Value>>(&parsed.stdout)?
        .iter()
        .map(|item| Instruction {
            cmd: item["cmd"].as_str().unwrap_or_default().to_uppercase(),
            value: strings(&item["value"]),
            flags: strings(&item["flags"]),
            line: item["line"].as_u64().unwrap_or_default(),
        })
        .collect();
    check_dockerfile(&instructions)
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item.as_str().map(str::to_string))
        .collect()
}

fn check_dockerfile(instructions: &[Instruction]) -> Result<String> {
    for instruction in instructions {
        ensure!(
            INSTRUCTIONS.contains(&instruction.cmd.as_str()),
            "{DOCKERFILE}:{}: `{}` is not a Dockerfile instruction",
            instruction.line,
            instruction.cmd
        );
    }
    // Stages: each FROM starts one; the last one is the image that runs.
    let mut stages: Vec<Vec<&Instruction>> = Vec::new();
    for instruction in instructions {
        if instruction.cmd == "FROM" {
            stages.push(Vec::new());
        }
        match stages.last_mut() {
            Some(stage) => stage.push(instruction),
            None if instruction.cmd == "ARG" => {}
            None => bail!(
                "{DOCKERFILE}:{}: `{}` before the first FROM",
                instruction.line,
                instruction.cmd
            ),
        }
    }
    ensure!(
        stages.len() >= 2,
        "{DOCKERFILE} has {} stage(s): build in one stage and copy the binary into a small run \
         stage, so the image holds neither the toolchain nor the source",
        stages.len()
    );
    let names: Vec<String> = stages
        .iter()
        .filter_map(|stage| {
            let from = &stage[0].value;
            (from.len() == 3 && from[1].eq_ignore_ascii_case("as")).then(|| from[2].clone())
        })
        .collect();
    for stage in &stages {
        let image = stage[0].value.first().cloned().unwrap_or_default();
        if names.contains(&image) {
            continue;
        }
        ensure!(
            pinned(&image),
            "{DOCKERFILE}:{}: base image {image:?} is not pinned: name an exact version \
             (`rust:1.95.0-bookworm`) or a digest (`@sha256:…`), never `latest` or a bare major, \
             so that a rebuild uses the same layers",
            stage[0].line
        );
    }
    let run = stages.last().expect("two stages at least");
    for instruction in run.iter() {
        if matches!(instruction.cmd.as_str(), "COPY" | "ADD") {
            ensure!(
                instruction.cmd == "COPY"
                    && instruction
                        .flags
                        .iter()
                        .any(|flag| flag.starts_with("--from=")),
                "{DOCKERFILE}:{}: the run stage takes files from the build context (`{} {}`): it \
                 must hold the binaries only, copied `--from=` the build stage",
                instruction.line,
                instruction.cmd,
                instruction.value.join(" ")
            );
        }
    }
    let user = run
        .iter()
        .rev()
        .find(|instruction| instruction.cmd == "USER")
        .and_then(|instruction| instruction.value.first().cloned());
    match user.as_deref() {
        None => bail!(
            "{DOCKERFILE}: the run stage has no USER: the app would run as root; add `USER 10001:10001`"
        ),
        Some(user) => {
            let name = user.split(':').next().unwrap_or_default();
            ensure!(
                name != "root" && name != "0",
                "{DOCKERFILE}: the run stage runs as {user:?}, which is root; use a non-root user \
                 such as `USER 10001:10001`"
            );
        }
    }
    let starts = run
        .iter()
        .rev()
        .find(|instruction| matches!(instruction.cmd.as_str(), "CMD" | "ENTRYPOINT"))
        .and_then(|instruction| instruction.value.first().cloned())
        .unwrap_or_default();
    ensure!(
        ["noticeboard", "migrate", "reset-visits"].contains(&starts.as_str()),
        "{DOCKERFILE}: the image starts {starts:?}, not one of the app's binaries"
    );
    Ok(format!(
        "{DOCKERFILE}: {} stages, base images pinned, runs as non-root",
        stages.len()
    ))
}

/// An image reference pinned to exact content: a digest, or a tag that starts with a version of
/// at least two numbers (`1.95.0-bookworm`, `12.12-slim`, `15.8`), not `latest`, not `15`.
fn pinned(image: &str) -> bool {
    if image.contains("@sha256:") {
        return true;
    }
    let tag = match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') && !name.is_empty() => tag,
        _ => return false,
    };
    let mut parts = tag.split(['.', '-']);
    let numeric = |part: Option<&str>| {
        part.is_some_and(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
    };
    numeric(parts.next()) && numeric(parts.next())
}

// --- Compose ----------------------------------------------------------------------------------

const COMPOSE: &str = "deploy/compose.yaml";

fn compose(root: &Path, app: &Path) -> Result<String> {
    let validator = tools::compose(root)?;
    let mut command = Command::new(&validator[0]);
    command
        .args(&validator[1..])
        .args(["--file", COMPOSE, "config", "--format", "json"])
        .current_dir(root);
    // Validate the file's defaults, not whatever this shell exports.
    for variable in [
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "POSTGRES_DB",
        "RELEASE_ID",
        "DEPLOY_NAME",
        "NOTICEBOARD_BANNER",
        "WEBHOOK_URL",
        "RUST_LOG",
        "NOTICEBOARD_PORT",
    ] {
        command.env_remove(variable);
    }
    let output = command.output()?;
    ensure!(
        output.status.success(),
        "{COMPOSE}: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let config: Value = serde_json::from_slice(&output.stdout)?;
    let services = &config["services"];
    for name in ["postgres", "redis", "migrate", "web", "worker", "lb"] {
        ensure!(
            services[name].is_object(),
            "{COMPOSE} has no `{name}` service"
        );
    }
    for (name, service) in services.as_object().into_iter().flatten() {
        if service["build"].is_object() {
            continue;
        }
        let image = service["image"].as_str().unwrap_or_default();
        ensure!(
            pinned(image),
            "{COMPOSE}: service `{name}` uses image {image:?}, not pinned to an exact version"
        );
    }
    ensure!(
        command_of(&services["migrate"]).first().map(String::as_str) == Some("migrate"),
        "{COMPOSE}: the `migrate` service must run `migrate` (the release phase)"
    );
    for name in ["web", "worker"] {
        let service = &services[name];
        ensure!(
            service["depends_on"]["migrate"]["condition"] == "service_completed_successfully",
            "{COMPOSE}: `{name}` must wait for the release phase: depends_on migrate with \
             condition service_completed_successfully"
        );
        ensure!(
            service["container_name"].is_null()
                && service["ports"].as_array().is_none_or(Vec::is_empty),
            "{COMPOSE}: `{name}` sets a container name or publishes a host port, so `--scale \
             {name}=3` cannot start three of it; publish only the load balancer"
        );
        let grace = grace_of(&environment_of(service))?;
        let stop = duration_seconds(service["stop_grace_period"].as_str().unwrap_or("10s"))?;
        ensure!(
            stop > grace,
            "{COMPOSE}: `{name}` stop_grace_period is {stop} s, not above the app's \
             SHUTDOWN_GRACE_SECONDS ({grace} s): Compose would SIGKILL it mid-drain"
        );
    }
    // The load balancer's health check asks a path the app knows.
    let haproxy = std::fs::read_to_string(root.join("deploy/haproxy.cfg"))
        .context("deploy/haproxy.cfg is missing")?;
    let health = haproxy
        .lines()
        .find_map(|line| line.trim().strip_prefix("option httpchk GET "))
        .map(str::trim)
        .context(
            "deploy/haproxy.cfg has no `option httpchk GET <path>`: HAProxy must check readiness",
        )?;
    is_the_readiness_probe(app, health, "deploy/haproxy.cfg `option httpchk`")?;
    for name in ["migrate", "web", "worker", "reset-visits"] {
        let service = &services[name];
        if !service.is_object() {
            continue;
        }
        let command = command_of(service);
        let binary = command.first().cloned().unwrap_or_default();
        starts_with_its_environment(
            app,
            &binary,
            &command[1..],
            environment_of(service),
            &format!("{COMPOSE} service `{name}`"),
        )?;
    }
    Ok(format!("{COMPOSE}: valid (`{}`)", validator.join(" ")))
}

fn command_of(service: &Value) -> Vec<String> {
    strings(&service["command"])
}

fn environment_of(service: &Value) -> BTreeMap<String, String> {
    service["environment"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| (key.clone(), value.as_str().unwrap_or_default().to_string()))
        .collect()
}

/// `10s`, `1m30s`, `500ms`, as Compose writes durations, in seconds.
fn duration_seconds(text: &str) -> Result<f64> {
    let mut total = 0.0;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let value: f64 = number
            .parse()
            .with_context(|| format!("duration {text:?}"))?;
        number.clear();
        total += match c {
            'h' => value * 3600.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                value / 1000.0
            }
            'm' => value * 60.0,
            's' => value,
            _ => bail!("duration {text:?} has an unknown unit {c:?}"),
        };
    }
    ensure!(number.is_empty(), "duration {text:?} has no unit");
    Ok(total)
}

/// The app's grace period in seconds, as this environment sets it.
fn grace_of(env: &BTreeMap<String, String>) -> Result<f64> {
    match env.get("SHUTDOWN_GRACE_SECONDS") {
        Some(value) => value
            .parse()
            .with_context(|| format!("SHUTDOWN_GRACE_SECONDS={value:?} is not a number")),
        None => Ok(DEFAULT_GRACE_SECONDS),
    }
}

// --- Kubernetes -------------------------------------------------------------------------------

const K8S: &str = "deploy/k8s";

fn kubernetes(root: &Path, app: &Path) -> Result<String> {
    let dir = root.join(K8S);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("{K8S} is missing"))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    ensure!(!files.is_empty(), "{K8S} holds no manifest");
    let python = || {
        tools::python_package(
            root,
            "python-kubernetes-validate",
            tools::KUBERNETES_VALIDATE,
            "kubernetes_validate",
        )
    };
    let output = python()?
        .args([
            "-m",
            "kubernetes_validate",
            "--strict",
            "--quiet",
            "-k",
            KUBERNETES_VERSION,
        ])
        .args(&files)
        .output()?;
    ensure!(
        output.status.success(),
        "{K8S} against Kubernetes {KUBERNETES_VERSION}'s schemas:\n{}{}",
        String::from_utf8_lossy(&output.stdout).trim(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    // The manifests as JSON (PyYAML ships with the validator).
    let output = python()?
        .args([
            "-c",
            "import json, sys, yaml\n\
             print(json.dumps([d for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d]))",
        ])
        .args(&files)
        .output()?;
    ensure!(
        output.status.success(),
        "cannot read {K8S}: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let objects: Vec<Value> = serde_json::from_slice(&output.stdout)?;
    let count = objects.len();
    let manifests = Manifests { objects };
    kubernetes_rules(&manifests, app)?;
    Ok(format!(
        "{K8S}: {count} objects valid for Kubernetes {KUBERNETES_VERSION}, the kit's rules hold"
    ))
}

struct Manifests {
    objects: Vec<Value>,
}

impl Manifests {
    fn find(&self, kind: &str, name: &str) -> Result<&Value> {
        self.objects
            .iter()
            .find(|object| object["kind"] == kind && object["metadata"]["name"] == name)
            .with_context(|| format!("{K8S} has no {kind} `{name}`"))
    }

    /// The variables a container gets: its `env` values, and every key of the ConfigMaps and
    /// Secrets it takes with `envFrom`.
    fn environment(&self, container: &Value) -> Result<BTreeMap<String, String>> {
        let mut env = BTreeMap::new();
        for source in container["envFrom"].as_array().into_iter().flatten() {
            let (kind, reference) = if source["configMapRef"].is_object() {
                ("ConfigMap", &source["configMapRef"])
            } else {
                ("Secret", &source["secretRef"])
            };
            let name = reference["name"].as_str().unwrap_or_default();
            let object = self.find(kind, name)?;
            for field in ["data", "stringData"] {
                for (key, value) in object[field].as_object().into_iter().flatten() {
                    env.insert(key.clone(), value.as_str().unwrap_or_default().to_string());
                }
            }
        }
        for variable in container["env"].as_array().into_iter().flatten() {
            if let Some(name) = variable["name"].as_str() {
                let value = variable["value"].as_str().unwrap_or_default();
                env.insert(name.to_string(), value.to_string());
            }
        }
        Ok(env)
    }
}

fn kubernetes_rules(manifests: &Manifests, app: &Path) -> Result<()> {
    for (kind, name) in [
        ("Deployment", "web"),
        ("Deployment", "worker"),
        ("Service", "web"),
        ("Ingress", "noticeboard"),
        ("ConfigMap", "noticeboard-config"),
        ("Secret", "noticeboard-secrets"),
        ("Job", "migrate"),
        ("Job", "reset-visits"),
        ("PodDisruptionBudget", "web"),
        ("HorizontalPodAutoscaler", "web"),
    ] {
        manifests.find(kind, name)?;
    }
    let web = manifests.find("Deployment", "web")?;
    let web_labels = &web["spec"]["template"]["metadata"]["labels"];
    let selects_web = |selector: &Value| {
        selector
            .as_object()
            .is_some_and(|pairs| pairs.iter().all(|(key, value)| &web_labels[key] == value))
    };
    ensure!(
        selects_web(&manifests.find("Service", "web")?["spec"]["selector"]),
        "{K8S}: Service `web` does not select the web pods' labels"
    );
    ensure!(
        selects_web(
            &manifests.find("PodDisruptionBudget", "web")?["spec"]["selector"]["matchLabels"]
        ),
        "{K8S}: PodDisruptionBudget `web` does not select the web pods' labels"
    );
    let target = &manifests.find("HorizontalPodAutoscaler", "web")?["spec"]["scaleTargetRef"];
    ensure!(
        target["kind"] == "Deployment" && target["name"] == "web",
        "{K8S}: HorizontalPodAutoscaler `web` must scale Deployment `web`"
    );
    let ingress = manifests.find("Ingress", "noticeboard")?;
    let backends: Vec<&Value> = ingress["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|rule| rule["http"]["paths"].as_array().into_iter().flatten())
        .map(|path| &path["backend"]["service"]["name"])
        .collect();
    ensure!(
        !backends.is_empty() && backends.iter().all(|name| *name == "web"),
        "{K8S}: Ingress `noticeboard` must route to Service `web`"
    );
    // Example credentials only: a real one must never be committed.
    let secret = manifests.find("Secret", "noticeboard-secrets")?;
    ensure!(
        secret["data"].is_null(),
        "{K8S}: Secret `noticeboard-secrets` has base64 `data`: keep the example readable \
         (`stringData`) so anyone can see it holds no real credential"
    );
    for (key, value) in secret["stringData"].as_object().into_iter().flatten() {
        let value = value.as_str().unwrap_or_default();
        if let Ok(url) = url::Url::parse(value)
            && let Some(password) = url.password()
        {
            ensure!(
                password.to_uppercase().contains("EXAMPLE"),
                "{K8S}: Secret `noticeboard-secrets` {key} holds a password that does not say \
                 it is an example: commit the shape of the Secret, never a credential"
            );
        }
    }

    for (kind, name, process) in [
        ("Deployment", "web", Some("web")),
        ("Deployment", "worker", Some("worker")),
        ("Job", "migrate", None),
        ("Job", "reset-visits", None),
    ] {
        let object = manifests.find(kind, name)?;
        let pod = &object["spec"]["template"]["spec"];
        let what = format!("{K8S}: {kind} `{name}`");
        let pod_non_root = pod["securityContext"]["runAsNonRoot"] == true;
        let containers: Vec<&Value> = pod["containers"].as_array().into_iter().flatten().collect();
        ensure!(!containers.is_empty(), "{what} has no container");
        for container in containers {
            let security = &container["securityContext"];
            ensure!(
                pod_non_root || security["runAsNonRoot"] == true,
                "{what}: runAsNonRoot is not set: the pod may run as root"
            );
            ensure!(
                security["readOnlyRootFilesystem"] == true,
                "{what}: readOnlyRootFilesystem is not true: the app writes nothing to disk \
                 (logs to stdout, state to backing services), so nothing should be able to"
            );
            let requests = &container["resources"]["requests"];
            ensure!(
                requests["cpu"].is_string() && requests["memory"].is_string(),
                "{what}: no resource requests (cpu and memory): the scheduler cannot place it, \
                 and the autoscaler cannot compute utilisation"
            );
            let env = manifests.environment(container)?;
            let grace = grace_of(&env)?;
            let command = strings(&container["command"]);
            let binary = command.first().cloned().unwrap_or_default();
            if kind == "Deployment" {
                let pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
                    .as_f64()
                    .unwrap_or(0.0);
                let period = pod["terminationGracePeriodSeconds"]
                    .as_f64()
                    .unwrap_or(30.0);
                ensure!(
                    period > grace + pause,
                    "{what}: terminationGracePeriodSeconds is {period} s, not above the preStop \
                     pause ({pause} s) plus the app's SHUTDOWN_GRACE_SECONDS ({grace} s): the \
                     kubelet would SIGKILL it mid-drain"
                );
                ensure!(
                    command.get(1).map(String::as_str) == process,
                    "{what} must run `noticeboard {}`",
                    process.unwrap_or_default()
                );
            }
            if name == "web" {
                let pre_stop = &container["lifecycle"]["preStop"];
                ensure!(
                    pre_stop["exec"].is_null()
                        && pre_stop["sleep"]["seconds"].as_f64().unwrap_or(0.0) > 0.0,
                    "{what}: preStop must pause with the `sleep` action (a few seconds, while \
                     endpoints update), not `exec` (the image need not have a `sleep` program)"
                );
                let readiness = container["readinessProbe"]["httpGet"]["path"]
                    .as_str()
                    .with_context(|| format!("{what} has no HTTP readinessProbe"))?;
                is_the_readiness_probe(app, readiness, &format!("{what} readinessProbe"))?;
                if let Some(liveness) = container["livenessProbe"]["httpGet"]["path"].as_str() {
                    route_exists(app, liveness, &format!("{what} livenessProbe"))?;
                }
            }
            starts_with_its_environment(app, &binary, &command[1..], env, &what)?;
        }
    }
    Ok(())
}

// --- Against the real app ---------------------------------------------------------------------

/// Postgres and Redis URLs that nothing answers: the app starts without them (it connects lazily).
const NOWHERE_DATABASE: &str = "postgres://nobody:nothing@127.0.0.1:1/nowhere";
const NOWHERE_REDIS: &str = "redis://127.0.0.1:1/0";

/// One readiness path everywhere: the load balancer of `deploy/`, Kubernetes and the local
/// platform (`cargo xtask deploy`) all send traffic on [`FINISHED_READINESS`]; the app serves it,
/// and it is a readiness probe: with the database unreachable it does not answer `200`.
fn is_the_readiness_probe(app: &Path, path: &str, what: &str) -> Result<()> {
    ensure!(
        path == FINISHED_READINESS,
        "{what} asks for {path}, but the app's readiness probe is {FINISHED_READINESS} (the \
         local platform's too, `xtask/src/deploy/apps.rs`): every platform must send traffic on \
         the same condition"
    );
    let status = route_exists(app, path, what)?;
    ensure!(
        status != 200,
        "{what}: {path} answered 200 while the app's database was unreachable: that is a liveness \
         probe, and a platform would send traffic to a replica that cannot serve it"
    );
    Ok(())
}

/// Asks the built web process for `path`: it must know it (any answer but 404); its status.
fn route_exists(app: &Path, path: &str, what: &str) -> Result<u16> {
    let started = std::panic::catch_unwind(|| {
        kit_harness::AppBuilder::new(app.join("noticeboard"))
            .name("noticeboard (deploy/ check)")
            .env("DATABASE_URL", NOWHERE_DATABASE)
            .env("REDIS_URL", NOWHERE_REDIS)
            .env("RELEASE_ID", "verify")
            .env("RUST_LOG", "warn")
            .spawn()
    });
    let app = started.map_err(|_| anyhow::anyhow!("the built noticeboard did not start"))?;
    let reply = app.get(path);
    ensure!(
        reply.status != 404,
        "{what} asks for {path}, which the app does not serve (404): a probe of a missing path \
         never succeeds, and the pods never receive traffic"
    );
    Ok(reply.status)
}

/// Starts `binary args` with exactly `env` (backing services pointed nowhere, the port free) and
/// fails if it stops within 1 s naming a variable of its contract: the manifest does not provide
/// everything the app requires.
fn starts_with_its_environment(
    app: &Path,
    binary: &str,
    args: &[String],
    mut env: BTreeMap<String, String>,
    what: &str,
) -> Result<()> {
    ensure!(
        ["noticeboard", "migrate", "reset-visits"].contains(&binary),
        "{what} runs {binary:?}, which is not one of the app's binaries"
    );
    // Keep the manifest's keys, but point them at nothing here: this checks the contract, not the
    // example hosts.
    for (key, nowhere) in [
        ("DATABASE_URL", NOWHERE_DATABASE),
        ("REDIS_URL", NOWHERE_REDIS),
    ] {
        if let Some(value) = env.get_mut(key) {
            *value = nowhere.to_string();
        }
    }
    if env.contains_key("WEBHOOK_URL") {
        env.insert("WEBHOOK_URL".into(), "http://127.0.0.1:1/hook".into());
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    env.insert("PORT".into(), port.to_string());
    let scratch = tempfile::tempdir()?;
    let mut child = Command::new(app.join(binary))
        .args(args)
        .env_clear()
        .envs(&env)
        .env("PATH", "/usr/bin:/bin")
        .current_dir(scratch.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let started = Instant::now();
    let exited = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        // Config is read before anything else: a missing variable stops it within milliseconds.
        if started.elapsed() > Duration::from_secs(1) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if exited.is_none() {
        let _ = child.kill();
    }
    let output = child.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let config_error = [
        " is not set",
        " is set but empty",
        " is not valid",
        " is not a ",
        " is longer than ",
    ]
    .iter()
    .any(|words| stderr.contains(words));
    ensure!(
        exited.is_none() || !config_error,
        "{what}: `{binary} {}` stops with the environment the manifest gives it: {}",
        args.join(" "),
        stderr.trim()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_images_name_an_exact_version_or_a_digest() {
        for image in [
            "rust:1.95.0-bookworm",
            "debian:12.12-slim",
            "postgres:15.8",
            "haproxy:2.8.3",
            "redis@sha256:0123",
        ] {
            assert!(pinned(image), "{image}");
        }
        for image in [
            "rust",
            "rust:latest",
            "postgres:15",
            "debian:bookworm-slim",
            "redis:7-alpine",
        ] {
            assert!(!pinned(image), "{image}");
        }
    }

    #[test]
    fn compose_durations_are_read_in_seconds() {
        assert_eq!(duration_seconds("10s").unwrap(), 10.0);
        assert_eq!(duration_seconds("1m30s").unwrap(), 90.0);
        assert_eq!(duration_seconds("500ms").unwrap(), 0.5);
        assert!(duration_seconds("10").is_err());
    }
}
