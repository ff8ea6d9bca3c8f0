//! The command-line contract, run as a user would run it: exit codes, JSON shapes, and errors
//! that say what to do. Real servers throughout.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use retort_cluster::Cluster;

fn retort() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_retort"));
    cmd.env_remove("DATABASE_URL")
        .env_remove("RETORT_PG_BINDIR");
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    // A binary copied by one test can be "busy" for a moment: a child another test thread forks
    // at the same time inherits the copy's write descriptor until it execs. Try again then.
    let mut tries = 0;
    let Output {
        status,
        stdout,
        stderr,
    } = loop {
        match cmd.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other.unwrap(),
        }
    };
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The cluster start/status/url/stop cycle through the binary, returning the postmaster pids seen.
fn cluster_cycle(mut make: impl FnMut() -> Command, dir: &Path) {
    let d = dir.to_str().unwrap();
    let (code, _, err) = run(make().args([
        "cluster",
        "start",
        "--standbys",
        "2",
        "--sync",
        "1",
        "--dir",
        d,
    ]));
    assert_eq!(code, 0, "start failed: {err}");

    let (code, out, err) = run(make().args(["cluster", "status", "--format", "json", "--dir", d]));
    assert_eq!(code, 0, "{err}");
    let doc = json(&out);
    let nodes = doc["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    assert_eq!(nodes[0]["name"], "primary");
    assert_eq!(nodes[0]["role"], "primary");
    assert_eq!(nodes[1]["name"], "standby1");
    assert_eq!(nodes[1]["role"], "standby");
    assert_eq!(nodes[1]["sync_state"], "sync");
    assert_eq!(nodes[2]["sync_state"], "async");
    for n in nodes {
        assert!(n["port"].as_u64().unwrap() > 0);
        assert!(n["url"].as_str().unwrap().starts_with("postgresql://"));
        assert_eq!(n["running"], true);
    }

    // A second start says so and succeeds.
    let (code, _, err) = run(make().args(["cluster", "start", "--dir", d]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("already running"), "{err}");

    let (code, url, _) = run(make().args(["cluster", "url", "--dir", d]));
    assert_eq!(code, 0);
    assert!(
        url.trim()
            .starts_with("postgresql://postgres@/postgres?host="),
        "{url}"
    );
    let (code, out, err) = run(make().args(["ping", "-d", url.trim(), "--format", "json"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["role"], "primary");

    let (code, _, err) = run(make().args(["cluster", "stop", "--dir", d]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("stopped 3 server(s)"), "{err}");
    let (code, out, _) = run(make().args(["cluster", "status", "--format", "json", "--dir", d]));
    assert_eq!(code, 0);
    assert!(json(&out)["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["running"] == false));

    // start resumes the stopped cluster; stop --destroy removes it.
    let (code, _, err) = run(make().args(["cluster", "start", "--dir", d]));
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = run(make().args(["cluster", "status", "--format", "json", "--dir", d]));
    assert_eq!(code, 0);
    assert_eq!(json(&out)["nodes"][1]["sync_state"], "sync");
    let (code, _, err) = run(make().args(["cluster", "stop", "--destroy", "--dir", d]));
    assert_eq!(code, 0, "{err}");
    assert!(!dir.join("primary").exists());
    let (code, _, err) = run(make().args(["cluster", "status", "--dir", d]));
    assert_eq!(code, 1);
    assert!(
        err.contains("no retort cluster") && err.contains("hint:"),
        "{err}"
    );
}

#[test]
fn cluster_start_status_stop_as_the_current_user() {
    let scratch = tempfile::tempdir().unwrap();
    cluster_cycle(retort, &scratch.path().join("cluster"));
}

#[test]
fn cluster_start_status_stop_as_an_ordinary_user() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return; // we are the ordinary user; the test above covered it
    }
    let Some((uid, gid)) = postgres_account() else {
        eprintln!("skipped: no `postgres` account to act as an ordinary user");
        return;
    };
    // A copy of the binary and a home that the ordinary user can reach.
    let scratch = tempfile::tempdir().unwrap();
    std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = scratch.path().join("retort");
    std::fs::copy(env!("CARGO_BIN_EXE_retort"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = scratch.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(uid), Some(gid)).unwrap();
    let make = || {
        let mut cmd = Command::new(&bin);
        cmd.uid(uid)
            .gid(gid)
            .current_dir(&home)
            .env("HOME", &home)
            .env_remove("DATABASE_URL")
            .env_remove("XDG_CACHE_HOME")
            .env_remove("RETORT_CACHE_DIR");
        cmd
    };
    cluster_cycle(make, &home.join("cluster"));
}

fn postgres_account() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("postgres:"))?;
    let fields: Vec<&str> = line.split(':').collect();
    Some((fields[2].parse().ok()?, fields[3].parse().ok()?))
}

#[test]
fn demo_tells_the_story_and_leaves_nothing_running() {
    let (code, out, err) = run(retort().arg("demo"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("standby1") && out.contains("sync"), "{out}");
    assert!(out.contains("standby2") && out.contains("async"), "{out}");
    assert!(out.contains("speak, friend, and enter"), "{out}");
    let removed: PathBuf = out
        .lines()
        .find_map(|l| {
            l.split_once(". stopped every server and removed ")
                .map(|(_, d)| d)
        })
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{out}"));
    assert!(!removed.exists());

    let (code, out, err) = run(retort().args(["demo", "--format", "json"]));
    assert_eq!(code, 0, "{err}");
    let doc = json(&out);
    assert_eq!(doc["replication"].as_array().unwrap().len(), 2);
    assert_eq!(doc["nodes"][1]["sync_state"], "sync");
    // The migrations reached both standbys: each reports the primary's version.
    assert_eq!(doc["migrations"].as_array().unwrap().len(), 3);
    for r in doc["replication"].as_array().unwrap() {
        assert_eq!(r["version"], doc["version"][0]);
    }
    // Autogenerate found the wanted changes, and none are left once applied.
    assert!(doc["autogenerate"]["sql"]
        .as_str()
        .unwrap()
        .contains("ADD COLUMN email text"));
    assert_eq!(doc["autogenerate"]["remaining_after_apply"], 0);
    // The shadow store: the app role is refused the table, verifies right and wrong passwords.
    assert!(doc["shadow"]["select_denied"]
        .as_str()
        .unwrap()
        .contains("42501"));
    assert_eq!(doc["shadow"]["verify"][0]["verdict"], "ok");
    assert_eq!(doc["shadow"]["verify"][1]["verdict"], "bad");
    assert_eq!(doc["shadow"]["audit_passed"], true);
    // The rollout waited for both standbys (one delayed by 2 s), then a missing synchronous
    // standby was refused and came back.
    assert_eq!(doc["rollout"]["caught_up"].as_array().unwrap().len(), 2);
    assert!(doc["rollout"]["waited_ms"].as_f64().unwrap() >= 1000.0);
    assert!(doc["rollout"]["refusal"]
        .as_str()
        .unwrap()
        .contains("not connected: standby1"));
    assert_eq!(doc["rollout"]["sync_restored"], true);
}

#[test]
fn missing_server_binaries_say_what_to_install() {
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = run(retort()
        .args(["cluster", "start", "--dir"])
        .arg(empty.path().join("c"))
        .env("RETORT_PG_BINDIR", empty.path()));
    assert_eq!(code, 1);
    assert!(
        err.contains("RETORT_PG_BINDIR") && err.contains("initdb"),
        "{err}"
    );
    assert!(err.contains("hint: "), "{err}");
    assert!(
        !empty.path().join("c").exists(),
        "a failed start left a directory behind"
    );
}

#[test]
fn a_taken_port_and_an_unusable_directory_are_explained() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let scratch = tempfile::tempdir().unwrap();
    let (code, _, err) = run(retort()
        .args(["cluster", "start", "--port", &port, "--dir"])
        .arg(scratch.path().join("c")));
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("port {port} on 127.0.0.1 is already in use")),
        "{err}"
    );
    assert!(err.contains("hint: pick another port"), "{err}");

    let (code, _, err) =
        run(retort().args(["cluster", "start", "--dir", "/proc/retort-cannot-be-here"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot use directory /proc/retort-cannot-be-here"),
        "{err}"
    );
    assert!(err.contains("hint: choose a directory"), "{err}");
}

#[test]
fn bad_urls_and_wrong_passwords_are_explained_without_the_password() {
    let (code, _, err) = run(retort().args(["ping", "-d", "postgres://app:hunter2@db:notaport/x"]));
    assert_eq!(code, 1);
    assert!(err.contains("invalid port `notaport`"), "{err}");
    assert!(err.contains("hint: write it as postgres://"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    let (code, _, err) = run(retort()
        .args(["ping", "--format", "json"])
        .env("DATABASE_URL", "mysql://app:hunter2@db/x"));
    assert_eq!(code, 1);
    let doc = json(err.trim());
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unsupported scheme"));
    assert!(!err.contains("hunter2"));

    let c = Cluster::builder().start().unwrap();
    let wrong = format!(
        "postgresql://postgres:hunter2@127.0.0.1:{}/postgres",
        c.nodes()[0].port()
    );
    let (code, _, err) = run(retort().args(["ping", "-d", &wrong]));
    assert_eq!(code, 1);
    assert!(
        err.contains("refused the login") && err.contains("28P01"),
        "{err}"
    );
    assert!(
        err.contains("hint: the password in the connection string is wrong"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");

    let (code, out, err) = run(retort().args(["ping", "-d", &c.primary_tcp_url()]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("primary") && !out.contains(c.password()),
        "{out}"
    );
}

#[test]
fn usage_errors_exit_2_and_completions_print() {
    let (code, _, _) = run(retort().args(["cluster", "start", "--standbys", "many"]));
    assert_eq!(code, 2);
    let (code, _, _) = run(retort().arg("no-such-command"));
    assert_eq!(code, 2);
    let (code, out, _) = run(retort().args(["completions", "bash"]));
    assert_eq!(code, 0);
    assert!(out.contains("retort") && out.contains("cluster"));
    let (code, out, _) = run(retort().arg("--version"));
    assert_eq!(code, 0);
    assert!(out.starts_with("retort "));
}

#[test]
fn database_url_comes_from_retort_toml_when_no_flag_or_env() {
    let c = Cluster::builder().start().unwrap();
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("retort.toml"),
        format!("[database]\nurl = \"{}\"\n", c.primary_url()),
    )
    .unwrap();
    let sub = project.path().join("deep/inside");
    std::fs::create_dir_all(&sub).unwrap();
    let (code, out, err) = run(retort()
        .args(["ping", "--format", "json"])
        .current_dir(&sub));
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["role"], "primary");
    // -d beats retort.toml.
    let (code, _, err) = run(retort()
        .args([
            "ping",
            "-d",
            "postgres://x@127.0.0.1:1/none?connect_timeout=2",
        ])
        .current_dir(&sub));
    assert_eq!(code, 1);
    assert!(err.contains("127.0.0.1:1"), "{err}");
}
