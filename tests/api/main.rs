//! The integration suite: the real server over HTTP, every test on SQLite and PostgreSQL.
#![recursion_limit = "256"]

mod fake_smtp;
mod fake_stripe;
mod helpers;
mod import;
mod receiver;
mod recovery;

mod access;
mod appeals;
mod badge;
mod batches;
mod browser;
mod campaigns;
mod cli;
mod deploy;
mod donor_page;
mod donors;
mod errors;
mod exports;
mod fuzz;
mod goals;
mod hardening;
mod instances;
mod lifecycle;
mod links;
mod matching;
mod openapi;
mod outgoing;
mod payouts;
mod people;
mod privacy;
mod progress;
mod rates;
mod recurring;
mod scope;
mod several;
mod sources;
mod statements;
mod stripe;
mod stripe_model;
mod stripe_truth;
mod supporters;
mod treasury;
mod upgrades;
mod webdriver;
