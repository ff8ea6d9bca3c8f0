//! `state.json`: what a later `retort cluster status` or `stop` needs to find a detached cluster.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cluster::SyncMethod;
use crate::error::ClusterError;
use crate::node::NodeSpec;

pub(crate) const STATE_FILE: &str = "state.json";
pub(crate) const PASSWORD_FILE: &str = "password";
pub(crate) const FORMAT: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ClusterState {
    pub format: u32,
    pub bindir: PathBuf,
    pub pg_version: String,
    pub pg_major: u32,
    pub socket_dir: PathBuf,
    pub socket_dir_separate: bool,
    #[serde(with = "sync_method")]
    pub sync_method: SyncMethod,
    pub nodes: Vec<NodeSpec>,
}

mod sync_method {
    use super::SyncMethod;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(m: &SyncMethod, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(m.keyword())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SyncMethod, D::Error> {
        match String::deserialize(d)?.as_str() {
            "ANY" => Ok(SyncMethod::Any),
            _ => Ok(SyncMethod::First),
        }
    }
}

/// True when `dir` holds a cluster state file.
pub fn exists(dir: &Path) -> bool {
    dir.join(STATE_FILE).is_file()
}

pub(crate) fn save(dir: &Path, state: &ClusterState, password: &str) -> Result<(), ClusterError> {
    let path = dir.join(STATE_FILE);
    let err = |reason: String| ClusterError::State {
        path: path.clone(),
        reason,
    };
    let json = serde_json::to_string_pretty(state).map_err(|e| err(e.to_string()))?;
    let tmp = dir.join(".state.json.tmp");
    std::fs::write(&tmp, json).map_err(|e| err(e.to_string()))?;
    std::fs::rename(&tmp, &path).map_err(|e| err(e.to_string()))?;
    let pw = dir.join(PASSWORD_FILE);
    std::fs::write(&pw, password).map_err(|e| err(format!("password file: {e}")))?;
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| err(format!("password file: {e}")))
}

pub(crate) fn load(dir: &Path) -> Result<(ClusterState, String), ClusterError> {
    let path = dir.join(STATE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ClusterError::NoCluster {
                dir: dir.to_owned(),
            })
        }
        Err(e) => {
            return Err(ClusterError::State {
                path,
                reason: e.to_string(),
            })
        }
    };
    let state: ClusterState = serde_json::from_str(&text).map_err(|e| ClusterError::State {
        path: path.clone(),
        reason: format!("not a retort cluster state file: {e}"),
    })?;
    if state.format != FORMAT {
        return Err(ClusterError::State {
            path,
            reason: format!(
                "written by another retort version (format {}, this one reads {FORMAT})",
                state.format
            ),
        });
    }
    let password = std::fs::read_to_string(dir.join(PASSWORD_FILE)).unwrap_or_default();
    Ok((state, password.trim().to_owned()))
}
