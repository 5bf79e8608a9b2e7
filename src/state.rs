//! What every handler, page or API, can reach: the pool, the configuration,
//! the data key. Made once at start and shared by every worker.

use std::sync::Arc;

use crate::config::Config;
use crate::crypto::DataKey;
use crate::db::{Backend, DbPool};

/// What every handler can reach.
pub struct AppState {
    pub pool: DbPool,
    pub config: Arc<Config>,
    pub backend: Backend,
    /// A hash of a random password, verified against when the user is
    /// unknown so that unknown and known users take the same time.
    pub dummy_hash: Arc<String>,
    /// Encrypts people's data; never leaves the process.
    pub key: Arc<DataKey>,
}

impl AppState {
    pub fn new(pool: DbPool, config: Config, backend: Backend, key: Arc<DataKey>) -> AppState {
        let dummy =
            crate::auth::password::hash(&crate::auth::password::generate(), config.password_cost);
        AppState {
            pool,
            config: Arc::new(config),
            backend,
            dummy_hash: Arc::new(dummy),
            key,
        }
    }
}
