//! TIFF output with the tiff crate's directory encoder: lossless Deflate compression
//! with the horizontal predictor, gray / gray+alpha / RGB / RGBA, 8 or 16 bit, and
//! the metadata the image crate's TIFF encoder cannot write: the EXIF and GPS
//! sub-IFDs (tags 34665, 34853), EXIF-derived IFD0 fields (Make, Model, ...) and the
//! ICC profile (tag 34675).

use std::io::{Seek, Write};

use exif::{Context, Field, Value};
use tiff::Directory;
use tiff::encoder::colortype::{self, ColorType};
use tiff::encoder::{Compression, DeflateLevel, DirectoryEncoder, Predictor, TiffEncoder, TiffKind};
use tiff::tags::{ExtraSamples, PhotometricInterpretation, SampleFormat, Tag, Type};
use tiff::TiffResult;

use crate::{ChannelLayout, Frame, Samples};

/// Gray with unassociated alpha; the tiff crate has no such colour type. Samples
/// per pixel must be part of the type so the predictor strides over whole pixels.
struct GrayAlpha8;
struct GrayAlpha16;

macro_rules! gray_alpha {
    ($name:ident, $inner:ty, $bits:expr) => {
        impl ColorType for $name {
            type Inner = $inner;
            const TIFF_VALUE: PhotometricInterpretation = PhotometricInterpretation::BlackIsZero;
            const BITS_PER_SAMPLE: &'static [u16] = &[$bits, $bits];
            const SAMPLE_FORMAT: &'static [SampleFormat] = &[SampleFormat::Uint; 2];

            fn horizontal_predict(row: &[$inner], result: &mut Vec<$inner>) {
                result.extend_from_slice(&row[..2.min(row.len())]);
                result.extend(row.iter().zip(row.iter().skip(2)).map(|(p, c)| c.wrapping_sub(*p)));
            }
        }
    };
}
gray_alpha!(GrayAlpha8, u8, 8);
gray_alpha!(GrayAlpha16, u16, 16);

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
    let mut enc = TiffEncoder::new(out)?
        .with_compression(Compression::Deflate(DeflateLevel::Fast))
        .with_predictor(Predictor::Horizontal);
    let of = |ctx: Context| -> Vec<&Field> {
        meta.exif.iter().filter(|f| f.tag.context() == ctx).collect()
    };
    let interop = sub_ifd(&mut enc, &of(Context::Interop), &[])?;
    let exif_pointers: Vec<(u16, u32)> = interop.map(|o| (0xA005, o)).into_iter().collect();
    let exif_ifd = sub_ifd(&mut enc, &of(Context::Exif), &exif_pointers)?;
    let gps_ifd = sub_ifd(&mut enc, &of(Context::Gps), &[])?;
    let ifd0 = Ifd0 { fields: of(Context::Tiff), exif_ifd, gps_ifd, icc: meta.icc };

    let (w, h) = (frame.width() as u32, frame.height() as u32);
    use ChannelLayout::*;
    match (frame.format().layout, frame.samples()) {
        (Gray, Samples::U8(s)) => image::<_, colortype::Gray8>(&mut enc, w, h, s, &ifd0, false),
        (GrayAlpha, Samples::U8(s)) => image::<_, GrayAlpha8>(&mut enc, w, h, s, &ifd0, true),
        (Rgb, Samples::U8(s)) => image::<_, colortype::RGB8>(&mut enc, w, h, s, &ifd0, false),
        (Rgba, Samples::U8(s)) => image::<_, colortype::RGBA8>(&mut enc, w, h, s, &ifd0, true),
        (Gray, Samples::U16(s)) => image::<_, colortype::Gray16>(&mut enc, w, h, s, &ifd0, false),
        (GrayAlpha, Samples::U16(s)) => image::<_, GrayAlpha16>(&mut enc, w, h, s, &ifd0, true),
        (Rgb, Samples::U16(s)) => image::<_, colortype::RGB16>(&mut enc, w, h, s, &ifd0, false),
        (Rgba, Samples::U16(s)) => image::<_, colortype::RGBA16>(&mut enc, w, h, s, &ifd0, true),
    }
}

struct Ifd0<'a> {
    fields: Vec<&'a Field>,
    exif_ifd: Option<u32>,
    gps_ifd: Option<u32>,
    icc: Option<&'a [u8]>,
}

fn image<W: Write + Seek, C: ColorType>(
    enc: &mut TiffEncoder<W>,
    width: u32,
    height: u32,
    data: &[C::Inner],
    ifd0: &Ifd0<'_>,
    alpha: bool,
) -> TiffResult<()>
where
    [C::Inner]: tiff::encoder::TiffValue,
{
    let mut img = enc.new_image::<C>(width, height)?;
    let dir = img.encoder();
    // EXIF resolution fields (written after the encoder's defaults) replace them.
    put_fields(dir, &ifd0.fields)?;
    if alpha {
        // Unassociated alpha: the samples are stored straight, not premultiplied.
        dir.write_tag(Tag::ExtraSamples, ExtraSamples::UnassociatedAlpha.to_u16())?;
    }
    if let Some(offset) = ifd0.exif_ifd {
        dir.write_tag(Tag::ExifDirectory, offset)?;
    }
    if let Some(offset) = ifd0.gps_ifd {
        dir.write_tag(Tag::GpsDirectory, offset)?;
    }
    if let Some(icc) = ifd0.icc.filter(|i| !i.is_empty()) {
        put_bytes(dir, Tag::IccProfile.to_u16(), Type::UNDEFINED, icc)?;
    }
    img.write_data(data)
}

