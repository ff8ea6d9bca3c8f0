//! The session registry behind `retort complete`: an application registers under its
//! revision with no privilege on the registry itself, `live_sessions` finds it while it is
//! connected and forgets it once it is gone, and running the store's DDL again replaces nothing.

use retort_cluster::Cluster;
use retort_migrate::shape::{live_sessions, use_shape};
use retort_migrate::VersionStore;
use retort_pg::ConnConfig;

const OLD: &str = "aaaaaaaaaaa1";

#[test]
fn sessions_register_and_are_found_while_connected() {
    let c = Cluster::builder().start().unwrap();
    let url = c.create_database("shapes").unwrap();
    let mut admin = retort_pg::connect(&ConnConfig::parse(&url).unwrap()).unwrap();
    let store = VersionStore::new("retort");
    admin.batch_execute(&store.create_sql()).unwrap();
    admin.batch_execute("CREATE ROLE app_role LOGIN").unwrap();
    let as_role = |role: &str| {
        let url = format!(
            "host={} port={} user={role} dbname=shapes",
            c.socket_dir().display(),
            c.nodes()[0].port()
        );
        retort_pg::connect(&ConnConfig::parse(&url).unwrap()).unwrap()
    };
    // Again: use_shape exists, so it is left as it is (same oid).
    let oid = |c: &mut retort_pg::Client| -> u32 {
        c.query_one("SELECT 'retort.use_shape(text)'::regprocedure::oid", &[])
            .unwrap()
            .get(0)
    };
    let before = oid(&mut admin);
    admin.batch_execute(&store.create_sql()).unwrap();
    assert_eq!(oid(&mut admin), before);
    // The application's role registers (it has no privilege on the registry table itself).
    let mut app = as_role("app_role");
    use_shape(&mut app, "retort", OLD).unwrap();
    let path: String = app.query_one("SHOW search_path", &[]).unwrap().get(0);
    assert_eq!(path, format!("retort_v_{OLD}, \"$user\", public"));
    assert!(app
        .query("SELECT * FROM retort.shape_sessions", &[])
        .is_err());
    let found = live_sessions(&mut admin, "retort", &[OLD.to_owned()]).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].role, "app_role");
    assert!(use_shape(&mut app, "retort", "not-a-revision").is_err());
    drop(app);
    // Gone: forgotten (the backend may take a moment to exit).
    let began = std::time::Instant::now();
    loop {
        let found = live_sessions(&mut admin, "retort", &[OLD.to_owned()]).unwrap();
        if found.is_empty() {
            break;
        }
        assert!(
            began.elapsed() < std::time::Duration::from_secs(5),
            "{found:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
