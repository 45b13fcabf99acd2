//! A plausible synthetic EXIF block for generated frames.

use std::io::Cursor;

use exif::experimental::Writer;
use exif::{Field, In, Rational, Tag, Value};

/// The raw EXIF block (little-endian TIFF structure) of frame `index` of `frames`,
/// focused at `focus_depth`: Make "fstack", Model "synthetic", 1/125 s, f/8, ISO 100,
/// 60 mm, taken one second apart from 2026-01-01 12:00:00.
pub(crate) fn exif_block(index: usize, frames: usize, focus_depth: f64) -> Vec<u8> {
    let ascii = |s: String| Value::Ascii(vec![s.into_bytes()]);
    let rational = |num: u32, denom: u32| Value::Rational(vec![Rational { num, denom }]);
    let secs = 12 * 3600 + index as u64;
    let date = format!("2026:01:01 {:02}:{:02}:{:02}", secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let fields = [
        (Tag::Make, ascii("fstack".into())),
        (Tag::Model, ascii("synthetic".into())),
        (
            Tag::ImageDescription,
            ascii(format!(
                "fstack synthetic frame {} of {frames}, focus depth {focus_depth:.4}",
                index + 1
            )),
        ),
        (Tag::Software, ascii(format!("fstack {}", env!("CARGO_PKG_VERSION")))),
        (Tag::Orientation, Value::Short(vec![1])),
        (Tag::ExposureTime, rational(1, 125)),
        (Tag::FNumber, rational(8, 1)),
        (Tag::PhotographicSensitivity, Value::Short(vec![100])),
        (Tag::DateTimeOriginal, ascii(date)),
        (Tag::FocalLength, rational(60, 1)),
    ]
    .map(|(tag, value)| Field { tag, ifd_num: In::PRIMARY, value });
    let mut writer = Writer::new();
    for f in &fields {
        writer.push_field(f);
    }
    let mut out = Cursor::new(Vec::new());
    writer.write(&mut out, true).expect("an in-memory EXIF block with valid fields encodes");
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exif_block_reads_back() {
        let block = exif_block(61, 64, 0.5);
        assert_eq!(&block[..4], b"II*\0");
        let exif = exif::Reader::new().read_raw(block).unwrap();
        let text = |tag| exif.get_field(tag, In::PRIMARY).unwrap().display_value().to_string();
        assert_eq!(text(Tag::Make), "\"fstack\"");
        assert_eq!(text(Tag::Model), "\"synthetic\"");
        assert_eq!(text(Tag::ExposureTime), "1/125");
        assert_eq!(text(Tag::FNumber), "8");
        assert_eq!(text(Tag::PhotographicSensitivity), "100");
        assert_eq!(text(Tag::DateTimeOriginal), "2026-01-01 12:01:01");
        assert_eq!(text(Tag::FocalLength), "60");
    }
}
