//! What the store tests share: a cluster with a database, the store installed, an application
//! role `app` and an operator `operator` who is a member of the admin role.
#![allow(dead_code)] // each test binary uses a different part of it

use postgres::Client;
use retort_cluster::Cluster;
use retort_pg::ConnConfig;
use retort_shadow::blocking::ShadowStore;
use retort_shadow::{install, Argon2Params, InstallOptions, Mode, SecretString};

pub const CHEAP: Argon2Params = Argon2Params {
    m_kib: 256,
    t: 1,
    p: 1,
};

pub fn pw(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

pub struct Store {
    pub cluster: Cluster,
    pub db: String,
    pub admin: Client,
    pub store: ShadowStore,
}

impl Store {
    pub fn conn_string(&self, user: &str) -> String {
        format!(
            "host={} port={} user={user} dbname={}",
            self.cluster.socket_dir().display(),
            self.cluster.nodes()[0].port(),
            self.db
        )
    }

    pub fn connect_as(&self, user: &str) -> Client {
        retort_pg::connect(&ConnConfig::parse(&self.conn_string(user)).unwrap()).unwrap()
    }

    pub fn app(&self) -> Client {
        self.connect_as("app")
    }

    /// An operator: a login role that is a member of the store's admin role.
    pub fn operator(&self) -> Client {
        self.connect_as("operator")
    }
}

pub fn options(mode: Mode) -> InstallOptions {
    let mut o = InstallOptions::new("app");
    o.mode = mode;
    o.argon2 = CHEAP;
    o.bcrypt_cost = 4;
    o
}

pub fn setup_with(mode: Mode, cluster: Cluster, tweak: impl FnOnce(&mut InstallOptions)) -> Store {
    let db = "speakfriend".to_owned();
    let url = cluster.create_database(&db).unwrap();
    let mut admin = retort_pg::connect(&ConnConfig::parse(&url).unwrap()).unwrap();
    admin.batch_execute("CREATE ROLE app LOGIN").unwrap();
    let mut o = options(mode);
    tweak(&mut o);
    install(&mut admin, &o).unwrap();
    admin
        .batch_execute(&format!(
            "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'operator') THEN \
             CREATE ROLE operator LOGIN; END IF; END$$; GRANT {} TO operator",
            retort_pg::quote_ident(&o.admin_role)
        ))
        .unwrap();
    Store {
        cluster,
        db,
        admin,
        store: ShadowStore::new("shadow"),
    }
}

pub fn setup(mode: Mode) -> Store {
    setup_with(mode, Cluster::builder().start().unwrap(), |_| {})
}

pub fn sqlstate(r: Result<impl Sized, postgres::Error>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.code().map(|c| c.code().to_owned()).unwrap_or_default(),
    }
}
