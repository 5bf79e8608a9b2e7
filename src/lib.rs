//! Aixin (爱心): the system that runs a city's points-for-goods charity
//! stores. See README.md for a map of the code.

pub mod api;
pub mod areas;
pub mod at_once;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod domain;
pub mod donations;
pub mod error;
pub mod goods;
pub mod households;
pub mod i18n;
pub mod idempotency;
pub mod ledger;
pub mod operations;
pub mod points;
pub mod redemptions;
pub mod reports;
pub mod request;
pub mod server;
pub mod settings;
pub mod signals;
pub mod state;
pub mod static_files;
pub mod stock;
pub mod stores;
pub mod time;
pub mod users;
pub mod web;
pub mod window;
