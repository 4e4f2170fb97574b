//! Notices after a write ("Recorded entry 12."): carried to the next page in a cookie signed
//! with the session's own secret, shown once, never read from the URL, so that a link cannot
//! make the dashboard say something it did not do.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::cookie_header;
use crate::http::AppState;
use crate::http::auth::SignedIn;

const NOTICE_COOKIE: &str = "appeal_notice";

fn signature(signed_in: &SignedIn, text: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(signed_in.csrf_token.as_bytes()).expect("HMAC takes any key");
    mac.update(b"notice:");
    mac.update(text.as_bytes());
    crate::access::hex(&mac.finalize().into_bytes())
}

/// A redirect to `to` that shows `notice` there once.
pub(super) fn redirect_with_notice(
    state: &AppState,
    signed_in: &SignedIn,
    to: &str,
    notice: &str,
) -> Response {
    let encoded: String = form_urlencoded::byte_serialize(notice.as_bytes()).collect();
    let value = format!("{encoded}.{}", signature(signed_in, notice));
    let mut response = Redirect::to(to).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie_header(state, NOTICE_COOKIE, &value, 60));
    response
}

/// The notice this session was sent to this page with, if its signature holds.
pub(super) fn take_notice(headers: &HeaderMap, signed_in: &SignedIn) -> Option<String> {
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(&format!("{NOTICE_COOKIE}=")).map(str::to_owned))?;
    let (encoded, mac) = value.rsplit_once('.')?;
    let text: String = form_urlencoded::parse(format!("n={encoded}").as_bytes()).next()?.1.into_owned();
    // Compared as hex of an HMAC: equal length, and the key is the session's own.
    (signature(signed_in, &text) == mac).then_some(text)
}

/// `response` with the notice cookie spent, when a notice was shown.
pub(super) fn spent(state: &AppState, shown: bool, mut response: Response) -> Response {
    if shown {
        let clear: HeaderValue = cookie_header(state, NOTICE_COOKIE, "", 0);
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    response
}
