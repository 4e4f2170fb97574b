//! appeal: donations and fundraising campaigns, with an exact append-only ledger and live totals.

pub mod access;
pub mod actions;
pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod export;
pub mod http;
pub mod ledger;
pub mod live;
pub mod mail;
pub mod payments;
pub mod store;
pub mod telemetry;
pub mod web;
pub mod webhooks;
