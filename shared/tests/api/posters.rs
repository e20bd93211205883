//! Proves `PUT` and `DELETE /events/events/{event_id}/poster`: an image is known by its bytes
//! (a PNG sent as `image/jpeg` is taken, an HTML file sent as `image/png` is refused with 415),
//! at most 5 MB, really resized to two JPEGs on disk (decoded here to check their sizes), shown
//! on every read of the event, and only by admins.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use crate::http::{TestApp, assert_error, detail, parse};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use image::{ImageFormat, RgbImage};
use proeventa_core::domain::{Event, Poster};
use proeventa_core::posters::MAX_UPLOAD_BYTES;
use uuid::Uuid;

/// A temporary poster folder, removed when dropped.
struct Folder(PathBuf);

impl Folder {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("proeventa-posters-{}", Uuid::new_v4().simple())))
    }
    /// The file behind a poster address (`/posters/<name>`).
    fn file(&self, address: &str) -> PathBuf {
        self.0.join(address.strip_prefix("/posters/").expect("a /posters/ address"))
    }
    fn count(&self) -> usize {
        std::fs::read_dir(&self.0).map(|d| d.count()).unwrap_or(0)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn picture(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 251) as u8, (y % 241) as u8, 120]));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("encode the test picture");
    out.into_inner()
}

async fn put(
    app: &TestApp,
    event_id: Uuid,
    bytes: Vec<u8>,
    content_type: &str,
    token: Option<&str>,
) -> crate::http::Resp {
    let mut request = Request::builder()
        .method(Method::PUT)
        .uri(format!("/events/events/{event_id}/poster"))
        .header(header::CONTENT_TYPE, content_type);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    app.send(request.body(Body::from(bytes)).expect("request")).await
}

fn dimensions(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(image::guess_format(&bytes).expect("a known format"), ImageFormat::Jpeg, "{}", path.display());
    let image = image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg).expect("a readable JPEG");
    (image.width(), image.height())
}

#[tokio::test]
async fn an_admin_uploads_a_poster_stored_in_two_sizes_and_shown_on_every_read() {
    let folder = Folder::new();
    let app = TestApp::with_poster_folder(&folder.0).await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    assert_eq!(event.poster, None);

    let (status, _, body) = put(&app, event.id, picture(1600, 900, ImageFormat::Png), "image/png", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let updated: Event = parse(&body);
    let poster = updated.poster.clone().expect("the event answers with its poster");
    assert_eq!(updated, Event { poster: Some(poster.clone()), ..event.clone() }, "nothing else changed");
    assert!(poster.small.starts_with("/posters/") && poster.small.ends_with("-480.jpg"), "{poster:?}");
    assert!(poster.large.starts_with("/posters/") && poster.large.ends_with("-1200.jpg"), "{poster:?}");
    // Really resized: the stored files decode as JPEGs of the two widths, proportions kept.
    assert_eq!(dimensions(&folder.file(&poster.small)), (480, 270));
    assert_eq!(dimensions(&folder.file(&poster.large)), (1200, 675));

    let (_, _, body) = app.get(&format!("/events/events/{}", event.id), None).await;
    assert_eq!(parse::<Event>(&body).poster.as_ref(), Some(&poster));
    let (_, _, body) = app.get("/events/events", None).await;
    assert_eq!(parse::<Vec<Event>>(&body)[0].poster.as_ref(), Some(&poster));

    // A smaller image is never enlarged; a new image gets new names (no cache shows the old one).
    let (status, _, body) = put(&app, event.id, picture(300, 450, ImageFormat::Png), "image/png", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let Poster { small, large } = parse::<Event>(&body).poster.expect("a poster");
    assert_ne!(small, poster.small);
    assert_eq!(dimensions(&folder.file(&small)), (300, 450));
    assert_eq!(dimensions(&folder.file(&large)), (300, 450));

    let (status, _, body) = app.delete(&format!("/events/events/{}/poster", event.id), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(parse::<Event>(&body).poster, None);
    let (_, _, body) = app.get(&format!("/events/events/{}", event.id), None).await;
    assert_eq!(parse::<Event>(&body).poster, None, "the site draws its poster again");
}

#[tokio::test]
async fn the_type_is_read_from_the_bytes_not_from_the_name_or_header() {
    let folder = Folder::new();
    let app = TestApp::with_poster_folder(&folder.0).await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;

    // A PNG renamed poster.jpg (sent as image/jpeg) is a PNG, and taken.
    let (status, _, body) = put(&app, event.id, picture(640, 480, ImageFormat::Png), "image/jpeg", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // JPEG and WebP are taken too, whatever the header says.
    for format in [ImageFormat::Jpeg, ImageFormat::WebP] {
        let (status, _, body) =
            put(&app, event.id, picture(640, 480, format), "application/octet-stream", Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{format:?}: {body}");
        assert_eq!(dimensions(&folder.file(&parse::<Event>(&body).poster.expect("poster").small)), (480, 360));
    }
    let kept = parse::<Event>(&app.get(&format!("/events/events/{}", event.id), None).await.2).poster;
    let files = folder.count();

    // An HTML page renamed poster.png (sent as image/png) is refused, and changes nothing.
    let page = b"<!doctype html><html><body><script>alert(1)</script></body></html>".to_vec();
    let resp = put(&app, event.id, page, "image/png", Some(&admin)).await;
    assert_error(&resp, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    assert_eq!(detail(&resp), "The file is not a JPEG, PNG or WebP image.");
    // A GIF is an image, but not one of the three.
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    assert_error(
        &put(&app, event.id, gif.to_vec(), "image/gif", Some(&admin)).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert_error(
        &put(&app, event.id, Vec::new(), "image/png", Some(&admin)).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );

    // A PNG cut short is known as a PNG but cannot be read: 422.
    let mut cut = picture(640, 480, ImageFormat::Png);
    cut.truncate(cut.len() / 3);
    let resp = put(&app, event.id, cut, "image/png", Some(&admin)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    assert_eq!(parse::<Event>(&app.get(&format!("/events/events/{}", event.id), None).await.2).poster, kept);
    assert_eq!(folder.count(), files, "nothing refused was written");
}

#[tokio::test]
async fn an_upload_over_5_mb_is_refused_whole() {
    let folder = Folder::new();
    let app = TestApp::with_poster_folder(&folder.0).await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;

    // A real PNG's bytes, padded past the limit: refused before it is decoded.
    let mut big = picture(64, 64, ImageFormat::Png);
    big.resize(MAX_UPLOAD_BYTES + 1, 0);
    let resp = put(&app, event.id, big, "image/png", Some(&admin)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(detail(&resp), "The image is larger than 5 MB; upload one of at most 5 MB.");
    assert_eq!(folder.count(), 0);

    // Just under the limit is read as the image it is (its padding after the PNG's end ignored).
    let mut fits = picture(64, 64, ImageFormat::Png);
    fits.resize(MAX_UPLOAD_BYTES, 0);
    let (status, _, body) = put(&app, event.id, fits, "image/png", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn only_admins_upload_posters_of_events_that_exist_and_are_on_sale() {
    let folder = Folder::new();
    let app = TestApp::with_poster_folder(&folder.0).await;
    let admin = app.admin().await;
    let (_, customer) = app.customer("ana@example.com").await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let png = || picture(200, 100, ImageFormat::Png);

    assert_error(&put(&app, event.id, png(), "image/png", None).await, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_error(&put(&app, event.id, png(), "image/png", Some(&customer)).await, StatusCode::FORBIDDEN, "forbidden");
    let resp = app.delete(&format!("/events/events/{}/poster", event.id), Some(&customer)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    assert_error(
        &put(&app, Uuid::new_v4(), png(), "image/png", Some(&admin)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let (status, _, _) = app.delete(&format!("/events/events/{}", event.id), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_error(&put(&app, event.id, png(), "image/png", Some(&admin)).await, StatusCode::CONFLICT, "invalid_state");
    assert_eq!(folder.count(), 0, "no file for a refused upload");
}

#[tokio::test]
async fn without_a_poster_folder_an_upload_is_unavailable_and_changes_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let resp = put(&app, event.id, picture(200, 100, ImageFormat::Png), "image/png", Some(&admin)).await;
    assert_error(&resp, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert_eq!(parse::<Event>(&app.get(&format!("/events/events/{}", event.id), None).await.2).poster, None);
}
