//! Property tests on the parsers of outside input: amounts in every currency (as typed, and
//! across the Stripe boundary), the CSV batch import, dates and export ranges, the webhook
//! signature header, and the event reader over mutated Stripe objects. None may panic; what
//! they accept must read back as it was written.

use appeal::export::{ExportInput, ExportRequest};
use appeal::ledger::batch::entries_from_csv;
use appeal::ledger::entry::parse_received_on;
use appeal::ledger::{Currency, Money};
use appeal::payments::amounts::{
    GiftAmounts, chargeable, from_stripe, refund_request, round_up_chargeable, settle,
};
use appeal::payments::objects::{
    BalanceTransaction, Charge, CheckoutSession, Dispute, Event, Invoice, Payout, Refund, Subscription,
};
use appeal::payments::signature::{SignatureError, TOLERANCE_SECONDS, verify};
use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::json;
use sha2::Sha256;

use super::{config, mutate, remove_key, replacement, stripe_objects};

fn currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(Currency::all().collect::<Vec<_>>())
}

/// A currency and an amount it may hold.
fn amount() -> impl Strategy<Value = (Currency, i64)> {
    currency().prop_flat_map(|currency| (Just(currency), 1..=currency.max_minor()))
}

/// Text that looks like what people type for money, and worse.
fn typed_amount() -> impl Strategy<Value = String> {
    prop_oneof![
        "[-+0-9., eE_]{0,24}",
        "[0-9]{1,30}(\\.[0-9]{0,30})?",
        any::<String>(),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn any_typed_amount_is_read_or_refused(currency in currency(), text in typed_amount()) {
        if let Ok(money) = Money::parse_positive(&text, currency) {
            prop_assert!(money.minor() >= 1 && money.minor() <= currency.max_minor(), "{text} → {}", money.minor());
            let again = Money::parse_positive(&currency.format_minor(money.minor()), currency);
            prop_assert_eq!(again.map(Money::minor), Ok(money.minor()));
        }
    }

    #[test]
    fn every_amount_reads_back_as_written((currency, minor) in amount()) {
        let written = currency.format_minor(minor);
        prop_assert_eq!(Money::parse_positive(&written, currency).map(Money::minor), Ok(minor));
        for code in ["en", "fr"] {
            let language = appeal::web::i18n::catalog().get(code).expect("a language");
            // As the page shows it, less the symbol: "2,500.50" or "2 500,50".
            let shown = language.money(minor, currency).replace(|c: char| !(c.is_ascii_digit() || ",. \u{202f}\u{a0}".contains(c)), "");
            let typed = language.read_amount(shown.trim_matches([' ', '.', ',']));
            prop_assert_eq!(Money::parse_positive(&typed, currency).map(Money::minor), Ok(minor), "{} {:?} → {:?}", code, shown, typed);
        }
    }

    #[test]
    fn the_stripe_boundary_never_panics_and_charges_read_back(
        (currency, minor) in amount(),
        api in any::<i64>(),
        any_minor in any::<i64>(),
        code in prop_oneof!["[a-zA-Z]{0,4}", currency().prop_map(|c| c.code().to_ascii_lowercase())],
    ) {
        let _ = from_stripe(api, &code);
        let _ = chargeable(any_minor, currency);
        let rounded = round_up_chargeable(any_minor, currency);
        prop_assert!(rounded >= any_minor);
        let chargeable_minor = round_up_chargeable(minor, currency);
        let sent = chargeable(chargeable_minor, currency);
        prop_assert!(sent.is_ok(), "{chargeable_minor} {currency}: {sent:?}");
        let code = currency.code().to_ascii_lowercase();
        prop_assert_eq!(from_stripe(sent.unwrap_or_default(), &code), Some((chargeable_minor, currency)));
    }

    #[test]
    fn settling_and_refunding_take_any_numbers_stripe_sends(
        campaign in currency(),
        presented in currency(),
        reported in any::<i64>(),
        gross in any::<i64>(),
        fee in any::<i64>(),
        created in any::<i64>(),
        gift_minor in any::<i64>(),
        presented_minor in any::<i64>(),
        requested in any::<i64>(),
        remaining in any::<i64>(),
        refundable in any::<i64>(),
    ) {
        let balance = BalanceTransaction {
            id: "txn_1".to_owned(),
            amount: gross,
            currency: campaign.code().to_ascii_lowercase(),
            fee,
            net: gross.wrapping_sub(fee),
            created,
        };
        let _ = settle(campaign, (reported, presented.code()), created, Some(&balance));
        let _ = settle(campaign, (reported, presented.code()), created, None);
        let gift = GiftAmounts { amount_minor: gift_minor, currency: campaign, presented: Some((presented_minor, presented)) };
        if let Ok(api) = refund_request(requested, remaining, &gift, refundable) {
            prop_assert!(api <= refundable);
        }
        let plain = GiftAmounts { presented: None, ..gift };
        if let Ok(api) = refund_request(requested, remaining, &plain, refundable) {
            prop_assert!(api <= refundable);
        }
    }
}

/// A value for a CSV cell that needs quoting: commas, quotes, new lines, accents.
fn cell() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[A-Za-zÀ-ÿ ,\"'\n]{1,20}".prop_filter("not blank", |text| !text.trim().is_empty()))
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_text_as_a_deposit_file_is_read_or_refused_by_line(text in prop_oneof![
        any::<String>(),
        "(amount|method|donor_name|x)(,(amount|method|received_on|anonymous|\"a,b\")){0,4}\n([0-9.,\" a-z\n]{0,40})",
    ]) {
        if let Err(errors) = entries_from_csv(&text) {
            for (field, message) in errors.iter() {
                prop_assert!(
                    field == "file" || field.starts_with("columns[") || field.starts_with("rows["),
                    "{field}: {message}"
                );
                prop_assert!(!message.is_empty());
            }
        }
    }

    #[test]
    fn a_deposit_file_reads_back_as_written(rows in prop::collection::vec(
        (amount(), prop::sample::select(vec!["cash", "cheque", "etransfer", "bank_transfer", "other"]), cell(), any::<bool>()),
        1..20,
    )) {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(["amount", "method", "donor_name", "anonymous"]).expect("written");
        for ((currency, minor), method, name, anonymous) in &rows {
            let amount = currency.format_minor(*minor);
            let anonymous = if *anonymous { "yes" } else { "no" };
            writer.write_record([amount.as_str(), method, name.as_deref().unwrap_or(""), anonymous]).expect("written");
        }
        let text = String::from_utf8(writer.into_inner().expect("flushed")).expect("UTF-8");
        let read = entries_from_csv(&text);
        prop_assert!(read.is_ok(), "{text}: {read:?}");
        let read = read.unwrap_or_default();
        prop_assert_eq!(read.len(), rows.len());
        for (entry, ((currency, minor), method, name, anonymous)) in read.iter().zip(&rows) {
            let amount = entry.amount.as_ref().map(|amount| amount.0.clone()).unwrap_or_default();
            prop_assert_eq!(Money::parse_positive(&amount, *currency).map(Money::minor), Ok(*minor));
            prop_assert_eq!(entry.method.as_deref(), Some(*method));
            prop_assert_eq!(entry.donor_name.as_deref(), name.as_deref().map(str::trim));
            prop_assert_eq!(entry.anonymous, Some(*anonymous));
        }
    }
}

/// Any date chrono can hold, its ends often, and this century's dates often.
fn date() -> impl Strategy<Value = NaiveDate> {
    let within = |first: i32, last: i32| {
        (first..=last).prop_map(|days| NaiveDate::from_num_days_from_ce_opt(days).expect("in range"))
    };
    prop_oneof![
        Just(NaiveDate::MAX),
        Just(NaiveDate::MIN),
        within(NaiveDate::MIN.num_days_from_ce(), NaiveDate::MAX.num_days_from_ce()),
        within(730_000, 740_000),
    ]
}

fn date_text() -> impl Strategy<Value = String> {
    prop_oneof![
        date().prop_map(|date| date.format("%Y-%m-%d").to_string()),
        "[-+]?[0-9]{1,7}-[0-9]{1,2}-[0-9]{1,2}",
        any::<String>(),
    ]
}

fn timezone() -> impl Strategy<Value = chrono_tz::Tz> {
    prop::sample::select(vec![
        chrono_tz::UTC,
        chrono_tz::America::Toronto,
        chrono_tz::America::Santiago,
        chrono_tz::Pacific::Kiritimati,
        chrono_tz::Pacific::Pago_Pago,
        chrono_tz::Asia::Tehran,
    ])
}

use chrono::Datelike;

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn a_received_date_is_read_or_refused(text in date_text(), today in date()) {
        if let Ok(date) = parse_received_on(&text, today) {
            prop_assert!(date.year() >= 2000);
            prop_assert!(date.pred_opt().is_none_or(|before| before <= today));
        }
    }

    #[test]
    fn an_export_range_is_read_or_refused_and_its_instants_exist(
        from in prop::option::of(date_text()),
        to in prop::option::of(date_text()),
        today in date(),
        timezone in timezone(),
    ) {
        let input = ExportInput { from, to, ..ExportInput::default() };
        if let Ok(request) = ExportRequest::parse(input, today) {
            prop_assert!(request.from <= request.to);
            let (start, end) = request.instants(timezone);
            prop_assert!(start < end);
        }
    }
}

fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|byte| format!("{byte:02x}")).collect()
}

fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(t|v1|v0|x)=[-0-9a-f]{0,70}(,(t|v1|v0)=[-0-9a-fA-F]{0,70}){0,3}",
        any::<i64>().prop_map(|t| format!("t={t},v1=00")),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn any_signature_header_is_refused_without_a_panic(
        header in prop::option::of(header_text()),
        body in prop::collection::vec(any::<u8>(), 0..64),
        now in any::<i64>(),
    ) {
        let secrets = [SecretString::from("whsec_test")];
        prop_assert!(verify(header.as_deref(), &body, &secrets, now).is_err());
    }

    #[test]
    fn a_signed_delivery_passes_and_any_change_to_it_fails(
        body in prop::collection::vec(any::<u8>(), 1..256),
        secret in "[a-zA-Z0-9_]{8,40}",
        now in 1_000_000_000_i64..4_000_000_000,
        skew in -TOLERANCE_SECONDS..=TOLERANCE_SECONDS,
        flip in any::<prop::sample::Index>(),
        late in (TOLERANCE_SECONDS + 1)..i64::MAX / 2,
    ) {
        let secrets = [SecretString::from("whsec_old"), SecretString::from(secret.clone())];
        let t = now + skew;
        let header = format!("t={t},v1={}", sign(&secret, t, &body));
        prop_assert_eq!(verify(Some(&header), &body, &secrets, now), Ok(()));
        let mut changed = body.clone();
        let at = flip.index(changed.len());
        changed[at] ^= 0x01;
        prop_assert_eq!(verify(Some(&header), &changed, &secrets, now), Err(SignatureError::Mismatch));
        let stale = format!("t={},v1={}", now - late, sign(&secret, now - late, &body));
        prop_assert_eq!(verify(Some(&stale), &body, &secrets, now), Err(SignatureError::Stale));
    }
}

/// Reads an event as the webhook does, then its object as the processor does.
fn read_event(bytes: &[u8]) {
    let Ok(event) = serde_json::from_slice::<Event>(bytes) else { return };
    let object = event.data.object.clone();
    let _ = serde_json::from_value::<CheckoutSession>(object.clone());
    let _ = serde_json::from_value::<Charge>(object.clone())
        .map(|charge| charge.balance_transaction.map(|bt| bt.id().to_owned()));
    let _ = serde_json::from_value::<Refund>(object.clone());
    let _ = serde_json::from_value::<Dispute>(object.clone());
    let _ = serde_json::from_value::<Invoice>(object.clone()).map(|invoice| {
        (
            invoice.subscription_id().map(str::to_owned),
            invoice.paid_at(),
            invoice.subscription_metadata().cloned(),
        )
    });
    let _ = serde_json::from_value::<Subscription>(object.clone());
    let _ = serde_json::from_value::<Payout>(object.clone());
    let _ = serde_json::from_value::<BalanceTransaction>(object);
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn the_event_reader_takes_any_mutation_of_stripe_objects(
        kind in prop::sample::select(stripe_objects().keys().cloned().collect::<Vec<_>>()),
        mutations in prop::collection::vec((any::<usize>(), prop::option::of(replacement()), any::<bool>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut object = stripe_objects()[&kind].clone();
        for (pick, with, remove) in &mutations {
            if *remove {
                remove_key(&mut object, *pick);
            } else {
                let mut pick = pick % 200;
                mutate(&mut object, &mut pick, with);
            }
        }
        let event = json!({"id": "evt_fuzz", "type": format!("{kind}.updated"), "created": 1, "data": {"object": object}});
        let bytes = serde_json::to_vec(&event).expect("JSON");
        read_event(&bytes);
        // Cut anywhere: the reader refuses a truncated delivery without a panic.
        read_event(&bytes[..cut.index(bytes.len())]);
    }
}
