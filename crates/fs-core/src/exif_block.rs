//! EXIF carry-over: parse a source frame's EXIF block, make it safe to move into
//! another file, and encode it again.
//!
//! A block is only ever copied after being rebuilt field by field, never byte for
//! byte, because EXIF is full of absolute offsets:
//! - the MakerNote is dropped: it is a vendor blob whose internal offsets point into
//!   the source file and break when the block moves;
//! - the thumbnail IFD is dropped (it shows the source frame, not the output);
//! - TIFF image-structure tags (size, compression, strips, sample format...) are
//!   dropped: they describe the source file's pixels, not the output's;
//! - Orientation is set to 1 (normal): [`crate::read_frame`] already turned the pixels
//!   upright;
//! - PixelXDimension / PixelYDimension are set to the output's size.

use std::io::Cursor;

use exif::{Context, Field, In, Tag, Value};

/// TIFF-context tags that describe the stored pixels of the source file (or point
/// into it); they are never carried over.
const STRUCTURE_TAGS: &[u16] = &[
    0x00FE, // NewSubfileType
    0x00FF, // SubfileType
    0x0100, // ImageWidth
    0x0101, // ImageLength
    0x0102, // BitsPerSample
    0x0103, // Compression
    0x0106, // PhotometricInterpretation
    0x010A, // FillOrder
    0x0111, // StripOffsets
    0x0115, // SamplesPerPixel
    0x0116, // RowsPerStrip
    0x0117, // StripByteCounts
    0x011C, // PlanarConfiguration
    0x013D, // Predictor
    0x0140, // ColorMap
    0x0142, // TileWidth
    0x0143, // TileLength
    0x0144, // TileOffsets
    0x0145, // TileByteCounts
    0x014A, // SubIFDs
    0x0152, // ExtraSamples
    0x0153, // SampleFormat
    0x0201, // JPEGInterchangeFormat
    0x0202, // JPEGInterchangeFormatLength
    0x0211, // YCbCrCoefficients
    0x0212, // YCbCrSubSampling
    0x0213, // YCbCrPositioning
    0x02BC, // XMP packet (not carried; may contradict the rebuilt EXIF)
    0x8649, // Photoshop image resources (may hold thumbnails)
    0x8773, // ICC profile inside a TIFF's IFD0: carried separately as `Metadata::icc`
];

/// Sub-IFD pointers: offsets into the source, rewritten by whoever encodes the
/// output (a stale one would point into the middle of the new file).
fn is_pointer(tag: Tag) -> bool {
    tag == Tag::ExifIFDPointer || tag == Tag::GPSInfoIFDPointer || tag == Tag::InteropIFDPointer
}

/// Whether a field belongs to the source file rather than to the picture: the
/// thumbnail IFD, image-structure tags, sub-IFD pointers, and values of unknown type
/// (which cannot be re-encoded).
fn describes_source(f: &Field) -> bool {
    f.ifd_num != In::PRIMARY
        || matches!(f.value, Value::Unknown(..))
        || is_pointer(f.tag)
        || (f.tag.context() == Context::Tiff && STRUCTURE_TAGS.contains(&f.tag.number()))
}

/// Parses an EXIF block (a TIFF structure) leniently: fields before a damaged
/// entry are kept. `None` if nothing usable is in it.
fn parse(block: Vec<u8>) -> Option<exif::Exif> {
    let mut reader = exif::Reader::new();
    reader.continue_on_error(true);
    match reader.read_raw(block) {
        Ok(exif) => Some(exif),
        Err(e) => e.distill_partial_result(|_| {}).ok(),
    }
}

/// The fields of `exif` that are safe to carry into a `width` x `height` output,
/// with Orientation = 1; see the module doc.
fn carried_fields(exif: &exif::Exif, width: usize, height: usize) -> Vec<Field> {
    let mut out: Vec<Field> = Vec::new();
    for f in exif.fields() {
        let duplicate = out.iter().any(|g| g.tag == f.tag);
        if !describes_source(f) && f.tag != Tag::MakerNote && !duplicate {
            out.push(f.clone());
        }
    }
    if out.is_empty() {
        return out; // nothing to carry: no block at all, not one holding only Orientation
    }
    set_field(&mut out, Tag::Orientation, Value::Short(vec![1]));
    for (tag, v) in [(Tag::PixelXDimension, width), (Tag::PixelYDimension, height)] {
        if out.iter().any(|f| f.tag == tag) {
            set_field(&mut out, tag, Value::Long(vec![u32::try_from(v).unwrap_or(u32::MAX)]));
        }
    }
    out
}

fn set_field(fields: &mut Vec<Field>, tag: Tag, value: Value) {
    match fields.iter_mut().find(|f| f.tag == tag) {
        Some(f) => f.value = value,
        None => fields.push(Field { tag, ifd_num: In::PRIMARY, value }),
    }
}

/// Encodes fields as a little-endian EXIF block.
pub(crate) fn encode(fields: &[Field]) -> Option<Vec<u8>> {
    if fields.is_empty() {
        return None;
    }
    let mut writer = exif::experimental::Writer::new();
    for f in fields {
        writer.push_field(f);
    }
    let mut buf = Cursor::new(Vec::new());
    writer.write(&mut buf, true).ok()?;
    Some(buf.into_inner())
}

/// The EXIF fields to write into an output of `width` x `height`, from a raw
/// source block. `None` when the block holds nothing usable (it is then dropped
/// rather than copied blindly).
pub(crate) fn output_fields(block: &[u8], width: usize, height: usize) -> Option<Vec<Field>> {
    let exif = parse(block.to_vec())?;
    let fields = carried_fields(&exif, width, height);
    (!fields.is_empty()).then_some(fields)
}

/// The EXIF block of a TIFF file (its IFD0 and EXIF/GPS sub-IFD fields without
/// the image-structure tags, re-encoded as a standalone block) and its ICC profile
/// (tag 34675, BYTE or UNDEFINED). Takes the whole file.
pub(crate) fn tiff_file_metadata(file: Vec<u8>) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let Some(exif) = parse(file) else { return (None, None) };
    let icc =
        exif.get_field(Tag(Context::Tiff, 0x8773), In::PRIMARY).and_then(|f| match &f.value {
            Value::Undefined(b, _) | Value::Byte(b) if !b.is_empty() => Some(b.clone()),
            _ => None,
        });
    let fields: Vec<Field> = exif.fields().filter(|f| !describes_source(f)).cloned().collect();
    // Resolution alone is what every TIFF writer puts in (ours too): not EXIF.
    let resolution = [Tag::XResolution, Tag::YResolution, Tag::ResolutionUnit];
    if fields.iter().all(|f| resolution.contains(&f.tag)) {
        return (None, icc);
    }
    (encode(&fields), icc)
}

/// The EXIF block of a camera RAW file built on TIFF (DNG, CR2, NEF, ARW, PEF, ORF,
/// RW2...): its picture fields as [`tiff_file_metadata`] keeps them, without the tags
/// EXIF does not define (DNG's colour and level tags, makers' private IFD0 tags), which
/// would make an output claim to be a raw file. `None` for RAW formats not built on
/// TIFF (CR3, RAF) or without usable fields.
#[cfg(feature = "raw")]
pub(crate) fn raw_file_exif(file: std::sync::Arc<Vec<u8>>) -> Option<Vec<u8>> {
    let file = std::sync::Arc::try_unwrap(file).unwrap_or_else(|shared| (*shared).clone());
    let exif = parse(file)?;
    let fields: Vec<Field> = exif
        .fields()
        .filter(|f| !describes_source(f) && f.tag.description().is_some())
        .filter(|f| f.tag.context() != Context::Tiff || f.tag.number() < 0xC000)
        .cloned()
        .collect();
    encode(&fields)
}

/// The Orientation value (1..=8) of a raw EXIF block, if it has one.
pub(crate) fn orientation(block: &[u8]) -> Option<u8> {
    let exif = parse(block.to_vec())?;
    let f = exif.get_field(Tag::Orientation, In::PRIMARY)?;
    f.value.get_uint(0).and_then(|v| u8::try_from(v).ok()).filter(|v| (1..=8).contains(v))
}
