//! Security headers, written once for every place that serves ProEventa.
//!
//! API answers (`SecurityHeadersLayer`, a layer of every router): `X-Content-Type-Options: nosniff`; a
//! Content-Security-Policy that lets a JSON body do nothing if a browser ever renders it
//! (`default-src 'none'`), except the two documentation pages, which load their own scripts and
//! styles; and `Cache-Control: no-store` on every answer to an authenticated request, so no cache
//! keeps one person's bookings or payments. The booking site's policy (`site_headers`) is here too:
//! `proeventa serve` sends it, and `infra/template.yaml`'s CloudFront `ResponseHeadersPolicy` says
//! the same (checked by `functions/proeventa-lambda/tests/infra/route_parity.rs`).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// What a JSON answer may do when a browser renders it: nothing, and not inside a frame.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Swagger UI (`/docs`) and ReDoc (`/redoc`): their own scripts, inline styles (both set styles
/// from script), images from themselves or `data:`, ReDoc's search worker from a `blob:`.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                            img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; \
                            frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The booking site's referrer policy: other sites see the origin only, never a booking's page.
pub const SITE_REFERRER_POLICY: &str = "strict-origin-when-cross-origin";

/// The booking site's Content-Security-Policy: scripts and styles only from the site itself (no
/// inline script, no inline style), requests only to itself and the API's origin, posters from
/// the site or any https address an organiser gives, a ticket's QR from a `blob:` the page made
/// (it is fetched with the bearer token, which an `<img src>` cannot send), never inside a frame.
pub fn site_csp(api_origin: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; \
         connect-src 'self' {api_origin}; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// The headers the booking site sends with every file.
pub fn site_headers(api_origin: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(csp) = HeaderValue::from_str(&site_csp(api_origin)) {
        headers.insert(CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static(SITE_REFERRER_POLICY));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
}

/// The origin (`scheme://host[:port]`) of a URL such as the API's base URL.
pub fn origin_of(url: &str) -> &str {
    match url.find("://") {
        Some(scheme_end) => {
            let rest = &url[scheme_end + 3..];
            &url[..scheme_end + 3 + rest.find('/').unwrap_or(rest.len())]
        }
        None => url,
    }
}

/// The longest `x-request-id` a client may give; a longer one (or one with other characters
/// than letters, digits, `-`, `_` and `.`) is replaced by one of ours, so logs never carry a
/// client's arbitrary text as a request id.
const REQUEST_ID_MAX: usize = 64;

const REQUEST_ID: &str = "x-request-id";

fn is_safe_request_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= REQUEST_ID_MAX
        && id.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn is_documentation(path: &str) -> bool {
    ["/docs", "/redoc"].iter().any(|page| path == *page || path.strip_prefix(page).is_some_and(|r| r.starts_with('/')))
}

/// The API's security headers on every answer (see the module's doc), and a client's unsafe
/// `x-request-id` dropped before the request-id layer gives the request one of its own. A tower
/// layer rather than a `from_fn` middleware: it runs on every request, and measured, the boxed
/// middleware cost the cheapest answers (seat-map revalidations) about a tenth of their rate.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecurityHeadersLayer;

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityHeaders { inner }
    }
}

#[derive(Debug, Clone)]
pub struct SecurityHeaders<S> {
    inner: S,
}

impl<S, B, ResBody> Service<Request<B>> for SecurityHeaders<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = SecuredResponse<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if request.headers().get(REQUEST_ID).is_some_and(|id| !is_safe_request_id(id.as_bytes())) {
            request.headers_mut().remove(REQUEST_ID);
        }
        let csp = if is_documentation(request.uri().path()) { DOCS_CSP } else { API_CSP };
        let authenticated = request.headers().contains_key(AUTHORIZATION);
        SecuredResponse { inner: self.inner.call(request), csp, authenticated }
    }
}

pin_project! {
    /// The inner service's answer, with the security headers added once it is ready.
    pub struct SecuredResponse<F> {
        #[pin]
        inner: F,
        csp: &'static str,
        authenticated: bool,
    }
}

impl<F, ResBody, E> Future for SecuredResponse<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        let headers = response.headers_mut();
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(this.csp));
        if *this.authenticated {
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_documentation_paths() {
        assert_eq!(origin_of("https://api.example.com/prod/x"), "https://api.example.com");
        assert_eq!(origin_of("http://127.0.0.1:8000"), "http://127.0.0.1:8000");
        assert!(is_documentation("/docs") && is_documentation("/docs/index.css") && is_documentation("/redoc"));
        assert!(!is_documentation("/docsx") && !is_documentation("/events/events"));
    }

    #[test]
    fn request_ids_are_short_safe_tokens() {
        assert!(is_safe_request_id(b"trace-me-42") && is_safe_request_id(b"a.b_c"));
        assert!(!is_safe_request_id(b"") && !is_safe_request_id(b"<script>") && !is_safe_request_id(b"a b"));
        assert!(!is_safe_request_id(&[b'a'; REQUEST_ID_MAX + 1]));
    }

    #[test]
    fn the_site_policy_allows_no_inline_script_and_names_the_api() {
        let csp = site_csp("http://127.0.0.1:8000");
        assert!(csp.contains("script-src 'self';") && !csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("connect-src 'self' http://127.0.0.1:8000;"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("img-src 'self' data: blob: https:;"), "ticket.html shows its QR from a blob: URL: {csp}");
    }
}
