//! A mail as people read it (`Letter`: greeting, paragraphs, a link, tickets' QR codes, files)
//! and as it travels: multipart MIME with a plain-text and an HTML body, each QR inlined as a PNG
//! the HTML names by `cid:` (no remote images: mail clients block those), and the files attached.

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use qrcode::{Color, EcLevel, QrCode};

/// A file sent with a mail.
#[derive(Debug, Clone)]
pub struct FileAttachment {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// A ticket's QR shown in the mail's HTML: the seat it admits and the code it carries.
#[derive(Debug, Clone)]
pub struct InlineQr {
    pub label: String,
    pub code: String,
}

/// What one mail says, before it is MIME.
#[derive(Debug, Clone)]
pub struct Letter {
    pub subject: String,
    /// The recipient's name, for "Hello Ann,".
    pub name: String,
    pub paragraphs: Vec<String>,
    pub qr_codes: Vec<InlineQr>,
    /// One link back to the site: its words and its address.
    pub link: Option<(String, String)>,
    pub attachments: Vec<FileAttachment>,
}

/// Pixels per QR module in the PNG, and the white modules around it that scanners need.
const QR_MODULE_PIXELS: usize = 6;
const QR_QUIET_ZONE: usize = 4;

impl Letter {
    /// The MIME message: `mixed` [ `alternative` [ text, `related` [ HTML, QR PNGs ] ], files ].
    pub fn into_message(self, from: &Mailbox, to: Mailbox, message_id: String) -> Result<Message, String> {
        let text = self.text();
        let mut related = MultiPart::related().singlepart(SinglePart::html(self.html()));
        for (index, qr) in self.qr_codes.iter().enumerate() {
            related = related.singlepart(
                Attachment::new_inline(qr_content_id(index)).body(qr_png(&qr.code), content_type("image/png")),
            );
        }
        let mut mixed = MultiPart::mixed()
            .multipart(MultiPart::alternative().singlepart(SinglePart::plain(text)).multipart(related));
        for file in self.attachments {
            mixed = mixed.singlepart(Attachment::new(file.name).body(file.bytes, content_type(file.content_type)));
        }
        Message::builder()
            .message_id(Some(message_id))
            .from(from.clone())
            .to(to)
            .subject(self.subject)
            .multipart(mixed)
            .map_err(|e| format!("the mail could not be built: {e}"))
    }

    fn text(&self) -> String {
        let mut text = format!("Hello {},\n\n", self.name);
        for paragraph in &self.paragraphs {
            text.push_str(paragraph);
            text.push_str("\n\n");
        }
        if let Some((words, url)) = &self.link {
            text.push_str(&format!("{words}: {url}\n\n"));
        }
        text.push_str("ProEventa\n");
        text
    }

    fn html(&self) -> String {
        let mut html = String::from(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>\
             <body style=\"font-family:Helvetica,Arial,sans-serif;color:#111;max-width:36em\">",
        );
        html.push_str(&format!("<p>Hello {},</p>", escape(&self.name)));
        for paragraph in &self.paragraphs {
            html.push_str(&format!("<p>{}</p>", escape(paragraph)));
        }
        for (index, qr) in self.qr_codes.iter().enumerate() {
            let label = escape(&qr.label);
            html.push_str(&format!(
                "<div style=\"margin:1em 0\"><p style=\"margin:0\"><strong>{label}</strong></p>\
                 <img src=\"cid:{cid}\" alt=\"QR code of {label}\" width=\"200\" height=\"200\"></div>",
                cid = qr_content_id(index)
            ));
        }
        if let Some((words, url)) = &self.link {
            html.push_str(&format!("<p><a href=\"{}\">{}</a></p>", escape(url), escape(words)));
        }
        html.push_str("<p>ProEventa</p></body></html>");
        html
    }
}

fn qr_content_id(index: usize) -> String {
    format!("qr{index}@proeventa")
}

fn content_type(value: &str) -> ContentType {
    ContentType::parse(value).unwrap_or(ContentType::TEXT_PLAIN)
}

/// Text as HTML shows it, markup-free: whatever a buyer named themself stays words.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The QR of `code` as a black-on-white greyscale PNG with its quiet zone: the one image format
/// every mail client shows inline (the PDF and the site draw the same code as vectors). Level M,
/// as the printed ticket.
pub fn qr_png(code: &str) -> Vec<u8> {
    let qr = QrCode::with_error_correction_level(code.as_bytes(), EcLevel::M)
        .expect("a ticket code fits in a QR (at most 2,331 bytes at level M)");
    let modules = qr.width();
    let colors = qr.to_colors();
    let side = (modules + 2 * QR_QUIET_ZONE) * QR_MODULE_PIXELS;
    let mut pixels = vec![0xffu8; side * side];
    for (index, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (x, y) = (index % modules + QR_QUIET_ZONE, index / modules + QR_QUIET_ZONE);
        for row in y * QR_MODULE_PIXELS..(y + 1) * QR_MODULE_PIXELS {
            pixels[row * side + x * QR_MODULE_PIXELS..row * side + (x + 1) * QR_MODULE_PIXELS].fill(0);
        }
    }
    let mut png = Vec::new();
    let side = u32::try_from(side).expect("a QR image is a few hundred pixels wide");
    let mut encoder = png::Encoder::new(&mut png, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().expect("writing to memory does not fail");
    writer.write_image_data(&pixels).expect("the image is exactly side × side pixels");
    writer.finish().expect("writing to memory does not fail");
    png
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter() -> Letter {
        Letter {
            subject: "Your tickets".into(),
            name: "Ann <b>".into(),
            paragraphs: vec!["One & two.".into()],
            qr_codes: vec![InlineQr { label: "Row A · Seat 1".into(), code: "PE1.test".into() }],
            link: Some(("Your booking".into(), "http://127.0.0.1:8080/payment.html?booking=1".into())),
            attachments: vec![FileAttachment { name: "a.pdf".into(), content_type: "application/pdf", bytes: vec![1] }],
        }
    }

    #[test]
    fn the_html_escapes_what_people_typed_and_inlines_the_qr() {
        let html = letter().html();
        assert!(html.contains("Hello Ann &lt;b&gt;,") && html.contains("One &amp; two."), "{html}");
        assert!(html.contains("src=\"cid:qr0@proeventa\""), "{html}");
        assert!(!html.contains("<img src=\"http"), "no remote image: {html}");
    }

    #[test]
    fn the_message_is_multipart_with_its_id() {
        let from: Mailbox = "ProEventa <tickets@proeventa.localhost>".parse().unwrap();
        let message = letter()
            .into_message(&from, "ann@example.com".parse().unwrap(), "<m1@proeventa.localhost>".into())
            .unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        for part in [
            "Message-ID: <m1@proeventa.localhost>",
            "multipart/mixed",
            "multipart/alternative",
            "multipart/related",
            "Content-ID: <qr0@proeventa>",
            "image/png",
            "filename=\"a.pdf\"",
        ] {
            assert!(raw.contains(part), "{part} missing in {raw}");
        }
    }

    #[test]
    fn the_qr_png_is_a_png_with_a_quiet_zone() {
        let png = qr_png("PE1.test");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut pixels).unwrap();
        // The corner is quiet zone (white); the finder pattern's corner, just inside it, dark.
        let side = reader.info().width as usize;
        assert_eq!(pixels[0], 0xff);
        let inside = QR_QUIET_ZONE * QR_MODULE_PIXELS;
        assert_eq!(pixels[inside * side + inside], 0);
    }
}
