//! TIFF output with the tiff crate's directory encoder: lossless Deflate compression
//! with the horizontal predictor, gray / gray+alpha / RGB / RGBA, 8 or 16 bit, and
//! the metadata the image crate's TIFF encoder cannot write: the EXIF and GPS
//! sub-IFDs (tags 34665, 34853), EXIF-derived IFD0 fields (Make, Model, ...) and the
//! ICC profile (tag 34675).
//!
//! Deflate runs at level 1. Level 6 (the tiff crate's default) was tried: on a
//! 2000x1300 RGB camera frame it took 2.10 s instead of 0.16 s for a file 26%
//! smaller (2.08 vs 2.81 MB); LZW took 0.50 s for 2.10 MB. Strips (256 KiB raw) are
//! predicted and compressed in parallel, which the tiff crate's own image encoder
//! does one after the other.

use std::io::{Seek, Write};

use exif::{Context, Field, Value};
use rayon::prelude::*;
use tiff::Directory;
use tiff::TiffResult;
use tiff::encoder::compression::{CompressionAlgorithm, Deflate, DeflateLevel};
use tiff::encoder::{DirectoryEncoder, Rational, TiffEncoder, TiffKind};
use tiff::tags::{
    CompressionMethod, ExtraSamples, PhotometricInterpretation, PlanarConfiguration, Predictor,
    ResolutionUnit, SampleFormat, Tag, Type,
};

use crate::{ChannelLayout, Frame, Samples};

/// Raw bytes per strip before compression; small enough that even a small frame
/// has a few strips to compress in parallel.
const STRIP_BYTES: usize = 256 * 1024;

/// An integer sample as stored in a TIFF strip.
trait StripSample: Copy + Send + Sync {
    /// `self - prev`, wrapping: the horizontal predictor.
    fn delta(self, prev: Self) -> Self;
    /// Appends the sample in the file's (native) byte order.
    fn put(self, out: &mut Vec<u8>);
}

impl StripSample for u8 {
    #[inline(always)]
    fn delta(self, prev: Self) -> Self {
        self.wrapping_sub(prev)
    }
    #[inline(always)]
    fn put(self, out: &mut Vec<u8>) {
        out.push(self);
    }
}

impl StripSample for u16 {
    #[inline(always)]
    fn delta(self, prev: Self) -> Self {
        self.wrapping_sub(prev)
    }
    #[inline(always)]
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_ne_bytes());
    }
}

/// Predicts and compresses strips of `rows_per_strip` rows, in parallel; the strip
/// boundaries do not depend on the thread count, so neither does the file.
fn compress_strips<S: StripSample>(
    samples: &[S],
    row_len: usize,
    rows_per_strip: usize,
    spp: usize,
) -> TiffResult<Vec<Vec<u8>>> {
    samples
        .par_chunks(row_len * rows_per_strip)
        .map(|strip| {
            // Allocation: one predicted copy and one compressed buffer per strip.
            let mut raw = Vec::with_capacity(std::mem::size_of_val(strip));
            for row in strip.chunks_exact(row_len) {
                row[..spp].iter().for_each(|v| v.put(&mut raw));
                row[spp..].iter().zip(row).for_each(|(&v, &prev)| v.delta(prev).put(&mut raw));
            }
            let mut out = Vec::with_capacity(raw.len() / 2);
            Deflate::with_level(DeflateLevel::Fast).write_to(&mut out, &raw)?;
            Ok(out)
        })
        .collect()
}

/// EXIF fields as TIFF entries: the type and the bytes in the file's (native) order.
fn entry_bytes(value: &Value) -> Option<(Type, Vec<u8>)> {
    let mut b = Vec::new();
    let ty = match value {
        Value::Byte(v) => {
            b.extend_from_slice(v);
            Type::BYTE
        }
        Value::Ascii(v) => {
            for s in v {
                b.extend_from_slice(s);
                b.push(0);
            }
            Type::ASCII
        }
        Value::Short(v) => {
            v.iter().for_each(|x| b.extend(x.to_ne_bytes()));
            Type::SHORT
        }
        Value::Long(v) => {
            v.iter().for_each(|x| b.extend(x.to_ne_bytes()));
            Type::LONG
        }
        Value::Rational(v) => {
            v.iter().for_each(|r| {
                b.extend(r.num.to_ne_bytes());
                b.extend(r.denom.to_ne_bytes());
            });
            Type::RATIONAL
        }
        Value::SByte(v) => {
            v.iter().for_each(|x| b.extend(x.to_ne_bytes()));
            Type::SBYTE
        }
        Value::Undefined(v, _) => {
            b.extend_from_slice(v);
            Type::UNDEFINED
        }
        Value::SShort(v) => {
            v.iter().for_each(|x| b.extend(x.to_ne_bytes()));
            Type::SSHORT
        }
        Value::SLong(v) => {
            v.iter().for_each(|x| b.extend(x.to_ne_bytes()));
            Type::SLONG
        }
        Value::SRational(v) => {
            v.iter().for_each(|r| {
                b.extend(r.num.to_ne_bytes());
                b.extend(r.denom.to_ne_bytes());
            });
            Type::SRATIONAL
        }
        Value::Float(v) => {
            v.iter().for_each(|x| b.extend(x.to_ne_bytes()));
            Type::FLOAT
        }
        Value::Double(v) => {
            v.iter().for_each(|x| b.extend(x.to_ne_bytes()));
            Type::DOUBLE
        }
        Value::Unknown(..) => return None,
    };
    (!b.is_empty()).then_some((ty, b))
}

fn put_bytes<W: Write + Seek, K: TiffKind>(
    dir: &mut DirectoryEncoder<'_, W, K>,
    tag: u16,
    ty: Type,
    bytes: &[u8],
) -> TiffResult<()> {
    let entry = dir.write_entry_bytes(ty, bytes)?;
    dir.extend_from(&Directory::from_iter([(Tag::from_u16_exhaustive(tag), entry)]));
    Ok(())
}

fn put_fields<W: Write + Seek, K: TiffKind>(
    dir: &mut DirectoryEncoder<'_, W, K>,
    fields: &[&Field],
) -> TiffResult<()> {
    for f in fields {
        if let Some((ty, bytes)) = entry_bytes(&f.value) {
            put_bytes(dir, f.tag.number(), ty, &bytes)?;
        }
    }
    Ok(())
}

/// Writes a sub-IFD not linked into the image chain; returns its offset.
fn sub_ifd<W: Write + Seek>(
    enc: &mut TiffEncoder<W>,
    fields: &[&Field],
    pointers: &[(u16, u32)],
) -> TiffResult<Option<u32>> {
    if fields.is_empty() && pointers.is_empty() {
        return Ok(None);
    }
    let mut dir = enc.extra_directory()?;
    put_fields(&mut dir, fields)?;
    for &(tag, offset) in pointers {
        dir.write_tag(Tag::from_u16_exhaustive(tag), offset)?;
    }
    Ok(Some(dir.finish_with_offsets()?.offset))
}

/// What goes into the TIFF's directories besides the pixels.
pub(crate) struct TiffMetadata<'a> {
    /// Carried EXIF fields (already sanitised), all contexts.
    pub exif: &'a [Field],
    /// ICC profile.
    pub icc: Option<&'a [u8]>,
}

/// Encodes `frame` as a Deflate-compressed TIFF with its metadata.
pub(crate) fn write_tiff<W: Write + Seek>(
    out: W,
    frame: &Frame,
    meta: &TiffMetadata<'_>,
) -> TiffResult<()> {
    let mut enc = TiffEncoder::new(out)?;
    let of = |ctx: Context| -> Vec<&Field> {
        meta.exif.iter().filter(|f| f.tag.context() == ctx).collect()
    };
    let interop = sub_ifd(&mut enc, &of(Context::Interop), &[])?;
    let exif_pointers: Vec<(u16, u32)> = interop.map(|o| (0xA005, o)).into_iter().collect();
    let exif_ifd = sub_ifd(&mut enc, &of(Context::Exif), &exif_pointers)?;
    let gps_ifd = sub_ifd(&mut enc, &of(Context::Gps), &[])?;
    let ifd0 = Ifd0 { fields: of(Context::Tiff), exif_ifd, gps_ifd, icc: meta.icc };

    write_image(&mut enc, frame, &ifd0)
}

struct Ifd0<'a> {
    fields: Vec<&'a Field>,
    exif_ifd: Option<u32>,
    gps_ifd: Option<u32>,
    icc: Option<&'a [u8]>,
}

/// Writes the image directory (IFD0): the compressed strips, the tags describing
/// them, then the carried metadata.
fn write_image<W: Write + Seek>(
    enc: &mut TiffEncoder<W>,
    frame: &Frame,
    ifd0: &Ifd0<'_>,
) -> TiffResult<()> {
    let (w, h) = (frame.width(), frame.height());
    let layout = frame.format().layout;
    let spp = layout.channels();
    let bits = frame.format().depth.bits() as u16;
    let row_len = w * spp;
    let row_bytes = row_len * usize::from(bits / 8);
    let rows_per_strip = (STRIP_BYTES / row_bytes).clamp(1, h);
    let strips = match frame.samples() {
        Samples::U8(s) => compress_strips(s, row_len, rows_per_strip, spp)?,
        Samples::U16(s) => compress_strips(s, row_len, rows_per_strip, spp)?,
    };

    let mut dir = enc.image_directory()?;
    let mut offsets = Vec::with_capacity(strips.len());
    let mut counts = Vec::with_capacity(strips.len());
    for strip in &strips {
        offsets.push(u32::try_from(dir.write_data(&strip[..])?)?);
        counts.push(u32::try_from(strip.len())?);
    }
    dir.write_tag(Tag::ImageWidth, u32::try_from(w)?)?;
    dir.write_tag(Tag::ImageLength, u32::try_from(h)?)?;
    dir.write_tag(Tag::BitsPerSample, &vec![bits; spp][..])?;
    dir.write_tag(Tag::Compression, CompressionMethod::Deflate.to_u16())?;
    let photometric = match layout {
        ChannelLayout::Gray | ChannelLayout::GrayAlpha => PhotometricInterpretation::BlackIsZero,
        ChannelLayout::Rgb | ChannelLayout::Rgba => PhotometricInterpretation::RGB,
    };
    dir.write_tag(Tag::PhotometricInterpretation, photometric.to_u16())?;
    dir.write_tag(Tag::StripOffsets, &offsets[..])?;
    dir.write_tag(Tag::SamplesPerPixel, spp as u16)?;
    dir.write_tag(Tag::RowsPerStrip, u32::try_from(rows_per_strip)?)?;
    dir.write_tag(Tag::StripByteCounts, &counts[..])?;
    dir.write_tag(Tag::XResolution, Rational { n: 1, d: 1 })?;
    dir.write_tag(Tag::YResolution, Rational { n: 1, d: 1 })?;
    dir.write_tag(Tag::ResolutionUnit, ResolutionUnit::None.to_u16())?;
    dir.write_tag(Tag::PlanarConfiguration, PlanarConfiguration::Chunky.to_u16())?;
    dir.write_tag(Tag::Predictor, Predictor::Horizontal.to_u16())?;
    if layout.has_alpha() {
        // Unassociated alpha: the samples are stored straight, not premultiplied.
        dir.write_tag(Tag::ExtraSamples, ExtraSamples::UnassociatedAlpha.to_u16())?;
    }
    dir.write_tag(Tag::SampleFormat, &vec![SampleFormat::Uint.to_u16(); spp][..])?;
    // EXIF resolution fields (written after the defaults above) replace them.
    put_fields(&mut dir, &ifd0.fields)?;
    if let Some(offset) = ifd0.exif_ifd {
        dir.write_tag(Tag::ExifDirectory, offset)?;
    }
    if let Some(offset) = ifd0.gps_ifd {
        dir.write_tag(Tag::GpsDirectory, offset)?;
    }
    if let Some(icc) = ifd0.icc.filter(|i| !i.is_empty()) {
        put_bytes(&mut dir, Tag::IccProfile.to_u16(), Type::UNDEFINED, icc)?;
    }
    dir.finish()
}
