//! The integration suite: the real server over HTTP, every test on SQLite and PostgreSQL.

mod helpers;

mod access;
mod campaigns;
mod cli;
mod errors;
mod progress;
