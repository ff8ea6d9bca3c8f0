//! Clusters clean up after themselves, whatever happens to the process that made them, and
//! bad set-ups fail with errors that say what to do.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use retort_cluster::{process_exists, wait_for, Cluster, ClusterError, Lifetime, StopMode};

/// Not a test on its own: the child half of `no_server_outlives_a_sigkilled_process`.
#[test]
#[ignore = "helper, run by no_server_outlives_a_sigkilled_process"]
fn helper_start_cluster_and_hang() {
    let Some(out) = std::env::var_os("RETORT_LEAK_HELPER_OUT") else {
        return;
    };
    let mut c = Cluster::builder().standbys(1).start().unwrap();
    let pids: Vec<String> = c.postmaster_pids().iter().map(u32::to_string).collect();
    let line = format!("{}\n{}\n", pids.join(" "), c.dir().display());
    std::fs::write(PathBuf::from(&out).with_extension("tmp"), line).unwrap();
    std::fs::rename(PathBuf::from(&out).with_extension("tmp"), &out).unwrap();
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn no_server_outlives_a_sigkilled_process() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("pids");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_start_cluster_and_hang",
            "--ignored",
            "--nocapture",
        ])
        .env("RETORT_LEAK_HELPER_OUT", &out)
        .spawn()
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(60), || out.exists()),
        "helper never started its cluster"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    let pids: Vec<u32> = lines
        .next()
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    let dir = PathBuf::from(lines.next().unwrap());
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|p| process_exists(*p)));

    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    assert!(
        wait_for(Duration::from_secs(20), || pids
            .iter()
            .all(|p| !process_exists(*p))),
        "servers outlived the SIGKILLed process that owned them: {pids:?}"
    );
    // The next owned cluster sweeps the files the dead process left behind.
    assert!(dir.exists());
    let c = Cluster::builder().start().unwrap();
    assert!(!dir.exists(), "stale {} was not swept", dir.display());
    drop(c);
}

#[test]
fn a_panicking_test_leaves_nothing_behind() {
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::panic::catch_unwind(move || {
        let mut c = Cluster::builder().standbys(1).start().unwrap();
        tx.send((c.postmaster_pids(), c.dir().to_owned())).unwrap();
        panic!("a test fails while holding a cluster");
    });
    assert!(result.is_err());
    let (pids, dir) = rx.recv().unwrap();
    assert_eq!(pids.len(), 2);
    for pid in pids {
        assert!(!process_exists(pid), "postmaster {pid} survived the panic");
    }
    assert!(!dir.exists());
}

#[test]
fn a_port_already_taken_is_named() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let err = Cluster::builder().port(port).start().unwrap_err();
    assert!(
        matches!(err, ClusterError::PortInUse { port: p } if p == port),
        "{err}"
    );
    assert!(err.to_string().contains(&port.to_string()));
    assert!(err.hint().unwrap().contains("--port"));
}

#[test]
fn an_unusable_directory_is_explained() {
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let err = Cluster::builder()
        .dir(file.join("cluster"))
        .start()
        .unwrap_err();
    assert!(matches!(err, ClusterError::Directory { .. }), "{err}");
    assert!(err.to_string().contains("a-file"), "{err}");
    assert!(err.hint().unwrap().contains("choose a directory"));

    let not_empty = scratch.path().join("busy");
    std::fs::create_dir(&not_empty).unwrap();
    std::fs::write(not_empty.join("precious.txt"), "keep me").unwrap();
    let err = Cluster::builder().dir(&not_empty).start().unwrap_err();
    assert!(matches!(err, ClusterError::NotEmpty { .. }), "{err}");
    assert_eq!(
        std::fs::read_to_string(not_empty.join("precious.txt")).unwrap(),
        "keep me"
    );

    // As root the server runs as another user, who must be able to reach the directory.
    if unsafe { libc_geteuid() } == 0 {
        use std::os::unix::fs::PermissionsExt;
        let private = scratch.path().join("root-only");
        std::fs::create_dir(&private).unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
        let err = Cluster::builder()
            .dir(private.join("cluster"))
            .start()
            .unwrap_err();
        assert!(err.to_string().contains("cannot enter"), "{err}");
        assert!(err.to_string().contains("root-only"), "{err}");
    }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[test]
fn a_detached_cluster_survives_its_handle_and_is_found_again() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("cluster");
    let c = Cluster::builder()
        .dir(&dir)
        .standbys(1)
        .sync(1)
        .lifetime(Lifetime::Detached)
        .start()
        .unwrap();
    drop(c);
    let mut c = Cluster::open(&dir).unwrap();
    let pids = c.postmaster_pids();
    assert_eq!(pids.len(), 2, "detached servers stopped with their handle");
    let status = c.status().unwrap();
    assert_eq!(status[1].sync_state.as_deref(), Some("sync"));

    c.stop(StopMode::Fast).unwrap();
    assert!(pids.iter().all(|p| !process_exists(*p)));
    let mut c = Cluster::open(&dir).unwrap();
    assert!(c.postmaster_pids().is_empty());
    assert!(
        c.nodes()[0].data_dir().join("PG_VERSION").exists(),
        "stop removed data"
    );

    c.start_all(Duration::from_secs(60)).unwrap();
    let mut client = c.connect_primary().unwrap();
    let one: i32 = client.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);
    drop(client);
    c.destroy().unwrap();
    assert!(!dir.join("primary").exists());
    assert!(!dir.join("state.json").exists());
}
