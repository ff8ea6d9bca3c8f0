//! Facts about the server at the other end of a connection.

use postgres::Client;

use crate::error::PgError;

/// What every command wants to know first about a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// `server_version_num`, e.g. 150018.
    pub version_num: i32,
    /// `server_version`, e.g. "15.18 (Debian 15.18-0+deb12u1)".
    pub version: String,
    /// True on a standby (`pg_is_in_recovery()`).
    pub in_recovery: bool,
    /// The current database.
    pub database: String,
    /// The role we are logged in as.
    pub user: String,
}

impl ServerInfo {
    /// The major version, e.g. 15.
    pub fn major(&self) -> i32 {
        self.version_num / 10000
    }
}

/// Reads version, recovery state, database and user in one round trip.
pub fn server_info(client: &mut Client) -> Result<ServerInfo, PgError> {
    let row = client.query_one(
        "SELECT current_setting('server_version_num')::int, current_setting('server_version'), \
                pg_is_in_recovery(), current_database()::text, current_user::text",
        &[],
    )?;
    Ok(ServerInfo {
        version_num: row.get(0),
        version: row.get(1),
        in_recovery: row.get(2),
        database: row.get(3),
        user: row.get(4),
    })
}
