//! The model test: random sequences of Stripe activity on a few charges (payments in several
//! currencies at moving rates, partial and full refunds, refunds that later fail or are
//! cancelled, inquiries, disputes won and lost, disputes after refunds), delivered in any
//! order, some twice, some only through reconcile. After each sequence, for each charge and
//! for the campaign, the ledger's gross and net equal a small model of Stripe's balance.
//!
//! Seeded: a failure prints the seed; `APPEAL_MODEL_SEED=<seed>` runs the same sequences
//! again, and `APPEAL_MODEL_CASES` sets how many there are.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use sqlx::{Connection, Row};

use crate::fake_stripe::{DISPUTE_FEE, SECRET_KEY, stripe_fee};
use crate::helpers::{Engine, TestApp, on_both_engines, spawn_app};

on_both_engines!(the_ledger_holds_stripes_balance_whatever_happens_and_in_whatever_order);

const DEFAULT_CASES: u64 = 48;

/// SplitMix64: small, seeded, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: i64, high: i64) -> i64 {
        let span = u64::try_from(high - low + 1).expect("a range");
        low + i64::try_from(self.next() % span).expect("fits")
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.next() % items.len() as u64).expect("an index")]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DisputeState {
    Inquiry,
    /// Funds withdrawn (the settled amount taken).
    Withdrawn(i64),
    Closed,
}

/// One charge as the model knows it: what Stripe's balance holds for it, in cents of CAD.
#[derive(Debug)]
struct Charge {
    id: String,
    currency: &'static str,
    /// The charge's amount, in its currency.
    amount: i64,
    /// What can still be refunded, in the charge's currency.
    refundable: i64,
    /// Refunds that took money: (id, charge-currency amount, settled amount).
    refunds: Vec<(String, i64, i64)>,
    dispute: Option<(String, DisputeState)>,
    gross: i64,
    net: i64,
}

/// The model's rates, in CAD per unit (as the fake has them).
struct Rates {
    eur: Decimal,
    usd: Decimal,
}

impl Rates {
    fn settle(&self, amount: i64, currency: &str) -> i64 {
        let rate = match currency {
            "cad" => return amount,
            "eur" => self.eur,
            _ => self.usd,
        };
        (Decimal::from(amount) * rate)
            .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
            .to_i64()
            .expect("fits")
    }
}

async fn the_ledger_holds_stripes_balance_whatever_happens_and_in_whatever_order(engine: Engine) {
    let seed: u64 =
        std::env::var("APPEAL_MODEL_SEED").ok().and_then(|seed| seed.parse().ok()).unwrap_or_else(|| {
            let mut bytes = [0_u8; 8];
            getrandom::fill(&mut bytes).expect("randomness");
            u64::from_le_bytes(bytes)
        });
    let cases: u64 = std::env::var("APPEAL_MODEL_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    eprintln!("model test on {engine:?}: seed {seed} (APPEAL_MODEL_SEED={seed} repeats it), {cases} cases");
    let app = spawn_app(engine).await;
    let store = appeal::store::Store::connect(&app.db.url).await.expect("the store");
    let api =
        appeal::payments::client::StripeApi::new(&secrecy::SecretString::from(SECRET_KEY), &app.stripe.base)
            .expect("the Stripe client");
    let mut connection = sqlx::AnyConnection::connect(&app.db.url).await.expect("connect");
    for case in 0..cases {
        let mut rng = Rng(seed ^ case.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let mut log = Vec::new();
        let slug = format!("model-{case}");
        let charges = run_case(&app, &mut rng, &slug, &mut log).await;
        let context = || format!("seed {seed}, case {case} on {engine:?}:\n  {}", log.join("\n  "));
        let report = appeal::payments::reconcile::reconcile(&store, &api, 72 * 3600)
            .await
            .unwrap_or_else(|error| panic!("reconcile failed: {error}\n{}", context()));
        assert!(report.is_clean(), "events failed: {:?}\n{}", report.outstanding, context());

        let (mut campaign_gross, mut campaign_net) = (0, 0);
        for charge in &charges {
            let row = sqlx::query(
                "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS gross, \
                 CAST(COALESCE(SUM(net_minor), 0) AS BIGINT) AS net FROM ledger_entries WHERE stripe_charge = $1",
            )
            .bind(&charge.id)
            .fetch_one(&mut connection)
            .await
            .expect("the ledger");
            let ledger: (i64, i64) = (row.get("gross"), row.get("net"));
            assert_eq!(
                app.stripe.balance_of_charge(&charge.id),
                (charge.gross, charge.net),
                "the fake and the model differ on {}\n{}",
                charge.id,
                context()
            );
            assert_eq!(ledger, (charge.gross, charge.net), "gross and net of {}\n{}", charge.id, context());
            campaign_gross += charge.gross;
            campaign_net += charge.net;
        }
        let progress = app.progress(&slug).await;
        assert_eq!(progress["raised"], cents(campaign_gross), "the campaign's raised\n{}", context());
        let (_, totals, _) =
            store.campaign_progress(&slug).await.expect("the totals").expect("the campaign's totals");
        assert_eq!(totals.net_minor, campaign_net, "the campaign's net\n{}", context());
        let drift = store.check_totals().await.expect("check");
        assert!(drift.is_empty(), "appeal check: {drift:?}\n{}", context());
    }
}

fn cents(minor: i64) -> Value {
    let sign = if minor < 0 { "-" } else { "" };
    json!(format!("{sign}{}.{:02}", minor.abs() / 100, minor.abs() % 100))
}

/// Plays one random sequence on a new campaign and delivers its events; returns the model.
async fn run_case(app: &TestApp, rng: &mut Rng, slug: &str, log: &mut Vec<String>) -> Vec<Charge> {
    app.create_campaign(slug).await;
    let mut rates = Rates { eur: Decimal::new(147, 2), usd: Decimal::new(136, 2) };
    app.stripe.set_rate("eur", "1.47");
    app.stripe.set_rate("usd", "1.36");
    let mut events: Vec<Value> = Vec::new();
    let mut charges = Vec::new();
    for _ in 0..rng.between(1, 3) {
        let currency = *rng.pick(&["cad", "eur", "usd"]);
        let amount = rng.between(300, 20_000);
        let session =
            app.checkout(slug, &json!({"amount": format!("{}.{:02}", amount / 100, amount % 100)})).await;
        events.extend(if currency == "cad" {
            app.stripe.pay_session(&session)
        } else {
            app.stripe.pay_session_in(&session, currency, amount)
        });
        charges.push(new_charge(app.stripe.charge_of_session(&session), currency, amount, &rates));
        let charge = charges.last().expect("a charge");
        log.push(format!("pay {} {amount} {currency} -> {}", charge.id, charge.gross));
    }
    for _ in 0..rng.between(3, 10) {
        let index = usize::try_from(rng.between(0, charges.len() as i64 - 1)).expect("an index");
        let charge = &mut charges[index];
        match rng.between(0, 11) {
            0 | 1 if charge.refundable > 1 => {
                let amount = rng.between(1, charge.refundable - 1);
                events.extend(refund(app, charge, amount, &rates, log));
            }
            2 if charge.refundable > 0 => {
                let amount = charge.refundable;
                events.extend(refund(app, charge, amount, &rates, log));
            }
            3 if !charge.refunds.is_empty() => {
                let (id, amount, settled) = charge.refunds.remove(0);
                let cancel = rng.chance(50);
                events.extend(if cancel {
                    app.stripe.cancel_refund(&id)
                } else {
                    app.stripe.fail_refund(&id)
                });
                charge.refundable += amount;
                charge.gross += settled;
                charge.net += settled;
                log.push(format!("{} refund {id} of {}", if cancel { "cancel" } else { "fail" }, charge.id));
            }
            4 if charge.dispute.is_none() => {
                let (id, asked) = app.stripe.inquiry(&charge.id);
                events.extend(asked);
                log.push(format!("inquiry {id} on {}", charge.id));
                charge.dispute = Some((id, DisputeState::Inquiry));
            }
            5 | 6 if charge.dispute.is_none() => {
                let (id, opened) = app.stripe.dispute(&charge.id);
                events.extend(opened);
                let withdrawn = withdraw(charge, &rates);
                log.push(format!("dispute {id} on {} withdraws {withdrawn}", charge.id));
                charge.dispute = Some((id, DisputeState::Withdrawn(withdrawn)));
            }
            7 => match charge.dispute.clone() {
                Some((id, DisputeState::Inquiry)) if rng.chance(50) => {
                    events.extend(app.stripe.escalate(&id));
                    let withdrawn = withdraw(charge, &rates);
                    log.push(format!("escalate {id} withdraws {withdrawn}"));
                    charge.dispute = Some((id, DisputeState::Withdrawn(withdrawn)));
                }
                Some((id, DisputeState::Inquiry)) => {
                    events.extend(app.stripe.close_inquiry(&id));
                    log.push(format!("close inquiry {id}"));
                    charge.dispute = Some((id, DisputeState::Closed));
                }
                _ => {}
            },
            8 => {
                if let Some((id, DisputeState::Withdrawn(withdrawn))) = charge.dispute.clone() {
                    match rng.between(0, 2) {
                        0 => {
                            events.extend(app.stripe.close_dispute(&id, false));
                            log.push(format!("lose {id}"));
                        }
                        1 => {
                            events.extend(app.stripe.close_dispute(&id, true));
                            charge.gross += withdrawn;
                            charge.net += withdrawn;
                            log.push(format!("win {id}"));
                        }
                        _ => {
                            events.extend(app.stripe.win_dispute_with_fee_back(&id));
                            charge.gross += withdrawn;
                            charge.net += withdrawn + DISPUTE_FEE;
                            log.push(format!("win {id} with the fee back"));
                        }
                    }
                    charge.dispute = Some((id, DisputeState::Closed));
                }
            }
            9 => {
                let (currency, rate) = if rng.chance(50) { ("eur", "1.4712") } else { ("usd", "1.3577") };
                let rate: Decimal = rate.parse().expect("a rate");
                let rate = rate + Decimal::new(rng.between(-300, 300), 4);
                app.stripe.set_rate(currency, &rate.to_string());
                if currency == "eur" {
                    rates.eur = rate;
                } else {
                    rates.usd = rate;
                }
                log.push(format!("rate {currency} {rate}"));
            }
            10 => {
                let days = rng.between(1, 4);
                app.stripe.advance_days(days);
                log.push(format!("{days} days pass"));
            }
            _ => {}
        }
    }
    // Any order, some twice, some never delivered (reconcile finds them).
    let mut order: Vec<Value> = events;
    for i in (1..order.len()).rev() {
        let j = usize::try_from(rng.between(0, i as i64)).expect("an index");
        order.swap(i, j);
    }
    for event in &order {
        if rng.chance(15) {
            log.push(format!("only reconcile sees {} {}", event["id"], event["type"]));
            continue;
        }
        let times = if rng.chance(20) { 2 } else { 1 };
        for _ in 0..times {
            let status = app.deliver(event).await;
            assert!(status.is_success(), "delivering {} gave {status}: {}", event["type"], log.join("\n  "));
        }
    }
    charges
}

fn new_charge(id: String, currency: &'static str, amount: i64, rates: &Rates) -> Charge {
    let settled = rates.settle(amount, currency);
    Charge {
        id,
        currency,
        amount,
        refundable: amount,
        refunds: Vec::new(),
        dispute: None,
        gross: settled,
        net: settled - stripe_fee(settled),
    }
}

fn refund(
    app: &TestApp,
    charge: &mut Charge,
    amount: i64,
    rates: &Rates,
    log: &mut Vec<String>,
) -> Vec<Value> {
    let events = app.stripe.refund(&charge.id, amount);
    let settled = rates.settle(amount, charge.currency);
    let id = app.stripe.last_refund_of(&charge.id);
    log.push(format!("refund {id} of {}: {amount} {} -> {settled}", charge.id, charge.currency));
    charge.refundable -= amount;
    charge.refunds.push((id, amount, settled));
    charge.gross -= settled;
    charge.net -= settled;
    events
}

/// A dispute takes the charge's whole amount at today's rate, and the dispute fee.
fn withdraw(charge: &mut Charge, rates: &Rates) -> i64 {
    let withdrawn = rates.settle(charge.amount, charge.currency);
    charge.gross -= withdrawn;
    charge.net -= withdrawn + DISPUTE_FEE;
    withdrawn
}
