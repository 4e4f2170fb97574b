//! The embedded `web/` folder: page templates, static files and translations, built into
//! the binary so that one file is the whole application.

pub mod i18n;
pub mod templates;

/// The bundled fonts (DejaVu Sans, `assets/fonts`), for what appeal draws itself: the share
/// card and the annual statements look the same on every host.
pub const FONT_REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
pub const FONT_BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

use std::borrow::Cow;

use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/web/"]
struct WebFolder;

/// A file of `web/`, by its path inside it ("static/app.css").
pub fn file(path: &str) -> Option<Cow<'static, [u8]>> {
    WebFolder::get(path).map(|file| file.data)
}

/// The paths of `web/` that start with `prefix`.
pub fn files_under(prefix: &str) -> Vec<String> {
    WebFolder::iter().filter(|path| path.starts_with(prefix)).map(|path| path.into_owned()).collect()
}
