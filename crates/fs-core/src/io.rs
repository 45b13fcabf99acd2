//! Reading and writing frames: JPEG, PNG, TIFF; 8/16 bit; gray, gray+alpha, RGB, RGBA.
//!
//! Reading takes the file type from the content, not the name, turns the pixels
//! upright by the EXIF orientation, and reports every damaged input as a typed error
//! naming the file (the JPEG decoder is lenient, so truncation is checked here).
//! The image crate decodes; gray+alpha TIFF, which it does not read, is decoded
//! with the tiff crate, and a TIFF's EXIF and ICC come from its own tags.
//!
//! Writes are atomic ([`crate::write_atomic`]): the encoder writes a temporary file
//! beside the target, which takes its place only when complete, so an interrupted or
//! failed write never leaves a partial output.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use image::metadata::Orientation;
use image::{ColorType, DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};

use crate::{
    BitDepth, ChannelLayout, CoreError, Develop, FileFormat, Frame, FrameInfo, Metadata, Overwrite,
    PixelFormat, Result, Samples,
};

/// How to write a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriteOptions {
    /// JPEG quality, 1..=100.
    pub jpeg_quality: u8,
    /// Whether to write the frame's EXIF and ICC metadata.
    pub metadata: bool,
    /// Whether a file already at the target may be replaced ([`Overwrite::Replace`]).
    pub overwrite: Overwrite,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self { jpeg_quality: 95, metadata: true, overwrite: Overwrite::Replace }
    }
}

impl WriteOptions {
    /// Checks the options; the error names the bad field.
    pub fn validate(&self) -> Result<()> {
        if !(1..=100).contains(&self.jpeg_quality) {
            return Err(CoreError::InvalidOption {
                name: "jpeg_quality",
                reason: format!("must be 1..=100, got {}", self.jpeg_quality),
            });
        }
        Ok(())
    }
}

fn layout_of(path: &Path, ct: ColorType) -> Result<PixelFormat> {
    use ChannelLayout::*;
    let (layout, depth) = match ct {
        ColorType::L8 => (Gray, BitDepth::Eight),
        ColorType::La8 => (GrayAlpha, BitDepth::Eight),
        ColorType::Rgb8 => (Rgb, BitDepth::Eight),
        ColorType::Rgba8 => (Rgba, BitDepth::Eight),
        ColorType::L16 => (Gray, BitDepth::Sixteen),
        ColorType::La16 => (GrayAlpha, BitDepth::Sixteen),
        ColorType::Rgb16 => (Rgb, BitDepth::Sixteen),
        ColorType::Rgba16 => (Rgba, BitDepth::Sixteen),
        ColorType::Rgb32F | ColorType::Rgba32F => {
            return Err(CoreError::Unsupported {
                path: path.into(),
                what: "32-bit float samples (convert to 16-bit integer TIFF)".into(),
            });
        }
        other => {
            return Err(CoreError::Unsupported {
                path: path.into(),
                what: format!("sample format {other:?}"),
            });
        }
    };
    Ok(PixelFormat { layout, depth })
}

fn decode_err(path: &Path, e: impl std::fmt::Display) -> CoreError {
    CoreError::Decode { path: path.into(), reason: e.to_string() }
}

/// An image crate error as a [`CoreError`] that names the problem in the user's words.
fn image_err(path: &Path, e: ImageError) -> CoreError {
    match e {
        ImageError::Unsupported(u) => {
            CoreError::Unsupported { path: path.into(), what: u.to_string() }
        }
        // The decoders' own limits trip only on sizes no real file has (the limits are
        // lifted, and fstack's own size check comes first when the size is known).
        ImageError::Limits(l) => decode_err(
            path,
            format!("the header claims an impossible size ({})", l.to_string().to_lowercase()),
        ),
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            decode_err(path, format!("file is truncated (it ends inside the image data): {io}"))
        }
        e => {
            let text = e.to_string();
            let lower = text.to_ascii_lowercase();
            let cut =
                ["eof", "end of file", "no more bytes", "fill whole buffer", "unexpected end"];
            if cut.iter().any(|k| lower.contains(k)) {
                decode_err(
                    path,
                    format!("file is truncated (it ends inside the image data): {text}"),
                )
            } else {
                decode_err(path, text)
            }
        }
    }
}

/// A tiff crate error as a [`CoreError`], like [`image_err`].
fn tiff_err(path: &Path, e: tiff::TiffError) -> CoreError {
    match e {
        tiff::TiffError::IoError(io) => image_err(path, ImageError::IoError(io)),
        tiff::TiffError::UnsupportedError(u) => {
            CoreError::Unsupported { path: path.into(), what: u.to_string() }
        }
        e => image_err(path, ImageError::IoError(std::io::Error::other(e.to_string()))),
    }
}

/// The format of a file from its first bytes (never from its name).
fn sniff(path: &Path, head: &[u8]) -> Result<ImageFormat> {
    if head.is_empty() {
        return Err(decode_err(path, "empty file (0 bytes)"));
    }
    match image::guess_format(head) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Tiff)) => Ok(f),
        Ok(other) => Err(CoreError::Unsupported {
            path: path.into(),
            what: format!("{other:?} files (fstack reads JPEG, PNG and TIFF)"),
        }),
        Err(_) => Err(decode_err(path, "not a JPEG, PNG or TIFF file (unknown content)")),
    }
}

/// What [`probe_tiff`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TiffKind {
    /// The image crate decodes it.
    Common,
    /// Gray+alpha (two samples per pixel, chunky), which the image crate's TIFF
    /// decoder does not read: decoded here with the tiff crate.
    GrayAlpha { width: u32, height: u32, depth: BitDepth, orientation: Orientation },
}

/// Rejects TIFF sample formats fstack does not read, with a message that says
/// which (the image crate's own message for them is a bare bit count), and spots
/// gray+alpha TIFFs.
fn probe_tiff<R: Read + Seek>(path: &Path, reader: R) -> Result<TiffKind> {
    use tiff::tags::Tag;
    let err = |e: tiff::TiffError| tiff_err(path, e);
    let mut dec = tiff::decoder::Decoder::new(reader).map_err(err)?;
    let bits: Vec<u16> =
        dec.find_tag_unsigned_vec(Tag::BitsPerSample).map_err(err)?.unwrap_or_default();
    let bits = bits.first().copied().unwrap_or(1);
    let formats: Vec<u16> =
        dec.find_tag_unsigned_vec(Tag::SampleFormat).map_err(err)?.unwrap_or_default();
    let what = match formats.first().copied().unwrap_or(1) {
        3 => format!("{bits}-bit floating-point samples"),
        2 => format!("{bits}-bit signed integer samples"),
        1 if bits != 1 && bits != 8 && bits != 16 => format!("{bits}-bit samples"),
        _ => String::new(),
    };
    if !what.is_empty() {
        return Err(CoreError::Unsupported {
            path: path.into(),
            what: format!("{what} (fstack reads 8- and 16-bit unsigned integer images)"),
        });
    }
    let color = dec.colortype().map_err(err)?;
    let tiff::ColorType::Multiband { bit_depth, num_samples: 2 } = color else {
        return Ok(TiffKind::Common);
    };
    let photometric: u16 =
        dec.find_tag_unsigned(Tag::PhotometricInterpretation).map_err(err)?.unwrap_or(1);
    let planar: u16 = dec.find_tag_unsigned(Tag::PlanarConfiguration).map_err(err)?.unwrap_or(1);
    let depth = match bit_depth {
        8 => BitDepth::Eight,
        16 => BitDepth::Sixteen,
        _ => unreachable!("bit depths other than 8 and 16 rejected above"),
    };
    if photometric != 1 || planar != 1 {
        return Err(CoreError::Unsupported {
            path: path.into(),
            what: format!(
                "two-sample TIFF with photometric interpretation {photometric} and planar \
                 configuration {planar} (fstack reads gray+alpha as BlackIsZero, interleaved)"
            ),
        });
    }
    let (width, height) = dec.dimensions().map_err(err)?;
    let orientation = dec
        .find_tag_unsigned::<u16>(Tag::Orientation)
        .ok()
        .flatten()
        .and_then(|o| Orientation::from_exif(u8::try_from(o).ok()?))
        .unwrap_or(Orientation::NoTransforms);
    Ok(TiffKind::GrayAlpha { width, height, depth, orientation })
}

/// Decodes a gray+alpha TIFF (see [`TiffKind::GrayAlpha`]).
fn decode_gray_alpha_tiff(path: &Path, bytes: &[u8]) -> Result<DynamicImage> {
    let err = |e: tiff::TiffError| tiff_err(path, e);
    let mut dec = tiff::decoder::Decoder::new(Cursor::new(bytes))
        .map_err(err)?
        .with_limits(tiff::decoder::Limits::unlimited());
    let (w, h) = dec.dimensions().map_err(err)?;
    let depth = match dec.colortype().map_err(err)? {
        tiff::ColorType::Multiband { bit_depth: 16, .. } => BitDepth::Sixteen,
        _ => BitDepth::Eight,
    };
    check_size(path, w, h, PixelFormat { layout: ChannelLayout::GrayAlpha, depth })?;
    let short = || decode_err(path, "file is truncated (fewer samples than its size says)");
    match dec.read_image().map_err(err)? {
        tiff::decoder::DecodingResult::U8(v) => {
            image::ImageBuffer::from_raw(w, h, v).map(DynamicImage::ImageLumaA8).ok_or_else(short)
        }
        tiff::decoder::DecodingResult::U16(v) => {
            image::ImageBuffer::from_raw(w, h, v).map(DynamicImage::ImageLumaA16).ok_or_else(short)
        }
        _ => Err(CoreError::Unsupported { path: path.into(), what: "TIFF sample type".into() }),
    }
}

/// Whether a JPEG runs to its end-of-image marker. The JPEG decoder is lenient and
/// pads a cut-off scan with gray, so a truncated file would otherwise decode
/// "successfully". Walks the marker segments by their lengths (so an EXIF thumbnail's
/// own end marker is skipped) and the entropy-coded data of each scan; whatever
/// follows the end marker (MPF images, vendor trailers) is ignored.
fn jpeg_is_complete(b: &[u8]) -> bool {
    let n = b.len();
    let seg_len = |i: usize| usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
    let mut i = 2; // after SOI
    while i + 1 < n {
        if b[i] != 0xFF {
            i += 1; // stray byte between segments: tolerated, like the decoder does
            continue;
        }
        match b[i + 1] {
            0xD9 => return true,
            0xFF => i += 1,                      // fill byte
            0x00 | 0x01 | 0xD0..=0xD7 => i += 2, // standalone markers
            0xDA => {
                if i + 3 >= n {
                    return false;
                }
                i += 2 + seg_len(i);
                // Entropy-coded data ends at the first marker that is neither a
                // stuffed 0xFF00 nor a restart marker.
                while i + 1 < n {
                    match b[i..].iter().position(|&x| x == 0xFF) {
                        None => return false,
                        Some(k) => i += k,
                    }
                    if i + 1 < n && (b[i + 1] == 0x00 || (0xD0..=0xD7).contains(&b[i + 1])) {
                        i += 2;
                    } else {
                        break;
                    }
                }
            }
            _ => {
                if i + 3 >= n {
                    return false;
                }
                i += 2 + seg_len(i);
            }
        }
    }
    false
}

fn open(path: &Path) -> Result<(BufReader<File>, ImageFormat, TiffKind)> {
    let file = File::open(path).map_err(|e| CoreError::io(path, e))?;
    let mut reader = BufReader::new(file);
    let head = reader.fill_buf().map_err(|e| CoreError::io(path, e))?;
    let format = sniff(path, head)?;
    let mut kind = TiffKind::Common;
    if format == ImageFormat::Tiff {
        kind = probe_tiff(path, &mut reader)?;
        reader.seek(SeekFrom::Start(0)).map_err(|e| CoreError::io(path, e))?;
    }
    Ok((reader, format, kind))
}

fn swaps_axes(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// Refuses a header whose decoded samples would be too large ([`crate::limits`]).
fn check_size(path: &Path, width: u32, height: u32, format: PixelFormat) -> Result<()> {
    let bytes = match format.depth {
        BitDepth::Eight => 1,
        BitDepth::Sixteen => 2,
    };
    let channels = format.layout.channels() as u64;
    crate::limits::check_decoded_size(path, width.into(), height.into(), channels, bytes)
}

/// Reads only the header: size and sample format. Cheap; used to check a whole
/// stack before any heavy work. The size is the upright size, as [`read_frame`]
/// returns it (width and height swapped for EXIF orientations 5..=8).
pub fn read_frame_info(path: &Path) -> Result<FrameInfo> {
    if crate::raw::is_raw_path(path) {
        #[cfg(feature = "raw")]
        return crate::raw::read_raw_info(path);
        #[cfg(not(feature = "raw"))]
        return Err(crate::raw::not_built(path));
    }
    let (reader, image_format, kind) = open(path)?;
    let (w, h, format, orientation) = match kind {
        TiffKind::GrayAlpha { width, height, depth, orientation } => {
            (width, height, PixelFormat { layout: ChannelLayout::GrayAlpha, depth }, orientation)
        }
        TiffKind::Common => {
            let mut decoder = unlimited(ImageReader::with_format(reader, image_format))
                .into_decoder()
                .map_err(|e| image_err(path, e))?;
            let (w, h) = decoder.dimensions();
            let format = layout_of(path, decoder.color_type())?;
            (w, h, format, decoder.orientation().unwrap_or(Orientation::NoTransforms))
        }
    };
    check_size(path, w, h, format)?;
    let (w, h) = if swaps_axes(orientation) { (h, w) } else { (w, h) };
    Ok(FrameInfo { width: w as usize, height: h as usize, format })
}

/// The image crate caps decoder allocations at 512 MiB by default, which a single
/// 12000x8000 16-bit RGB frame (576 MB) exceeds. Frames are read whole by design, so
/// the cap is lifted; memory is planned by the stackers (see PyramidAutoStack).
fn unlimited<R: std::io::BufRead + std::io::Seek>(mut reader: ImageReader<R>) -> ImageReader<R> {
    reader.no_limits();
    reader
}

/// Reads a frame with its EXIF and ICC metadata.
///
/// The pixels are turned upright by the EXIF orientation (if any), so every frame of
/// a stack is in display orientation and outputs are written with orientation 1.
/// The file type is taken from the content, not the extension. Errors name the file
/// and the problem: [`CoreError::Io`] (missing, unreadable), [`CoreError::Decode`]
/// (empty, not an image, truncated, corrupt), [`CoreError::Unsupported`] (e.g.
/// 32-bit float TIFF).
pub fn read_frame(path: &Path) -> Result<Frame> {
    read_frame_with(path, &Develop::default())
}

/// Reads a frame like [`read_frame`], a camera RAW file (known by its extension, see
/// [`crate::raw`]) developed with `develop`: the stack's one development, resolved by
/// [`Develop::for_stack`]. Other files are read as [`read_frame`] reads them.
pub fn read_frame_with(path: &Path, develop: &Develop) -> Result<Frame> {
    if crate::raw::is_raw_path(path) {
        #[cfg(feature = "raw")]
        return crate::raw::read_raw(path, develop);
        #[cfg(not(feature = "raw"))]
        return Err(crate::raw::not_built(path));
    }
    let _ = develop;
    if let Some(frame) = read_plain_tiff(path)? {
        return Ok(frame);
    }
    // Allocation: the whole file once; the decoders read from memory.
    let bytes = std::fs::read(path).map_err(|e| CoreError::io(path, e))?;
    let kind = sniff(path, &bytes)?;
    let tiff_kind = match kind {
        ImageFormat::Tiff => probe_tiff(path, Cursor::new(&bytes[..]))?,
        _ => TiffKind::Common,
    };
    let (img, exif, icc) = if let TiffKind::GrayAlpha { .. } = tiff_kind {
        (decode_gray_alpha_tiff(path, &bytes)?, None, None)
    } else {
        let mut decoder = unlimited(ImageReader::with_format(Cursor::new(&bytes[..]), kind))
            .into_decoder()
            .map_err(|e| image_err(path, e))?;
        let (w, h) = decoder.dimensions();
        check_size(path, w, h, layout_of(path, decoder.color_type())?)?;
        let icc = decoder.icc_profile().ok().flatten();
        let exif = decoder.exif_metadata().ok().flatten();
        let img = DynamicImage::from_decoder(decoder).map_err(|e| image_err(path, e))?;
        (img, exif, icc)
    };
    if kind == ImageFormat::Jpeg && !jpeg_is_complete(&bytes) {
        return Err(decode_err(path, "file is truncated (no JPEG end-of-image marker)"));
    }
    let (exif, icc) = match kind {
        // A TIFF's own tags are its EXIF: rebuilt as a standalone block.
        ImageFormat::Tiff => crate::exif_block::tiff_file_metadata(bytes),
        _ => (exif, icc),
    };
    frame_from_image(path, img, exif, icc)
}

/// The frame of a decoded image: the pixels turned upright by the EXIF orientation
/// (moved, not copied, when there is none), with its metadata.
fn frame_from_image(
    path: &Path,
    mut img: DynamicImage,
    exif: Option<Vec<u8>>,
    icc: Option<Vec<u8>>,
) -> Result<Frame> {
    let (exif, icc) = (exif.filter(|e| !e.is_empty()), icc.filter(|i| !i.is_empty()));
    let format = match &img {
        DynamicImage::ImageLuma8(_) => {
            PixelFormat { layout: ChannelLayout::Gray, depth: BitDepth::Eight }
        }
        DynamicImage::ImageLumaA8(_) => {
            PixelFormat { layout: ChannelLayout::GrayAlpha, depth: BitDepth::Eight }
        }
        DynamicImage::ImageRgb8(_) => {
            PixelFormat { layout: ChannelLayout::Rgb, depth: BitDepth::Eight }
        }
        DynamicImage::ImageRgba8(_) => {
            PixelFormat { layout: ChannelLayout::Rgba, depth: BitDepth::Eight }
        }
        DynamicImage::ImageLuma16(_) => {
            PixelFormat { layout: ChannelLayout::Gray, depth: BitDepth::Sixteen }
        }
        DynamicImage::ImageLumaA16(_) => {
            PixelFormat { layout: ChannelLayout::GrayAlpha, depth: BitDepth::Sixteen }
        }
        DynamicImage::ImageRgb16(_) => {
            PixelFormat { layout: ChannelLayout::Rgb, depth: BitDepth::Sixteen }
        }
        DynamicImage::ImageRgba16(_) => {
            PixelFormat { layout: ChannelLayout::Rgba, depth: BitDepth::Sixteen }
        }
        _ => {
            return Err(CoreError::Unsupported { path: path.into(), what: "sample format".into() });
        }
    };
    let orientation = exif
        .as_deref()
        .and_then(crate::exif_block::orientation)
        .and_then(Orientation::from_exif)
        .unwrap_or(Orientation::NoTransforms);
    img.apply_orientation(orientation);

    let info = FrameInfo { width: img.width() as usize, height: img.height() as usize, format };
    let samples = match img {
        DynamicImage::ImageLuma8(b) => Samples::U8(b.into_raw()),
        DynamicImage::ImageLumaA8(b) => Samples::U8(b.into_raw()),
        DynamicImage::ImageRgb8(b) => Samples::U8(b.into_raw()),
        DynamicImage::ImageRgba8(b) => Samples::U8(b.into_raw()),
        DynamicImage::ImageLuma16(b) => Samples::U16(b.into_raw()),
        DynamicImage::ImageLumaA16(b) => Samples::U16(b.into_raw()),
        DynamicImage::ImageRgb16(b) => Samples::U16(b.into_raw()),
        DynamicImage::ImageRgba16(b) => Samples::U16(b.into_raw()),
        _ => {
            return Err(CoreError::Unsupported { path: path.into(), what: "sample format".into() });
        }
    };
    let mut frame = Frame::new(info, samples).map_err(|e| decode_err(path, e))?;
    frame.metadata = Metadata { exif, icc, raw: None };
    frame.source = Some(path.to_path_buf());
    Ok(frame)
}

/// Reads an 8- or 16-bit gray, RGB or RGBA TIFF with interleaved samples (what
/// cameras, converters and fstack write) straight into the frame's sample buffer
/// with the tiff crate, streaming the file: the general path would hold the whole
/// file in memory and the image crate's TIFF decoder decodes into a buffer of its
/// own and then copies it, so a 12000x8000 RGB 16-bit frame (576 MB) took up to
/// three times its size while being read. `None`: another kind of TIFF, or not a
/// TIFF (the general path reads it).
fn read_plain_tiff(path: &Path) -> Result<Option<Frame>> {
    use tiff::tags::Tag;
    let (mut reader, format, kind) = open(path)?;
    if format != ImageFormat::Tiff || kind != TiffKind::Common {
        return Ok(None);
    }
    let err = |e: tiff::TiffError| tiff_err(path, e);
    let mut dec = tiff::decoder::Decoder::new(&mut reader)
        .map_err(err)?
        .with_limits(tiff::decoder::Limits::unlimited());
    let photometric: Option<u16> =
        dec.find_tag_unsigned(Tag::PhotometricInterpretation).map_err(err)?;
    let planar: u16 = dec.find_tag_unsigned(Tag::PlanarConfiguration).map_err(err)?.unwrap_or(1);
    let plain = matches!(
        (dec.colortype().map_err(err)?, photometric),
        (tiff::ColorType::Gray(8 | 16), Some(1))
            | (tiff::ColorType::RGB(8 | 16) | tiff::ColorType::RGBA(8 | 16), Some(2))
    );
    if !plain || planar != 1 {
        return Ok(None);
    }
    // Where the pixel data lies, so the metadata read below can skip it.
    let mut data = Vec::new();
    for (offsets, counts) in
        [(Tag::StripOffsets, Tag::StripByteCounts), (Tag::TileOffsets, Tag::TileByteCounts)]
    {
        let offsets: Option<Vec<u64>> = dec.find_tag_unsigned_vec(offsets).map_err(err)?;
        let counts: Option<Vec<u64>> = dec.find_tag_unsigned_vec(counts).map_err(err)?;
        if let (Some(o), Some(c)) = (offsets, counts) {
            data.extend(o.into_iter().zip(c));
        }
    }
    let (w, h) = dec.dimensions().map_err(err)?;
    let color = dec.colortype().map_err(err)?;
    let (channels, bits) = match color {
        tiff::ColorType::Gray(b) => (1, b),
        tiff::ColorType::RGB(b) => (3, b),
        tiff::ColorType::RGBA(b) => (4, b),
        _ => (4, 16),
    };
    crate::limits::check_decoded_size(
        path,
        w.into(),
        h.into(),
        channels,
        u64::from(bits.div_ceil(8)),
    )?;
    // Allocation: the frame's samples, decoded in place.
    let decoded = dec.read_image().map_err(err)?;
    drop(dec);
    let short = || decode_err(path, "file is truncated (fewer samples than its size says)");
    use tiff::decoder::DecodingResult as D;
    let img = match (decoded, color) {
        (D::U8(v), tiff::ColorType::Gray(_)) => {
            image::ImageBuffer::from_raw(w, h, v).map(DynamicImage::ImageLuma8)
        }
        (D::U8(v), tiff::ColorType::RGB(_)) => {
            image::ImageBuffer::from_raw(w, h, v).map(DynamicImage::ImageRgb8)
        }
        (D::U8(v), _) => image::ImageBuffer::from_raw(w, h, v).map(DynamicImage::ImageRgba8),
        (D::U16(v), tiff::ColorType::Gray(_)) => {
            image::ImageBuffer::from_raw(w, h, v).map(DynamicImage::ImageLuma16)
        }
        (D::U16(v), tiff::ColorType::RGB(_)) => {
            image::ImageBuffer::from_raw(w, h, v).map(DynamicImage::ImageRgb16)
        }
        (D::U16(v), _) => image::ImageBuffer::from_raw(w, h, v).map(DynamicImage::ImageRgba16),
        _ => {
            return Err(CoreError::Unsupported {
                path: path.into(),
                what: "TIFF sample type".into(),
            });
        }
    }
    .ok_or_else(short)?;
    let bytes = tiff_without_pixels(path, reader.get_mut(), &data)?;
    let (exif, icc) = crate::exif_block::tiff_file_metadata(bytes);
    frame_from_image(path, img, exif, icc).map(Some)
}

/// The bytes of a TIFF file with its pixel data (`data`: offset and length of each
/// strip or tile) left as zeros: everything the EXIF reader looks at (header,
/// directories, tag values), without reading the pixels again. The zeroed buffer is
/// mapped lazily by the system, so the skipped parts take no memory.
fn tiff_without_pixels(path: &Path, file: &mut File, data: &[(u64, u64)]) -> Result<Vec<u8>> {
    let io = |e| CoreError::io(path, e);
    let len = file.seek(SeekFrom::End(0)).map_err(io)?;
    let len = usize::try_from(len).map_err(|_| decode_err(path, "file too large"))?;
    let mut skip: Vec<(usize, usize)> = data
        .iter()
        .map(|&(o, n)| {
            let o = usize::try_from(o).unwrap_or(len).min(len);
            (o, o.saturating_add(usize::try_from(n).unwrap_or(len)).min(len))
        })
        .collect();
    skip.sort_unstable();
    // Allocation: zeroed, untouched pages stay unmapped.
    let mut bytes = vec![0u8; len];
    let mut pos = 0;
    for (start, end) in skip.into_iter().chain([(len, len)]) {
        if start > pos {
            file.seek(SeekFrom::Start(pos as u64)).map_err(io)?;
            file.read_exact(&mut bytes[pos..start]).map_err(io)?;
        }
        pos = pos.max(end);
    }
    Ok(bytes)
}

/// Writes a frame atomically in the format named by the path's extension
/// (`.jpg`/`.jpeg`, `.png`, `.tif`/`.tiff`), with the frame's EXIF and ICC when
/// `options.metadata` is set:
///
/// | output | EXIF | ICC |
/// |---|---|---|
/// | JPEG | APP1 `Exif` segment | APP2 `ICC_PROFILE` segments |
/// | PNG, 8 and 16 bit | `eXIf` chunk | `iCCP` chunk |
/// | TIFF, 8 and 16 bit | IFD0 fields + EXIF/GPS sub-IFDs (tags 34665, 34853) | tag 34675 |
///
/// The EXIF block is rebuilt field by field, never copied as bytes: the MakerNote
/// (whose internal offsets break when moved), the thumbnail and the source's
/// image-structure tags are dropped, Orientation is set to 1 (the pixels were turned
/// upright by [`read_frame`]) and PixelX/YDimension are set to the frame's size. An
/// EXIF block that cannot be parsed is left out rather than copied blindly.
///
/// Bit depth and channel layout are kept. JPEG holds 8-bit gray or RGB only: a
/// 16-bit or alpha frame written as JPEG is a [`CoreError::Encode`] error (write PNG
/// or TIFF instead; nothing is reduced silently). TIFF is written with Deflate
/// compression and the horizontal predictor. The write is atomic
/// ([`crate::write_atomic`]): on any error no file is left behind and an existing file
/// at `path` is untouched; with [`Overwrite::Refuse`] an existing file is never
/// replaced ([`CoreError::Exists`]); a new file gets the permissions of a new file, a
/// replaced one keeps its own.
pub fn write_frame(path: &Path, frame: &Frame, options: &WriteOptions) -> Result<()> {
    options.validate()?;
    let format = FileFormat::from_path(path).ok_or_else(|| CoreError::Encode {
        path: path.into(),
        reason: "unknown extension (use .jpg, .png, .tif or .dng)".into(),
    })?;
    crate::atomic::write_atomic(path, options.overwrite, |out| {
        crate::metadata::encode(out, format, frame, options)
            .map_err(|e| CoreError::Encode { path: path.into(), reason: e })
    })
}

/// Checks that `path` names something that exists, with an error saying what is
/// wrong in words: "no such file or folder", "a symbolic link to `x`, which does not
/// exist", "a loop of symbolic links" (rather than reading as a missing file).
pub fn check_exists(path: &Path) -> Result<()> {
    let Err(e) = std::fs::metadata(path) else { return Ok(()) };
    let words = if e.raw_os_error() == Some(libc::ELOOP) {
        "a loop of symbolic links (each points, in the end, back to itself); fix or remove \
         the link"
            .to_string()
    } else if e.kind() == std::io::ErrorKind::NotFound {
        match std::fs::read_link(path) {
            Ok(target) => format!(
                "a symbolic link to {}, which does not exist; fix or remove the link",
                target.display()
            ),
            Err(_) => "no such file or folder".to_string(),
        }
    } else {
        return Err(CoreError::io(path, e));
    };
    Err(CoreError::io(path, std::io::Error::new(e.kind(), words)))
}

/// The image files (JPEG, PNG, TIFF by extension) of a folder, in natural order
/// of their file names (`img2` before `img10`). Hidden files are skipped, and so are
/// subfolders. An entry named like a frame that cannot be reached (a loop of
/// symbolic links, a link to nothing) is an error naming it, not a frame that
/// silently vanishes from the stack.
pub fn list_frames(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| CoreError::io(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| CoreError::io(dir, e))?;
        let path = entry.path();
        let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if hidden || FileFormat::from_path(&path).is_none() {
            continue;
        }
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => files.push(path),
            Ok(_) => {}
            Err(_) => check_exists(&path)?,
        }
    }
    if files.is_empty() {
        return Err(CoreError::EmptyFolder { path: dir.into() });
    }
    sort_natural(&mut files);
    Ok(files)
}

/// Sorts paths by file name in natural order (`img2` before `img10`).
pub fn sort_natural(paths: &mut [PathBuf]) {
    paths.sort_by(|a, b| {
        let an = a.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        let bn = b.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        natord::compare(&an, &bn).then_with(|| a.cmp(b))
    });
}

#[cfg(test)]
mod plain_tiff_tests {
    use super::*;

    fn frame(depth: BitDepth, layout: ChannelLayout) -> Frame {
        let info = FrameInfo { width: 37, height: 23, format: PixelFormat { layout, depth } };
        let n = 37 * 23 * layout.channels();
        let samples = match depth {
            BitDepth::Eight => Samples::U8((0..n).map(|i| (i * 7 % 251) as u8).collect()),
            BitDepth::Sixteen => Samples::U16((0..n).map(|i| (i * 977 % 65_521) as u16).collect()),
        };
        Frame::new(info, samples).unwrap()
    }

    #[test]
    fn plain_tiffs_are_read_in_place_with_their_samples() {
        let dir = tempfile::tempdir().unwrap();
        for depth in [BitDepth::Eight, BitDepth::Sixteen] {
            for layout in [ChannelLayout::Gray, ChannelLayout::Rgb, ChannelLayout::Rgba] {
                let f = frame(depth, layout);
                let path = dir.path().join("f.tif");
                write_frame(&path, &f, &WriteOptions::default()).unwrap();
                let got = read_plain_tiff(&path).unwrap().expect("read by the in-place path");
                assert_eq!((got.info(), got.samples()), (f.info(), f.samples()), "{depth:?}");
            }
        }
        // Gray+alpha and non-TIFF files go the general way.
        let path = dir.path().join("ga.tif");
        write_frame(&path, &frame(BitDepth::Eight, ChannelLayout::GrayAlpha), &Default::default())
            .unwrap();
        assert!(read_plain_tiff(&path).unwrap().is_none());
        let path = dir.path().join("f.png");
        write_frame(&path, &frame(BitDepth::Eight, ChannelLayout::Rgb), &Default::default())
            .unwrap();
        assert!(read_plain_tiff(&path).unwrap().is_none());
    }

    #[test]
    fn the_metadata_copy_skips_exactly_the_pixel_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        let file: Vec<u8> = (0..100u8).map(|b| b | 1).collect();
        std::fs::write(&path, &file).unwrap();
        let mut f = File::open(&path).unwrap();
        let got =
            tiff_without_pixels(&path, &mut f, &[(60, 10), (10, 5), (12, 10), (95, 50)]).unwrap();
        let skipped = |i: usize| (10..22).contains(&i) || (60..70).contains(&i) || i >= 95;
        for (i, (&g, &w)) in got.iter().zip(&file).enumerate() {
            assert_eq!(g, if skipped(i) { 0 } else { w }, "byte {i}");
        }
        assert_eq!(got.len(), 100);
    }
}
