//! An annual statement as a PDF (A4), in the donor's language: the organization, the
//! statement's number and date (and the one it replaces), the donor, every gift and what was
//! deducted, the totals. Drawn with krilla, the bundled DejaVu fonts embedded (subset), so
//! that accents print and the text reads back (copy, search, screen readers, `pdftotext`).

use std::sync::{Arc, LazyLock};

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};

use crate::ledger::Currency;
use crate::ledger::statements::{LineKind, StatementBody, number_text};
use crate::web::i18n::Language;
use crate::web::{FONT_BOLD, FONT_REGULAR};

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
/// Lines of the table that fit on the first page, and on each page after it.
const FIRST_PAGE_LINES: usize = 24;
const NEXT_PAGE_LINES: usize = 38;
const ROW: f32 = 16.0;

static FONTS: LazyLock<Option<(Font, Font)>> = LazyLock::new(|| {
    let regular = Font::new(Arc::new(FONT_REGULAR.to_vec()).into(), 0)?;
    let bold = Font::new(Arc::new(FONT_BOLD.to_vec()).into(), 0)?;
    Some((regular, bold))
});

/// Widths of text in the bundled fonts, to right-align amounts.
static FACES: LazyLock<Option<(ttf_parser::Face<'static>, ttf_parser::Face<'static>)>> =
    LazyLock::new(|| {
        Some((ttf_parser::Face::parse(FONT_REGULAR, 0).ok()?, ttf_parser::Face::parse(FONT_BOLD, 0).ok()?))
    });

/// What a statement PDF prints besides its body.
#[derive(Debug)]
pub struct StatementHeader<'a> {
    pub organization: &'a str,
    /// Postal address and charity number (`APPEAL_ORG_DETAILS`), a line each.
    pub details: &'a str,
    pub year: i32,
    pub number: i64,
    pub issued_on: chrono::NaiveDate,
    pub replaces: Option<i64>,
    /// Printed across a statement not issued (the dashboard's preview).
    pub preview: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write the statement PDF: {0}")]
pub struct PdfError(String);

fn width(text: &str, size: f32, bold: bool) -> f32 {
    let Some((regular, heavy)) = FACES.as_ref() else { return 0.0 };
    let face = if bold { heavy } else { regular };
    let units: f32 = text
        .chars()
        .filter_map(|c| face.glyph_index(c))
        .filter_map(|glyph| face.glyph_hor_advance(glyph))
        .map(f32::from)
        .sum();
    units * size / f32::from(face.units_per_em())
}

struct Pen<'s, 'p> {
    surface: &'s mut Surface<'p>,
    regular: Font,
    bold: Font,
}

impl Pen<'_, '_> {
    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        let font = if bold { self.bold.clone() } else { self.regular.clone() };
        self.surface.draw_text(Point::from_xy(x, y), font, size, text, false, TextDirection::Auto);
    }

    fn right(&mut self, right: f32, y: f32, size: f32, bold: bool, text: &str) {
        self.text(right - width(text, size, bold), y, size, bold, text);
    }

    fn rule(&mut self, y: f32, grey: u8) {
        let mut path = PathBuilder::new();
        path.move_to(MARGIN, y);
        path.line_to(WIDTH - MARGIN, y);
        if let Some(path) = path.finish() {
            self.surface.set_fill(None);
            self.surface.set_stroke(Some(Stroke {
                paint: rgb::Color::new(grey, grey, grey).into(),
                width: 0.6,
                ..Stroke::default()
            }));
            self.surface.draw_path(&path);
            self.surface.set_stroke(None);
            self.surface.set_fill(Some(Fill::default()));
        }
    }
}

/// Cuts `text` to fit `room` points at `size`, with an ellipsis when cut.
fn fit(text: &str, room: f32, size: f32) -> String {
    if width(text, size, false) <= room {
        return text.to_owned();
    }
    let mut cut: String = text.to_owned();
    while !cut.is_empty() && width(&format!("{cut}…"), size, false) > room {
        cut.pop();
    }
    format!("{}…", cut.trim_end())
}

/// An issued statement as PDF bytes, in its language.
pub fn issued_pdf(
    statement: &crate::store::StoredStatement,
    organization: &str,
    details: &str,
) -> Result<Vec<u8>, PdfError> {
    let language = crate::web::i18n::catalog()
        .get(&statement.locale)
        .unwrap_or_else(|| crate::web::i18n::catalog().fallback());
    let header = StatementHeader {
        organization,
        details,
        year: statement.year,
        number: statement.number,
        issued_on: statement.issued_on,
        replaces: statement.replaces_number,
        preview: false,
    };
    statement_pdf(&header, &statement.body, language.drawable())
}

/// The statement as PDF bytes.
pub fn statement_pdf(
    header: &StatementHeader<'_>,
    body: &StatementBody,
    language: &Language,
) -> Result<Vec<u8>, PdfError> {
    let (regular, bold) =
        FONTS.as_ref().ok_or_else(|| PdfError("the bundled fonts do not load".to_owned()))?;
    let number = number_text(header.year, header.number);
    let year = header.year.to_string();
    let money = |minor: i64, code: &str| match Currency::from_code(code) {
        Ok(currency) => language.money_exact(minor, currency),
        Err(_) => format!("{minor} {code}"),
    };
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(language.fill("statement.title", &[("year", &year)]))
            .creator("appeal".to_owned())
            .language(language.code.clone()),
    );
    let chunks: Vec<&[crate::ledger::statements::StatementLine]> = {
        let first = body.lines.len().min(FIRST_PAGE_LINES);
        let mut chunks = vec![&body.lines[..first]];
        chunks.extend(body.lines[first..].chunks(NEXT_PAGE_LINES));
        // The totals (three rows a currency) and the thanks need room under the last line:
        // when the last page has none left, they go on a page of their own.
        let room = if chunks.len() == 1 { FIRST_PAGE_LINES } else { NEXT_PAGE_LINES };
        if chunks.last().map_or(0, |lines| lines.len()) + 3 * body.totals.len() + 4 > room {
            chunks.push(&[]);
        }
        chunks
    };
    let pages = chunks.len();
    let (date_x, campaign_x, kind_x, amount_right) = (MARGIN, MARGIN + 76.0, MARGIN + 262.0, WIDTH - MARGIN);
    for (index, lines) in chunks.iter().enumerate() {
        let settings =
            PageSettings::from_wh(WIDTH, HEIGHT).ok_or_else(|| PdfError("page size".to_owned()))?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        let mut pen = Pen { surface: &mut surface, regular: regular.clone(), bold: bold.clone() };
        let mut y = MARGIN + 14.0;
        if index == 0 {
            pen.text(MARGIN, y, 16.0, true, header.organization);
            // A line each: as written over several lines, or one line cut at " · ".
            let details = header.details.lines().flat_map(|line| line.split(" · "));
            for detail in details.map(str::trim).filter(|line| !line.is_empty()) {
                y += 13.0;
                pen.text(MARGIN, y, 9.5, false, detail);
            }
            y += 34.0;
            pen.text(MARGIN, y, 15.0, true, &language.fill("statement.title", &[("year", &year)]));
            y += 20.0;
            pen.text(MARGIN, y, 10.5, false, &language.fill("statement.number", &[("number", &number)]));
            pen.right(
                amount_right,
                y,
                10.5,
                false,
                &language.fill("statement.issued", &[("date", &language.date(header.issued_on))]),
            );
            if let Some(replaced) = header.replaces {
                y += 15.0;
                let replaced = number_text(header.year, replaced);
                pen.text(
                    MARGIN,
                    y,
                    10.5,
                    true,
                    &language.fill("statement.replaces", &[("number", &replaced)]),
                );
            }
            if header.preview {
                y += 15.0;
                pen.text(MARGIN, y, 10.5, true, language.t("statement.preview"));
            }
            y += 28.0;
            pen.text(MARGIN, y, 9.0, false, language.t("statement.donor"));
            y += 15.0;
            pen.text(MARGIN, y, 12.0, true, body.addressee().unwrap_or("—"));
            if let (Some(email), Some(_)) = (&body.email, &body.name) {
                y += 14.0;
                pen.text(MARGIN, y, 10.0, false, email);
            }
            y += 30.0;
        }
        pen.text(date_x, y, 9.0, true, language.t("statement.column.date"));
        pen.text(campaign_x, y, 9.0, true, language.t("statement.column.campaign"));
        pen.text(kind_x, y, 9.0, true, language.t("statement.column.kind"));
        pen.right(amount_right, y, 9.0, true, language.t("statement.column.amount"));
        y += 6.0;
        pen.rule(y, 120);
        for line in lines.iter() {
            y += ROW;
            let kind = match line.kind {
                LineKind::Gift => "statement.kind.gift",
                LineKind::Installment => "statement.kind.installment",
                LineKind::Deducted => "statement.kind.deducted",
                LineKind::Restored => "statement.kind.restored",
            };
            pen.text(date_x, y, 9.5, false, &line.date.format("%Y-%m-%d").to_string());
            pen.text(campaign_x, y, 9.5, false, &fit(&line.campaign, kind_x - campaign_x - 10.0, 9.5));
            pen.text(kind_x, y, 9.5, false, language.t(kind));
            pen.right(amount_right, y, 9.5, false, &money(line.amount_minor, &line.currency));
        }
        if index + 1 == pages {
            y += 8.0;
            pen.rule(y, 120);
            if body.lines.is_empty() {
                y += ROW;
                pen.text(MARGIN, y, 10.0, false, language.t("statement.nothing"));
            }
            for total in &body.totals {
                if total.deducted_minor != 0 {
                    y += ROW;
                    pen.text(kind_x, y, 9.5, false, language.t("statement.gifts"));
                    pen.right(amount_right, y, 9.5, false, &money(total.gifts_minor, &total.currency));
                    y += ROW;
                    pen.text(kind_x, y, 9.5, false, language.t("statement.deducted"));
                    pen.right(amount_right, y, 9.5, false, &money(total.deducted_minor, &total.currency));
                }
                y += ROW + 2.0;
                pen.text(kind_x, y, 11.0, true, &language.fill("statement.total", &[("year", &year)]));
                pen.right(amount_right, y, 11.0, true, &money(total.total_minor, &total.currency));
            }
            y += 34.0;
            pen.text(MARGIN, y, 10.0, false, language.t("statement.thanks"));
        }
        let footer = language.fill(
            "statement.page",
            &[("number", &number), ("page", &(index + 1).to_string()), ("pages", &pages.to_string())],
        );
        pen.right(amount_right, HEIGHT - MARGIN / 2.0, 8.0, false, &footer);
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|error| PdfError(format!("{error:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::statements::{StatementLine, StatementTotal};

    #[test]
    fn a_long_year_runs_over_pages_and_each_says_which() {
        let line = |n: i64| StatementLine {
            entry: n,
            date: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("a day"),
            campaign: "Une campagne au titre bien trop long pour tenir dans sa colonne du relevé".to_owned(),
            kind: LineKind::Installment,
            amount_minor: 1000,
            currency: "CAD".to_owned(),
        };
        let body = StatementBody {
            name: Some("Élodie".to_owned()),
            email: None,
            lines: (1..=70).map(line).collect(),
            totals: vec![StatementTotal {
                currency: "CAD".to_owned(),
                gifts_minor: 70_000,
                deducted_minor: 0,
                total_minor: 70_000,
            }],
        };
        let header = StatementHeader {
            organization: "Solidarité",
            details: "",
            year: 2026,
            number: 7,
            issued_on: chrono::NaiveDate::from_ymd_opt(2027, 1, 15).expect("a day"),
            replaces: None,
            preview: false,
        };
        let language = crate::web::i18n::catalog().get("fr").expect("French");
        let pdf = statement_pdf(&header, &body, language).expect("a PDF");
        assert!(pdf.starts_with(b"%PDF-"));
        // 24 lines on the first page, 38 on the next, 8 on the last.
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/Type/Pages/Count 3/"), "three pages");
        assert_eq!(text.matches("/Type/Page/").count(), 3);
        // 62 lines fill two pages: the totals go on a third.
        let full = StatementBody { lines: body.lines[..62].to_vec(), ..body.clone() };
        let pdf = statement_pdf(&header, &full, language).expect("a PDF");
        assert!(
            String::from_utf8_lossy(&pdf).contains("/Type/Pages/Count 3/"),
            "the totals on a page of their own"
        );
        assert!(fit(&body.lines[0].campaign, 100.0, 9.5).ends_with('…'));
        assert!(width("10,00 $", 9.5, false) > 20.0);
    }
}
