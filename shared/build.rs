//! Swagger UI (cargo feature `swagger-ui`): the page and the assets it loads, unpacked into
//! `OUT_DIR` from the release archive vendored in `utoipa-swagger-ui-vendored` (no network at
//! build time). Only these are embedded (`api::meta`): the archive's whole distribution adds 11 MB
//! of source maps and bundles the page never loads, which would put api-meta's Lambda bootstrap
//! over 15 MB.
//!
//! ReDoc (cargo feature `redoc`): its standalone bundle (1.1 MB, the only file `/redoc` loads),
//! from `vendor/` where `make vendor` puts it, embedded so api-meta serves it on Lambda.
//!
//! DejaVu Sans (the ticket PDF's font, `tickets::pdf`): zlib-compressed into `OUT_DIR`, 759,720
//! bytes of TrueType in about 384 KB, which the bootstraps that print tickets embed instead.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // `sqlx::migrate!` embeds the migrations, and cargo does not watch files outside the package:
    // a new migration must rebuild the crate even when no Rust file changed.
    println!("cargo:rerun-if-changed=../migrations");
    println!("cargo:rustc-check-cfg=cfg(redoc_embedded)");
    font::deflate();
    #[cfg(feature = "swagger-ui")]
    swagger_ui::unpack();
    #[cfg(feature = "redoc")]
    redoc::embed();
}

mod font {
    use std::io::Write;
    use std::path::PathBuf;

    /// Writes `OUT_DIR/DejaVuSans.ttf.zz`, the font in a zlib stream (its checksum checked when
    /// `tickets::pdf` inflates it), at the best compression: it is done once per build.
    pub fn deflate() {
        let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
        let font = manifest.join("assets/fonts/DejaVuSans.ttf");
        println!("cargo:rerun-if-changed={}", font.display());
        let bytes = std::fs::read(&font).unwrap_or_else(|error| panic!("{}: {error}", font.display()));
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&bytes).expect("deflate DejaVu Sans");
        let deflated = encoder.finish().expect("deflate DejaVu Sans");
        let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("DejaVuSans.ttf.zz");
        std::fs::write(out, deflated).expect("write the deflated font to OUT_DIR");
    }
}

#[cfg(feature = "redoc")]
mod redoc {
    use std::path::PathBuf;

    /// Sets `cfg(redoc_embedded)` and `PROEVENTA_REDOC_JS` (the bundle's path, for
    /// `include_bytes!`) when the bundle is there. A release build (what is deployed: `make
    /// package`, `sam build`) refuses to go on without it, so no package ships a `/redoc` whose
    /// bundle answers 503; a debug build (tests, clippy on a fresh clone) warns and reads the
    /// bundle from `REDOC_JS` at run time instead.
    pub fn embed() {
        let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
        let workspace = manifest.parent().unwrap_or(&manifest);
        let bundle = workspace.join("vendor/redoc/bundles/redoc.standalone.js");
        // Also reruns when the file appears (cargo reruns a script whose watched file is missing).
        println!("cargo:rerun-if-changed={}", bundle.display());
        if bundle.is_file() {
            println!("cargo:rustc-cfg=redoc_embedded");
            println!("cargo:rustc-env=PROEVENTA_REDOC_JS={}", bundle.display());
        } else if std::env::var("PROFILE").as_deref() == Ok("release") {
            panic!(
                "ReDoc's bundle is embedded in this build (cargo feature `redoc`, api-meta's) but is not at {}: \
                 run `make vendor` first",
                bundle.display()
            );
        } else {
            println!(
                "cargo:warning=ReDoc's bundle is not at {} (`make vendor`): this debug build reads it from \
                 REDOC_JS at run time",
                bundle.display()
            );
        }
    }
}

#[cfg(feature = "swagger-ui")]
mod swagger_ui {
    use std::io::{Cursor, Read};
    use std::path::PathBuf;

    /// `dist/index.html` and what it loads, except `swagger-initializer.js`, which `api::meta`
    /// writes itself (it points Swagger UI at `/openapi.json`).
    const FILES: [&str; 7] = [
        "index.html",
        "index.css",
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-32x32.png",
        "favicon-16x16.png",
    ];

    pub fn unpack() {
        let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("swagger-ui");
        std::fs::create_dir_all(&out).expect("create OUT_DIR/swagger-ui");
        let bytes = utoipa_swagger_ui_vendored::SWAGGER_UI_VENDORED;
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("the vendored Swagger UI archive");
        // `swagger-ui-<version>/dist/<file>`: the release's distribution, whatever its version.
        let in_dist = |entry: &str, file: &str| {
            let parts: Vec<&str> = entry.split('/').collect();
            parts.len() == 3 && parts[1] == "dist" && parts[2] == file
        };
        for file in FILES {
            let entry = archive
                .file_names()
                .find(|entry| in_dist(entry, file))
                .unwrap_or_else(|| panic!("dist/{file} is not in the vendored Swagger UI archive"))
                .to_owned();
            let mut content = Vec::new();
            let mut zipped = archive.by_name(&entry).expect("an entry of the archive");
            zipped.read_to_end(&mut content).expect("unzip Swagger UI");
            std::fs::write(out.join(file), content).expect("write Swagger UI's files to OUT_DIR");
        }
    }
}
