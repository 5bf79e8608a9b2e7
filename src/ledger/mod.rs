//! What the ledgers (stock now, points next) share.

pub mod chain;
