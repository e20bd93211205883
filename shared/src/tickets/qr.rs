//! The QR that carries a ticket's code: as SVG for screens (`qr.svg`), and as its module matrix
//! for the PDF, which draws the same modules as vector squares.

use qrcode::render::svg;
use qrcode::{Color, EcLevel, QrCode};

/// Pixels per module in the SVG's own coordinates; the `viewBox` lets it scale to any size.
const SVG_MODULE_UNITS: u32 = 8;

/// The QR of `code` as a standalone SVG document: error correction M (a phone still reads a
/// ticket with some 15% of it smudged or folded), the 4-module quiet zone scanners need, black
/// on white, with a `viewBox` so it scales.
///
/// # Panics
/// For a text longer than any QR holds (2,331 bytes at level M); a ticket code is under 220.
pub fn qr_svg(code: &str) -> String {
    qr_code(code)
        .render::<svg::Color<'_>>()
        .quiet_zone(true)
        .module_dimensions(SVG_MODULE_UNITS, SVG_MODULE_UNITS)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build()
}

/// The dark modules of `code`'s QR, row by row, `width` × `width`, without the quiet zone.
pub(crate) struct QrModules {
    pub width: usize,
    dark: Vec<bool>,
}

impl QrModules {
    pub fn of(code: &str) -> Self {
        let qr = qr_code(code);
        Self { width: qr.width(), dark: qr.to_colors().into_iter().map(|c| c == Color::Dark).collect() }
    }

    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        self.dark[y * self.width + x]
    }
}

fn qr_code(code: &str) -> QrCode {
    QrCode::with_error_correction_level(code.as_bytes(), EcLevel::M)
        .expect("a ticket code fits in a QR (at most 2,331 bytes at level M)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_svg_scales_and_has_a_quiet_zone() {
        let code = "PE1.".to_owned() + &"A".repeat(200);
        let svg = qr_svg(&code);
        let modules = QrModules::of(&code);
        let side = (modules.width as u32 + 8) * SVG_MODULE_UNITS;
        assert!(svg.contains(&format!(r#"viewBox="0 0 {side} {side}""#)), "{svg}");
        assert!(svg.contains("#000000") && svg.contains("#ffffff"));
        // Finder patterns: the top-left module is dark, the one past the separator light.
        assert!(modules.is_dark(0, 0) && modules.is_dark(6, 6) && !modules.is_dark(7, 7));
    }
}
