//! Gzip for the few bodies the API compresses itself (the live seat states, polled by every
//! buyer on a seat map): encoded once when they are cached, sent to clients that accept gzip.

use std::io::Write;

/// `bytes` gzipped at the default level.
pub fn compress(bytes: &[u8]) -> Vec<u8> {
    let mut encoder =
        flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 2), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}
