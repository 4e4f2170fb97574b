//! Campaign pages from memory: `/c/{slug}`, `/c/{slug}/b/{branch}`, `/c/{slug}/branches`,
//! `/embed/{slug}` and `/` rendered once and served again while nothing they show has
//! changed, so a campaign push that sends thousands of readers to one page costs no database
//! work. `kept_page` serves one, writing the visitor's `ref` into it (`stamp_ref`).
//!
//! A campaign's page is kept under the ETag of its in-memory progress document, which every
//! commit that moves its figures replaces (on this instance, and on others through their
//! change notices): a gift shows at once. What the document does not carry (the donor wall's
//! moderation, a title edited, the time left) is at most `FRESH_FOR` old.

use axum::http::StatusCode;
use axum::response::Response;

use super::AppState;
use super::pages::Lang;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a kept page may be served for what its key does not cover.
pub const FRESH_FOR: Duration = Duration::from_secs(5);
/// Pages kept at most (campaigns × languages × kinds); past it the cache starts afresh.
const MAX_PAGES: usize = 4096;

/// Pages (`str`, the default) or images (`[u8]`) kept per key and version.
#[derive(Debug)]
pub struct PageCache<T: ?Sized = str> {
    pages: Mutex<HashMap<PageKey, Kept<T>>>,
}

impl<T: ?Sized> Default for PageCache<T> {
    fn default() -> Self {
        PageCache { pages: Mutex::default() }
    }
}

/// Which page: its kind ("c", "embed", "home"), campaign and language.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub kind: &'static str,
    pub slug: String,
    pub lang: String,
}

#[derive(Debug)]
struct Kept<T: ?Sized> {
    /// The progress document's ETag the page was rendered from ("" for the home page).
    version: String,
    at: Instant,
    html: Arc<T>,
    /// When a reader started rendering a newer page: until it is kept (or `CLAIM_FOR`
    /// passes), the other readers get this one rather than all render at once.
    rebuilding_since: Option<Instant>,
}

/// How long one reader's rendering holds the others on the page before it.
const CLAIM_FOR: Duration = Duration::from_secs(2);

impl<T: ?Sized> PageCache<T> {
    /// The page to answer with: the one rendered from `version` while fresh; else, while
    /// another reader renders the new one, the page before it (a few milliseconds behind);
    /// else `None`, and the caller renders it (and `put`s it).
    pub fn get(&self, key: &PageKey, version: &str) -> Option<Arc<T>> {
        let mut pages = self.pages.lock().ok()?;
        let kept = pages.get_mut(key)?;
        if kept.version == version && kept.at.elapsed() < FRESH_FOR {
            return Some(kept.html.clone());
        }
        match kept.rebuilding_since {
            Some(since) if since.elapsed() < CLAIM_FOR && kept.at.elapsed() < FRESH_FOR * 2 => {
                Some(kept.html.clone())
            }
            _ => {
                kept.rebuilding_since = Some(Instant::now());
                None
            }
        }
    }

    /// Forgets every kept page: a change their key does not cover (a title, the wall) was
    /// made here, and shows at once. (Made on another instance, it shows within `FRESH_FOR`.)
    pub fn clear(&self) {
        if let Ok(mut pages) = self.pages.lock() {
            pages.clear();
        }
    }

    pub fn put(&self, key: PageKey, version: &str, html: Arc<T>) {
        if let Ok(mut pages) = self.pages.lock() {
            if pages.len() >= MAX_PAGES && !pages.contains_key(&key) {
                pages.clear();
            }
            pages.insert(
                key,
                Kept { version: version.to_owned(), at: Instant::now(), html, rebuilding_since: None },
            );
        }
    }
}

/// The public document's ETag for `slug`, from memory: the version a kept page must match.
pub(super) async fn page_version(state: &AppState, slug: &str) -> Option<String> {
    match state.store.progress_document(slug).await {
        Ok(Some(document)) if document.public => Some(document.etag.clone()),
        _ => None,
    }
}

/// A public page from memory while `version` stands (`None`: never kept); else rendered by
/// `render` (the HTML, or the answer that replaces it) and kept under `version`.
pub(super) async fn kept_page(
    state: &AppState,
    lang: &Lang,
    key: PageKey,
    version: Option<String>,
    source_ref: Option<&str>,
    render: impl std::future::Future<Output = Result<String, Response>>,
) -> Response {
    let code = lang.language.code.clone();
    if let Some(version) = &version
        && let Some(html) = state.pages.get(&key, version)
    {
        return lang.page(StatusCode::OK, stamp_ref(html.to_string(), &code, source_ref));
    }
    match render.await {
        Ok(html) => {
            if let Some(version) = &version {
                state.pages.put(key, version, html.as_str().into());
            }
            lang.page(StatusCode::OK, stamp_ref(html, &code, source_ref))
        }
        Err(refused) => refused,
    }
}

/// The push a visitor came from (`?ref=`, or `utm_campaign`/`utm_source`), written into a
/// page kept in memory without it: on a page with the form, its hidden `ref` field only (not
/// the page's shared address, so that a visitor who shares it does not pass their ref on);
/// on the embed, which has no form, its links to the campaign page. (A `ref` holds only
/// letters, digits, `-` and `_`: nothing to escape.)
pub(super) fn stamp_ref(html: String, lang: &str, source_ref: Option<&str>) -> String {
    const FORM_SLOT: &str = "name=\"ref\" value=\"\"";
    let Some(source_ref) = source_ref else {
        return html;
    };
    if html.contains(FORM_SLOT) {
        return html.replacen(FORM_SLOT, &format!("name=\"ref\" value=\"{source_ref}\""), 1);
    }
    let mut html = html;
    for end in ['"', '#'] {
        html =
            html.replace(&format!("?lang={lang}{end}"), &format!("?lang={lang}&amp;ref={source_ref}{end}"));
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_served_again_only_for_the_same_figures() {
        let cache: PageCache = PageCache::default();
        let key = PageKey { kind: "c", slug: "office".into(), lang: "fr".into() };
        cache.put(key.clone(), "\"v1\"", Arc::from("<p>1</p>"));
        assert_eq!(cache.get(&key, "\"v1\"").as_deref(), Some("<p>1</p>"));
        assert_eq!(cache.get(&key, "\"v2\""), None, "a new gift: rendered again, by this reader");
        assert_eq!(cache.get(&key, "\"v2\"").as_deref(), Some("<p>1</p>"), "others meanwhile get the last");
        cache.put(key.clone(), "\"v2\"", Arc::from("<p>2</p>"));
        assert_eq!(cache.get(&key, "\"v2\"").as_deref(), Some("<p>2</p>"));
        let english = PageKey { lang: "en".into(), ..key };
        assert_eq!(cache.get(&english, "\"v1\""), None, "each language its own");
    }
}
