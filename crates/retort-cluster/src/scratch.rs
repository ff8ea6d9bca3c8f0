//! Throwaway databases on a server: created with a unique name, dropped on drop.

use retort_pg::{quote_ident, Client, ConnConfig};

use crate::error::ClusterError;
use crate::template::random_hex;

/// A database that exists as long as this value.
pub struct ScratchDatabase {
    admin: Client,
    name: String,
    config: ConnConfig,
}

impl ScratchDatabase {
    /// Creates `retort_scratch_<random>` on the server `server` points at (any database of it).
    ///
    /// Errors: the connection fails, or the role may not CREATE DATABASE.
    pub fn create(server: &ConnConfig) -> Result<ScratchDatabase, ClusterError> {
        let mut admin = retort_pg::connect(server)?;
        let name = format!("retort_scratch_{}", random_hex(6)?);
        admin
            .batch_execute(&format!(
                "CREATE DATABASE {} TEMPLATE template0",
                quote_ident(&name)
            ))
            .map_err(retort_pg::PgError::from)?;
        let mut config = server.clone();
        config.dbname = name.clone();
        Ok(ScratchDatabase {
            admin,
            name,
            config,
        })
    }

    /// The database's connection settings.
    pub fn config(&self) -> &ConnConfig {
        &self.config
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A new connection to it.
    pub fn connect(&self) -> Result<Client, ClusterError> {
        Ok(retort_pg::connect(&self.config)?)
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let _ = self.admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&self.name)
        ));
    }
}
