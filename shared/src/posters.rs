//! Event posters (issue 22): an image an admin uploads, checked by what its bytes are (never by a
//! file name or a Content-Type), decoded with bounded memory, and stored as two JPEGs, about 480
//! and 1200 px wide, for cards and for the event's page. The store keeps only their addresses
//! (`Event::poster`); the files go to a folder the site port serves (`proeventa serve`) or to an
//! S3 bucket behind CloudFront (Lambda, feature `s3-posters`).

use std::io::Cursor;
use std::path::PathBuf;

use async_trait::async_trait;
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits, RgbImage};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::Poster;

/// The largest upload taken: 5 MiB.
pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;
/// The two widths stored; an image narrower than one is kept at its own width, never enlarged.
pub const SMALL_WIDTH: u32 = 480;
pub const LARGE_WIDTH: u32 = 1200;
/// Larger pictures are refused before they are decoded (a 5 MB file can claim any size).
const MAX_SIDE: u32 = 12_000;
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
const JPEG_QUALITY: u8 = 82;

/// Why an upload is not a poster, each with the sentence a person reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PosterError {
    #[error("The image is larger than 5 MB; upload one of at most 5 MB.")]
    TooLarge,
    #[error("The file is not a JPEG, PNG or WebP image.")]
    Unsupported,
    #[error("The image could not be read; it may be damaged or too large to open.")]
    Unreadable,
}

/// The two JPEGs of a poster and the name they share, derived from the upload's content (the
/// same image gives the same names; another image, new names, so no cache serves an old one).
#[derive(Debug, Clone)]
pub struct PreparedPoster {
    pub stem: String,
    pub small: Vec<u8>,
    pub large: Vec<u8>,
}

impl PreparedPoster {
    pub fn small_name(&self) -> String {
        format!("{}-{SMALL_WIDTH}.jpg", self.stem)
    }
    pub fn large_name(&self) -> String {
        format!("{}-{LARGE_WIDTH}.jpg", self.stem)
    }
}

/// JPEG, PNG or WebP by their magic bytes; anything else (an HTML file named `.png`) is refused.
pub fn sniff(bytes: &[u8]) -> Result<ImageFormat, PosterError> {
    match image::guess_format(bytes) {
        Ok(format @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => Ok(format),
        _ => Err(PosterError::Unsupported),
    }
}

/// Checks, decodes and resizes an upload for `event_id`. CPU-bound: callers run it off the
/// async threads (`tokio::task::spawn_blocking`).
pub fn prepare(event_id: Uuid, bytes: &[u8]) -> Result<PreparedPoster, PosterError> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(PosterError::TooLarge);
    }
    let format = sniff(bytes)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let image = reader.decode().map_err(|_| PosterError::Unreadable)?;
    let digest = Sha256::digest(bytes);
    let version = crate::hex::encode(&digest[..6]);
    Ok(PreparedPoster {
        stem: format!("{event_id}-{version}"),
        small: jpeg(&image, SMALL_WIDTH)?,
        large: jpeg(&image, LARGE_WIDTH)?,
    })
}

/// The image at most `width` wide (its proportions kept), on white where it was transparent.
fn jpeg(image: &DynamicImage, width: u32) -> Result<Vec<u8>, PosterError> {
    let scaled =
        if image.width() > width { image.resize(width, u32::MAX, FilterType::Triangle) } else { image.clone() };
    let rgba = scaled.to_rgba8();
    let flat = RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over_white = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY).encode_image(&flat).map_err(|_| PosterError::Unreadable)?;
    Ok(out)
}

/// Where poster files go. `put` stores one JPEG under `name` and answers its public address.
#[async_trait]
pub trait PosterStorage: Send + Sync {
    async fn put(&self, name: &str, jpeg: Vec<u8>) -> Result<String, String>;
}

/// Stores both sizes of a prepared poster and answers their addresses.
pub async fn store(storage: &dyn PosterStorage, prepared: PreparedPoster) -> Result<Poster, String> {
    let small_name = prepared.small_name();
    let large_name = prepared.large_name();
    let small = storage.put(&small_name, prepared.small).await?;
    let large = storage.put(&large_name, prepared.large).await?;
    Ok(Poster { small, large })
}

/// No storage set up: uploads are refused (an API without a poster folder or bucket).
pub struct NoPosterStorage;

#[async_trait]
impl PosterStorage for NoPosterStorage {
    async fn put(&self, _name: &str, _jpeg: Vec<u8>) -> Result<String, String> {
        Err("no poster storage is set up (POSTER_DIR or POSTER_BUCKET)".into())
    }
}

/// A folder, served at `public_prefix` (`proeventa serve`: `./posters` at `/posters` on the
/// site's port, so the site shows them from its own origin).
pub struct PosterFolder {
    dir: PathBuf,
    public_prefix: String,
}

impl PosterFolder {
    pub fn new(dir: impl Into<PathBuf>, public_prefix: &str) -> Self {
        Self { dir: dir.into(), public_prefix: public_prefix.trim_end_matches('/').to_owned() }
    }
}

#[async_trait]
impl PosterStorage for PosterFolder {
    async fn put(&self, name: &str, jpeg: Vec<u8>) -> Result<String, String> {
        tokio::fs::create_dir_all(&self.dir).await.map_err(|e| format!("poster folder {}: {e}", self.dir.display()))?;
        // Written aside and renamed: a reader never sees half a file.
        let path = self.dir.join(name);
        let partial = self.dir.join(format!(".{name}.part"));
        tokio::fs::write(&partial, jpeg).await.map_err(|e| format!("poster {}: {e}", partial.display()))?;
        tokio::fs::rename(&partial, &path).await.map_err(|e| format!("poster {}: {e}", path.display()))?;
        Ok(format!("{}/{name}", self.public_prefix))
    }
}

/// An S3 bucket: files under `posters/`, served by CloudFront at `public_prefix`
/// (`POSTER_BUCKET`, `POSTER_BASE_URL`, see infra/template.yaml).
#[cfg(feature = "s3-posters")]
pub struct PosterBucket {
    client: aws_sdk_s3::Client,
    bucket: String,
    public_prefix: String,
}

#[cfg(feature = "s3-posters")]
impl PosterBucket {
    pub async fn new(bucket: &str, public_prefix: &str) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self {
            client: aws_sdk_s3::Client::new(&config),
            bucket: bucket.to_owned(),
            public_prefix: public_prefix.trim_end_matches('/').to_owned(),
        }
    }
}

#[cfg(feature = "s3-posters")]
#[async_trait]
impl PosterStorage for PosterBucket {
    async fn put(&self, name: &str, jpeg: Vec<u8>) -> Result<String, String> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(format!("posters/{name}"))
            .content_type("image/jpeg")
            // The name changes with the content: caches may keep a file for good.
            .cache_control("public, max-age=31536000, immutable")
            .body(jpeg.into())
            .send()
            .await
            .map_err(|e| format!("poster upload to S3: {}", aws_sdk_s3::error::DisplayErrorContext(&e)))?;
        Ok(format!("{}/{name}", self.public_prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image =
            image::RgbaImage::from_fn(width, height, |x, y| image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, 200]));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn an_image_is_known_by_its_bytes_and_anything_else_refused() {
        assert_eq!(sniff(&png(4, 4)), Ok(ImageFormat::Png));
        assert_eq!(sniff(b"<!doctype html><title>x</title>"), Err(PosterError::Unsupported));
        assert_eq!(sniff(b"GIF89a...."), Err(PosterError::Unsupported));
        assert_eq!(sniff(b""), Err(PosterError::Unsupported));
    }

    #[test]
    fn a_poster_is_resized_to_two_widths_and_never_enlarged() {
        let prepared = prepare(Uuid::nil(), &png(1600, 900)).unwrap();
        let small = image::load_from_memory_with_format(&prepared.small, ImageFormat::Jpeg).unwrap();
        let large = image::load_from_memory_with_format(&prepared.large, ImageFormat::Jpeg).unwrap();
        assert_eq!((small.width(), small.height()), (480, 270));
        assert_eq!((large.width(), large.height()), (1200, 675));
        let narrow = prepare(Uuid::nil(), &png(300, 200)).unwrap();
        let kept = image::load_from_memory_with_format(&narrow.large, ImageFormat::Jpeg).unwrap();
        assert_eq!((kept.width(), kept.height()), (300, 200));
        assert!(prepared.small_name().ends_with("-480.jpg") && prepared.large_name().ends_with("-1200.jpg"));
    }

    #[test]
    fn a_damaged_or_oversized_upload_is_refused() {
        let mut cut = png(64, 64);
        cut.truncate(40);
        assert_eq!(prepare(Uuid::nil(), &cut).unwrap_err(), PosterError::Unreadable);
        let mut big = png(4, 4);
        big.resize(MAX_UPLOAD_BYTES + 1, 0);
        assert_eq!(prepare(Uuid::nil(), &big).unwrap_err(), PosterError::TooLarge);
    }
}
