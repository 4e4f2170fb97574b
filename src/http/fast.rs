//! Progress reads answered from memory, ahead of the router and its layers.
//!
//! The progress document is read far more often than anything else: every page that embeds
//! the bar, every few seconds, all through a campaign push. When the document is in memory
//! and public, the answer is made here, with the same headers the router would give it
//! (CORS, security, ETag, caching). Everything else, including a progress read that needs
//! the database or ends in an error, goes through the router as usual.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::response::Response;
use futures_util::future::Either;
use tower::Service;

use super::{AppState, public, route_span, security};

/// The route, as request spans name it.
const ROUTE: &str = "/api/v1/campaigns/{slug}/progress";

/// Wraps the router (per connection): `inner` answers whatever is not a progress read
/// served from memory.
#[derive(Clone, Debug)]
pub struct FastProgress<S> {
    inner: S,
    state: AppState,
}

impl<S> FastProgress<S> {
    pub fn new(inner: S, state: AppState) -> Self {
        FastProgress { inner, state }
    }
}

/// The slug of `/api/v1/campaigns/{slug}/progress`, when it needs no decoding.
fn progress_slug(path: &str) -> Option<&str> {
    let slug = path.strip_prefix("/api/v1/campaigns/")?.strip_suffix("/progress")?;
    let plain = !slug.is_empty()
        && slug.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
    plain.then_some(slug)
}

impl<S> Service<Request> for FastProgress<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if request.method() == Method::GET
            && let Some(slug) = progress_slug(request.uri().path())
            && let Some(document) =
                self.state.store.progress_document_in_memory(slug).filter(|document| document.public)
        {
            let _span = route_span(&Method::GET, ROUTE).entered();
            let mut response =
                public::progress_response(&document, request.headers().get(header::IF_NONE_MATCH));
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            security::add_headers(&self.state.policies, false, headers);
            return Either::Left(ready(Ok(response)));
        }
        Either::Right(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::progress_slug;

    #[test]
    fn only_plain_progress_paths_are_taken() {
        assert_eq!(progress_slug("/api/v1/campaigns/spring-2026/progress"), Some("spring-2026"));
        assert_eq!(progress_slug("/api/v1/campaigns/spring/progress/stream"), None);
        assert_eq!(progress_slug("/api/v1/campaigns//progress"), None);
        assert_eq!(progress_slug("/api/v1/campaigns/a%2Fb/progress"), None);
        assert_eq!(progress_slug("/api/v1/campaigns/a/b/progress"), None);
        assert_eq!(progress_slug("/api/v1/campaigns/spring"), None);
    }
}
