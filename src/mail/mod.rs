//! Emails to supporters: receipts and self-service links, in the supporter's language,
//! through SMTP when `SMTP_URL` is set, else written as .eml files to a folder and logged.
//! Receipts and the other supporters' emails are queued in the outbox (`store::emails`) and
//! written here when the background sender sends them.

use std::path::PathBuf;

use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{MailConfig, SiteConfig};
use crate::ledger::campaign::Campaign;
use crate::ledger::entry::Entry;
use crate::store::{Store, StoreError, SupporterEmailKind};
use crate::web::i18n::{Language, catalog};

/// From `Store::receipt_context`'s answer: the language of a supporter's email (`asked`, else
/// the checkout's, else the catalogue's fallback) and the campaign's title in it (`None` when
/// the campaign is gone).
pub fn language_and_title<'a>(
    context: Option<&(Campaign, Option<String>)>,
    asked: Option<&'a Language>,
) -> (&'a Language, Option<String>) {
    let language = asked.unwrap_or_else(|| {
        context
            .and_then(|(_, locale)| locale.as_deref())
            .and_then(|locale| catalog().get(locale))
            .unwrap_or_else(|| catalog().fallback())
    });
    (language, context.map(|(campaign, _)| campaign.title.get(&language.code).to_owned()))
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("APPEAL_MAIL_FROM is not a valid mailbox: {0}")]
    From(String),
    #[error("SMTP_URL is not usable: {0}")]
    Url(String),
    #[error("cannot build the email: {0}")]
    Build(String),
    #[error("cannot send the email: {0}")]
    Send(String),
}

/// Sends (or writes) supporters' emails.
#[derive(Clone, Debug)]
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    outbox: PathBuf,
    from: Mailbox,
    site: SiteConfig,
    public_url: String,
}

impl Mailer {
    pub fn from_config(mail: &MailConfig, site: &SiteConfig, public_url: &str) -> Result<Self, MailError> {
        let from: Mailbox = mail.from.parse().map_err(|error| MailError::From(format!("{error}")))?;
        let transport = match &mail.smtp_url {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .map_err(|error| MailError::Url(error.to_string()))?
                    // A mail server that hangs holds up the background sender's round for
                    // this long at most (lettre's own default is a minute).
                    .timeout(Some(std::time::Duration::from_secs(15)))
                    .build(),
            ),
            None => None,
        };
        Ok(Mailer {
            transport,
            outbox: mail.outbox_dir.clone(),
            from,
            site: site.clone(),
            public_url: public_url.to_owned(),
        })
    }

    /// Sends a plain-text email to `to`.
    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), MailError> {
        self.send_with(to, subject, body, None).await
    }

    /// Sends a plain-text email to `to`, with a file attached (its name and a PDF's bytes).
    pub async fn send_with(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        attachment: Option<(&str, Vec<u8>)>,
    ) -> Result<(), MailError> {
        let to: Mailbox = to.parse().map_err(|error| MailError::Build(format!("recipient: {error}")))?;
        // A Message-ID of the site's own domain, and MIME-Version: mail servers and filters
        // trust a message that has them.
        let domain = url::Url::parse(&self.public_url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_else(|| "localhost".to_owned());
        let message = Message::builder()
            .from(self.from.clone())
            .to(to.clone())
            .subject(subject)
            .message_id(Some(format!(
                "<{}.{}@{domain}>",
                chrono::Utc::now().timestamp_micros(),
                crate::access::hex(&rand_bytes())
            )))
            .header(lettre::message::header::MIME_VERSION_1_0);
        let message = match attachment {
            None => message.header(ContentType::TEXT_PLAIN).body(body.to_owned()),
            Some((name, bytes)) => {
                let pdf = ContentType::parse("application/pdf")
                    .map_err(|error| MailError::Build(error.to_string()))?;
                message.multipart(
                    MultiPart::mixed()
                        .singlepart(SinglePart::plain(body.to_owned()))
                        .singlepart(Attachment::new(name.to_owned()).body(bytes, pdf)),
                )
            }
        }
        .map_err(|error| MailError::Build(error.to_string()))?;
        match &self.transport {
            Some(transport) => {
                transport.send(message).await.map_err(|error| MailError::Send(error.to_string()))?;
                tracing::info!(to = %to.email, subject, "email sent");
            }
            None => {
                tokio::fs::create_dir_all(&self.outbox)
                    .await
                    .map_err(|error| MailError::Send(error.to_string()))?;
                let name = format!(
                    "{}-{}.eml",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
                    crate::access::hex(&rand_bytes())
                );
                let path = self.outbox.join(name);
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(|error| MailError::Send(error.to_string()))?;
                tracing::info!(to = %to.email, subject, path = %path.display(), "no SMTP_URL: email written to a file");
            }
        }
        Ok(())
    }

    /// The thank-you receipt of a gift, its subject and text: in `language` when given (a
    /// donor asking for it again from their page), else in the language of the checkout it
    /// came from. The outbox's sender writes it when it sends it.
    pub async fn receipt(
        &self,
        store: &Store,
        entry: &Entry,
        language: Option<&Language>,
    ) -> Result<(String, String), StoreError> {
        // The campaign and the checkout's language in one read.
        let context = store.receipt_context(entry.campaign_id, entry.reference.as_deref()).await?;
        let (language, title) = language_and_title(context.as_ref(), language);
        let title = title.unwrap_or_else(|| entry.campaign_slug.to_string());
        Ok(self.receipt_text(language, entry, &title))
    }

    fn receipt_text(&self, language: &Language, entry: &Entry, title: &str) -> (String, String) {
        let subject = language.fill("mail.receipt.subject", &[("campaign", title)]);
        let name = entry.donor.name.clone().unwrap_or_else(|| language.t("mail.receipt.friend").to_owned());
        // What the donor paid, in the currency they paid in (not what it settled as).
        let (paid_minor, paid_currency) =
            crate::payments::amounts::donor_paid(entry.amount_minor, entry.currency, entry.presented);
        let amount = language.money(paid_minor, paid_currency);
        let date = language.date(entry.received_on);
        let reference = entry.stripe.charge.clone().unwrap_or_else(|| format!("#{}", entry.id));
        let mut lines = vec![
            language.fill("mail.receipt.greeting", &[("name", &name)]),
            String::new(),
            language.fill("mail.receipt.body", &[("amount", &amount), ("date", &date), ("campaign", title)]),
        ];
        if entry.recurring {
            lines.push(language.t("mail.receipt.installment").to_owned());
            let link = format!("{}/manage?lang={}", self.public_url, language.code);
            lines.push(language.fill("mail.receipt.manage", &[("link", &link)]));
        }
        lines.push(String::new());
        lines.push(language.fill("mail.receipt.reference", &[("reference", &reference)]));
        lines.push(String::new());
        self.sign_off(language, &mut lines);
        (subject, lines.join("\n"))
    }

    /// A supporter's email about their subscription: an installment that failed (with the
    /// one-time `link` to change the card, and when Stripe tries again), one that went
    /// through after failing, or a yearly gift about to renew (with the link to change it).
    pub fn subscription_text(
        &self,
        language: &Language,
        facts: &SubscriptionFacts,
        kind: SupporterEmailKind,
    ) -> (String, String) {
        let key = match kind {
            SupporterEmailKind::PaymentFailed => "mail.payment_failed",
            SupporterEmailKind::PaymentRecovered => "mail.payment_recovered",
            SupporterEmailKind::RenewalNotice => "mail.renewal_notice",
            SupporterEmailKind::PaymentReminder => "mail.payment_reminder",
            SupporterEmailKind::AnnualStatement => "mail.statement",
            SupporterEmailKind::Receipt => "mail.receipt",
        };
        let name = facts.donor_name.clone().unwrap_or_else(|| language.t("mail.receipt.friend").to_owned());
        let amount = language.money(facts.amount_minor, facts.currency);
        let campaign = facts.campaign.as_str();
        let subject = language.fill(&format!("{key}.subject"), &[("campaign", campaign)]);
        let mut lines = vec![
            language.fill("mail.receipt.greeting", &[("name", &name)]),
            String::new(),
            language.fill(&format!("{key}.body"), &[("amount", &amount), ("campaign", campaign)]),
        ];
        if kind == SupporterEmailKind::RenewalNotice {
            if let Some(at) = facts.renews_on {
                lines.push(
                    language.fill("mail.renewal_notice.on", &[("date", &language.date(at.date_naive()))]),
                );
            }
            if let Some(link) = &facts.link {
                lines.push(String::new());
                lines.push(language.t("mail.renewal_notice.change").to_owned());
                lines.push(link.clone());
            }
        }
        if matches!(kind, SupporterEmailKind::PaymentFailed | SupporterEmailKind::PaymentReminder) {
            if let Some(at) = facts.next_attempt {
                let day = language.date(at.date_naive());
                let retry = if kind == SupporterEmailKind::PaymentReminder {
                    "mail.payment_reminder.retry"
                } else {
                    "mail.payment_failed.retry"
                };
                lines.push(language.fill(retry, &[("date", &day)]));
            }
            if let Some(link) = &facts.link {
                lines.push(String::new());
                lines.push(language.t("mail.payment_failed.update").to_owned());
                lines.push(link.clone());
            }
            lines.push(String::new());
            lines.push(language.t("mail.payment_failed.stop").to_owned());
        }
        lines.push(String::new());
        self.sign_off(language, &mut lines);
        (subject, lines.join("\n"))
    }

    /// The thanks and the organization's name and details that end every email.
    fn sign_off(&self, language: &Language, lines: &mut Vec<String>) {
        lines.push(language.t("mail.receipt.signature").to_owned());
        lines.push(self.site.organization.clone());
        if !self.site.organization_details.is_empty() {
            lines.push(self.site.organization_details.clone());
        }
    }

    /// The email that carries an annual statement (attached as PDF), in its language.
    pub fn statement_text(&self, statement: &crate::store::StoredStatement) -> (String, String) {
        use crate::ledger::statements::number_text;
        let language = catalog().get(&statement.locale).unwrap_or_else(|| catalog().fallback());
        let year = statement.year.to_string();
        let subject = language
            .fill("mail.statement.subject", &[("year", &year), ("organization", &self.site.organization)]);
        let name =
            statement.body.name.clone().unwrap_or_else(|| language.t("mail.receipt.friend").to_owned());
        let total = language.money_sums(
            statement.body.totals.iter().map(|total| (total.currency.as_str(), total.total_minor)),
        );
        let number = number_text(statement.year, statement.number);
        let mut lines = vec![
            language.fill("mail.receipt.greeting", &[("name", &name)]),
            String::new(),
            if statement.body.totals.is_empty() {
                language.fill("mail.statement.empty", &[("year", &year), ("number", &number)])
            } else {
                language
                    .fill("mail.statement.body", &[("year", &year), ("number", &number), ("total", &total)])
            },
        ];
        if let Some(replaced) = statement.replaces_number {
            lines.push(
                language
                    .fill("mail.statement.replaces", &[("number", &number_text(statement.year, replaced))]),
            );
        }
        lines.push(String::new());
        self.sign_off(language, &mut lines);
        (subject, lines.join("\n"))
    }

    /// The organization's name and details, as statements print them.
    pub fn site(&self) -> &SiteConfig {
        &self.site
    }

    /// Where a one-time self-service link opens.
    pub fn manage_link(&self, language: &Language, token: &str) -> String {
        format!("{}/manage/{token}?lang={}", self.public_url, language.code)
    }

    /// The one-time link to manage a subscription.
    pub async fn send_manage_link(
        &self,
        to: &str,
        language: &Language,
        token: &str,
    ) -> Result<(), MailError> {
        let link = self.manage_link(language, token);
        let body = [
            language.t("mail.manage.body").to_owned(),
            String::new(),
            link,
            String::new(),
            language.t("mail.manage.ignore").to_owned(),
            String::new(),
            self.site.organization.clone(),
        ]
        .join("\n");
        self.send(to, language.t("mail.manage.subject"), &body).await
    }
}

/// What a supporter's email about their subscription says.
#[derive(Clone, Debug)]
pub struct SubscriptionFacts {
    pub donor_name: Option<String>,
    pub amount_minor: i64,
    pub currency: crate::ledger::Currency,
    pub campaign: String,
    /// When Stripe tries the failed payment again.
    pub next_attempt: Option<chrono::DateTime<chrono::Utc>>,
    /// The one-time link to the Billing Portal (to change the card, the amount, or stop).
    pub link: Option<String>,
    /// When a yearly gift renews.
    pub renews_on: Option<chrono::DateTime<chrono::Utc>>,
}

fn rand_bytes() -> [u8; 6] {
    let mut bytes = [0_u8; 6];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    bytes
}
