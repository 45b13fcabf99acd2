//! Decoding through rawler and the development described in [`super`].

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rawler::decoders::RawDecodeParams;
use rawler::imgop::xyz::Illuminant;
use rawler::rawimage::RawPhotometricInterpretation;
use rawler::rawsource::RawSource;
use rawler::{RawImage, RawImageData, RawlerError};
use rayon::prelude::*;

use super::colour::{invert3, srgb_to_camera};
use super::{Bayer, Develop, WhiteBalance, demosaic_mhc};
use crate::transfer::{SrgbDecoder, SrgbEncoder};
use crate::{
    BitDepth, ChannelLayout, CoreError, Frame, FrameInfo, Metadata, PixelFormat, RawColour, Result,
    Samples,
};

/// What `fstack info` says about a RAW file.
#[derive(Debug, Clone, PartialEq)]
pub struct RawDescription {
    /// Camera make and model.
    pub camera: String,
    /// Size of the developed frame (the sensor's crop), before orientation.
    pub width: usize,
    /// Height, as `width`.
    pub height: usize,
    /// Significant bits per sample (from the white level).
    pub bits: u32,
    /// The colour filter pattern, e.g. "RGGB"; "linear" for a demosaiced (LinearRaw) DNG.
    pub pattern: String,
    /// Black level (the mean over the CFA positions) and white level.
    pub black: f32,
    /// White level.
    pub white: f32,
    /// The as-shot white-balance gains (red, green, blue; green 1).
    pub as_shot: [f32; 3],
}

impl fmt::Display for RawDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b] = self.as_shot;
        write!(
            f,
            "camera RAW: {}, {}x{}, {}-bit, CFA {}, black {:.0} white {:.0}, as-shot white \
             balance {r:.3},{g:.3},{b:.3}",
            self.camera, self.width, self.height, self.bits, self.pattern, self.black, self.white
        )
    }
}

fn decode(path: &Path, bytes: Option<Arc<Vec<u8>>>, dummy: bool) -> Result<RawImage> {
    let source = match bytes {
        Some(b) => RawSource::new_from_shared_vec(b),
        None => RawSource::new(path).map_err(|e| CoreError::io(path, e))?,
    };
    let params = RawDecodeParams::default();
    let image =
        if dummy { rawler::decode_dummy(&source) } else { rawler::decode(&source, &params) };
    image.map_err(|e| match e {
        RawlerError::Unsupported { what, make, model, .. } => CoreError::Unsupported {
            path: path.into(),
            what: if make.is_empty() && model.is_empty() {
                format!("camera RAW the decoder does not know ({what})")
            } else {
                format!("camera RAW from {make} {model}, which the decoder does not know ({what})")
            },
        },
        RawlerError::DecoderFailed(reason) => CoreError::Decode {
            path: path.into(),
            reason: format!("not a readable camera RAW file (truncated or damaged?): {reason}"),
        },
    })
}

fn camera(image: &RawImage) -> String {
    let (make, model) = (image.clean_make.trim(), image.clean_model.trim());
    let (make, model) =
        if make.is_empty() { (image.make.trim(), image.model.trim()) } else { (make, model) };
    format!("{make} {model}").trim().to_string()
}

/// The crop to use: the recommended crop, else the active area, else the whole sensor.
fn crop(image: &RawImage) -> (usize, usize, usize, usize) {
    let whole = (0, 0, image.width, image.height);
    let Some(r) = image.crop_area.or(image.active_area) else { return whole };
    let fits = r.p.x + r.d.w <= image.width && r.p.y + r.d.h <= image.height;
    if !fits || r.d.w < 2 || r.d.h < 2 { whole } else { (r.p.x, r.p.y, r.d.w, r.d.h) }
}

/// The 2x2 Bayer pattern at the crop's origin, or an error for other sensors.
fn bayer(path: &Path, image: &RawImage, x0: usize, y0: usize) -> Result<Option<Bayer>> {
    match &image.photometric {
        RawPhotometricInterpretation::LinearRaw if image.cpp == 3 => Ok(None),
        RawPhotometricInterpretation::Cfa(config) if image.cpp == 1 => {
            let cfa = &config.cfa;
            let unsupported = |what: String| CoreError::Unsupported { path: path.into(), what };
            if cfa.width != 2 || cfa.height != 2 {
                return Err(unsupported(format!(
                    "camera RAW with a {}x{} colour filter ({}, e.g. Fujifilm X-Trans); only \
                     2x2 Bayer sensors are supported",
                    cfa.width, cfa.height, cfa.name
                )));
            }
            let at = |r: usize, c: usize| cfa.color_at(y0 + r, x0 + c);
            Bayer::from_cfa([at(0, 0), at(0, 1), at(1, 0), at(1, 1)]).map(Some).ok_or_else(|| {
                unsupported(format!("camera RAW with colour filter {}; only RGB Bayer", cfa.name))
            })
        }
        _ => Err(CoreError::Unsupported {
            path: path.into(),
            what: "camera RAW that is neither a Bayer mosaic nor linear RGB (monochrome or \
                   other sensors are not supported)"
                .into(),
        }),
    }
}

/// The file's own as-shot gains, green 1 (the camera's neutral when it has none).
fn as_shot(image: &RawImage) -> [f32; 3] {
    let wb = image.wb_coeffs;
    let ok = |v: f32| v.is_finite() && v > 0.0;
    let wb = if ok(wb[0]) && ok(wb[1]) && ok(wb[2]) { wb } else { image.neutralwb() };
    let g = if ok(wb[1]) { wb[1] } else { 1.0 };
    let gains = [wb[0] / g, 1.0, wb[2] / g];
    if gains.iter().all(|v| ok(*v)) { gains } else { [1.0; 3] }
}

/// Black level per CFA position (row-major 2x2 from the crop origin) and the white level.
fn levels(image: &RawImage, x0: usize, y0: usize) -> ([f32; 4], f32) {
    let b = &image.blacklevel;
    let values = b.as_vec();
    let (bw, bh, cpp) = (b.width.max(1), b.height.max(1), b.cpp.max(1));
    let mut black = [0.0f32; 4];
    for (i, slot) in black.iter_mut().enumerate() {
        let (r, c) = (y0 + i / 2, x0 + i % 2);
        let k = ((r % bh) * bw + (c % bw)) * cpp;
        *slot = values.get(k).or(values.first()).copied().unwrap_or(0.0);
    }
    let white = image.whitelevel.0.first().map_or(65535.0, |w| *w as f32);
    (black, white)
}

fn bits_of(white: f32) -> u32 {
    let mut bits = 1;
    while bits < 32 && f64::from(white) > (1u64 << bits) as f64 - 1.0 {
        bits += 1;
    }
    bits
}

/// The camera's colour matrix (XYZ to camera; `None` when the file has none).
fn xyz_to_camera(image: &RawImage) -> Option<[f32; 9]> {
    let matrix = image
        .color_matrix_find_first([Illuminant::D65, Illuminant::D50, Illuminant::A])
        .map(|(_, m)| m)
        .or_else(|| image.color_matrix.values().next().cloned());
    match matrix {
        Some(m) if m.len() >= 9 => Some([m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]]),
        _ => {
            let m = image.xyz_to_cam;
            let flat =
                [m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2], m[2][0], m[2][1], m[2][2]];
            (!flat.iter().all(|v| *v == 0.0)).then_some(flat)
        }
    }
}

/// The matrix of linear sRGB as "camera": what a file without a colour matrix gets.
fn srgb_as_camera() -> [f32; 9] {
    invert3(&super::colour::XYZ_FROM_LINEAR_SRGB_D65).expect("sRGB primaries are independent")
}

/// Linear sRGB from the camera's white-balanced RGB.
fn camera_to_srgb(xyz_to_camera: &[f32; 9]) -> [f32; 9] {
    let identity = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    invert3(&srgb_to_camera(xyz_to_camera)).unwrap_or(identity)
}

/// Rows of the output demosaiced together, and the rows above and below them the
/// demosaic reads (its 5x5 filters reach 2; even, to keep the CFA phase).
const BAND_ROWS: usize = 256;
const HALO: usize = 4;

/// The sensor's samples, as decoded (no float copy of the whole sensor).
enum Sensor<'a> {
    Integer(&'a [u16]),
    Float(&'a [f32]),
}

impl<'a> Sensor<'a> {
    fn of(path: &Path, image: &'a RawImage) -> Result<Self> {
        let (data, len) = match &image.data {
            RawImageData::Integer(v) => (Sensor::Integer(v), v.len()),
            RawImageData::Float(v) => (Sensor::Float(v), v.len()),
        };
        if len < image.width * image.height * image.cpp {
            return Err(CoreError::Decode {
                path: path.into(),
                reason: "RAW data is shorter than its size".into(),
            });
        }
        Ok(data)
    }

    #[inline]
    fn at(&self, i: usize) -> f32 {
        match self {
            Sensor::Integer(v) => f32::from(v[i]),
            Sensor::Float(v) => v[i],
        }
    }
}

/// Gains scaled so the smallest is 1 (then clipping at 1 keeps blown highlights white).
fn normalised(gains: [f32; 3]) -> [f32; 3] {
    let min = gains.iter().copied().fold(f32::INFINITY, f32::min);
    gains.map(|g| g / min)
}

/// Resolves a stack's development on its reference frame.
pub(crate) fn resolve(reference: &Path, white_balance: WhiteBalance) -> Result<Develop> {
    let need_pixels = white_balance == WhiteBalance::Auto;
    let image = decode(reference, None, !need_pixels)?;
    let gains = match white_balance {
        WhiteBalance::AsShot => as_shot(&image),
        WhiteBalance::Gains(g) => g,
        WhiteBalance::Auto => grey_world(reference, &image)?,
    };
    Ok(Develop { gains: Some(gains), camera: Some(camera(&image)) })
}

/// Grey-world gains: the mean of each colour over the unclipped photosites of the crop.
fn grey_world(path: &Path, image: &RawImage) -> Result<[f32; 3]> {
    let (x0, y0, w, h) = crop(image);
    let data = Sensor::of(path, image)?;
    let (black, white) = levels(image, x0, y0);
    let stride = image.width * image.cpp;
    let pattern = bayer(path, image, x0, y0)?;
    let sums = (0..h)
        .into_par_iter()
        .map(|y| {
            let mut s = [0.0f64; 6];
            let start = (y0 + y) * stride + x0 * image.cpp;
            let width = w * if pattern.is_some() { 1 } else { 3 };
            for x in 0..width {
                let raw = data.at(start + x);
                let (c, v) = match pattern {
                    Some(p) => {
                        let k = (y & 1) * 2 + (x & 1);
                        (p.color_at(y, x), (raw - black[k]) / (white - black[k]))
                    }
                    None => (x % 3, (raw - black[0]) / (white - black[0])),
                };
                if v < 0.95 {
                    s[c] += f64::from(v.max(0.0));
                    s[c + 3] += 1.0;
                }
            }
            s
        })
        .reduce(|| [0.0; 6], |a, b| std::array::from_fn(|i| a[i] + b[i]));
    let mean = |c: usize| sums[c] / sums[c + 3].max(1.0);
    if (0..3).any(|c| mean(c) <= 0.0) {
        return Ok(as_shot(image));
    }
    Ok([(mean(1) / mean(0)) as f32, 1.0, (mean(1) / mean(2)) as f32])
}

/// Reads the header of a RAW file: the developed frame's size and format (16-bit RGB).
pub(crate) fn read_raw_info(path: &Path) -> Result<FrameInfo> {
    let image = decode(path, None, true)?;
    let (x0, y0, w, h) = crop(&image);
    bayer(path, &image, x0, y0)?;
    let (w, h) = if swaps(&image) { (h, w) } else { (w, h) };
    crate::limits::check_decoded_size(path, w as u64, h as u64, 3, 2)?;
    Ok(FrameInfo { width: w, height: h, format: rgb16() })
}

fn rgb16() -> PixelFormat {
    PixelFormat { layout: ChannelLayout::Rgb, depth: BitDepth::Sixteen }
}

fn swaps(image: &RawImage) -> bool {
    image.orientation.to_u16() >= 5 && image.orientation.to_u16() <= 8
}

/// Describes a RAW file for `fstack info`.
pub fn describe(path: &Path) -> Result<RawDescription> {
    let image = decode(path, None, true)?;
    let (x0, y0, w, h) = crop(&image);
    let pattern = match bayer(path, &image, x0, y0)? {
        Some(p) => p.name().to_string(),
        None => "none (linear RGB, demosaiced)".into(),
    };
    let (black, white) = levels(&image, x0, y0);
    Ok(RawDescription {
        camera: camera(&image),
        width: w,
        height: h,
        bits: bits_of(white),
        pattern,
        black: black.iter().sum::<f32>() / 4.0,
        white,
        as_shot: as_shot(&image),
    })
}

/// Reads and develops a RAW file (see [`super`]).
pub(crate) fn read_raw(path: &Path, develop: &Develop) -> Result<Frame> {
    let bytes = Arc::new(std::fs::read(path).map_err(|e| CoreError::io(path, e))?);
    let image = decode(path, Some(bytes.clone()), false)?;
    if let Some(expected) = &develop.camera
        && camera(&image) != *expected
    {
        return Err(CoreError::Unsupported {
            path: path.into(),
            what: format!(
                "camera RAW from {}, but the stack's reference frame is from {expected}; stack \
                 each camera's frames separately",
                camera(&image)
            ),
        });
    }
    let (x0, y0, w, h) = crop(&image);
    crate::limits::check_decoded_size(path, w as u64, h as u64, 3, 2)?;
    let pattern = bayer(path, &image, x0, y0)?;
    let (black, white) = levels(&image, x0, y0);
    let gains = normalised(develop.gains.unwrap_or_else(|| as_shot(&image)));
    let xyz_to_camera = xyz_to_camera(&image).unwrap_or_else(srgb_as_camera);
    let matrix = camera_to_srgb(&xyz_to_camera);
    let encoder = SrgbEncoder::new();
    let decoder = SrgbDecoder::new();
    let (camera_name, orientation) = (camera(&image), image.orientation.to_u16());
    let data = Sensor::of(path, &image)?;
    let stride = image.width * image.cpp;
    let mut out = vec![0u16; w * h * 3];
    // Linear sRGB of one pixel (camera RGB, linear, white-balanced) into `o`.
    let finish = |o: &mut [u16], p: [f32; 3]| {
        for (c, o) in o.iter_mut().enumerate() {
            let m = &matrix[c * 3..c * 3 + 3];
            let v = m[0] * p[0] + m[1] * p[1] + m[2] * p[2];
            *o = (encoder.encode(v) * 65535.0 + 0.5) as u16;
        }
    };
    match pattern {
        Some(p) => {
            // The balanced, encoded mosaic (one plane), demosaiced band by band (with a
            // halo of rows the filters reach) so that no float RGB copy of the whole
            // frame is ever held.
            let mut mosaic = vec![0.0f32; w * h];
            mosaic.par_chunks_mut(w).enumerate().for_each(|(y, out)| {
                let start = (y0 + y) * stride + x0;
                for (x, o) in out.iter_mut().enumerate() {
                    let k = (y & 1) * 2 + (x & 1);
                    let v = (data.at(start + x) - black[k]) / (white - black[k]);
                    *o = encoder.encode((v * gains[p.color_at(y, x)]).min(1.0));
                }
            });
            drop(image); // the sensor's samples: the mosaic holds what is needed
            let mut band = Vec::new();
            for top in (0..h).step_by(BAND_ROWS) {
                let bottom = (top + BAND_ROWS).min(h);
                // Even halo: the band's mosaic keeps the frame's CFA phase.
                let from = top.saturating_sub(HALO);
                let to = (bottom + HALO).min(h);
                let rows = to - from;
                band.resize(rows * w * 3, 0.0);
                demosaic_mhc(&mosaic[from * w..to * w], w, rows, p, &mut band);
                let inner = &band[(top - from) * w * 3..(bottom - from) * w * 3];
                out[top * w * 3..bottom * w * 3]
                    .par_chunks_mut(w * 3)
                    .zip(inner.par_chunks(w * 3))
                    .for_each(|(o, e)| {
                        for (o, e) in o.chunks_exact_mut(3).zip(e.chunks_exact(3)) {
                            finish(
                                o,
                                [decoder.decode(e[0]), decoder.decode(e[1]), decoder.decode(e[2])],
                            );
                        }
                    });
            }
        }
        None => {
            out.par_chunks_mut(w * 3).enumerate().for_each(|(y, o)| {
                let start = (y0 + y) * stride + x0 * 3;
                for (x, o) in o.chunks_exact_mut(3).enumerate() {
                    let v = |c: usize| {
                        let raw = data.at(start + x * 3 + c);
                        ((raw - black[0]) / (white - black[0]) * gains[c]).clamp(0.0, 1.0)
                    };
                    finish(o, [v(0), v(1), v(2)]);
                }
            });
        }
    }
    let metadata = Metadata {
        exif: crate::exif_block::raw_file_exif(bytes),
        icc: Some(crate::metadata::srgb_icc().to_vec()),
        raw: Some(RawColour { xyz_to_camera, gains, camera: camera_name }),
    };
    let buffer = image::ImageBuffer::<image::Rgb<u16>, _>::from_raw(w as u32, h as u32, out)
        .expect("w * h * 3 samples");
    let mut img = image::DynamicImage::ImageRgb16(buffer);
    let orientation = u8::try_from(orientation)
        .ok()
        .and_then(image::metadata::Orientation::from_exif)
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    img.apply_orientation(orientation);
    let info =
        FrameInfo { width: img.width() as usize, height: img.height() as usize, format: rgb16() };
    let samples = match img {
        image::DynamicImage::ImageRgb16(b) => Samples::U16(b.into_raw()),
        _ => unreachable!("an RGB 16-bit image stays one"),
    };
    let mut frame = Frame::new(info, samples)?;
    frame.metadata = metadata;
    frame.source = Some(path.into());
    Ok(frame)
}

/// What a linear DNG of a developed frame holds: 16-bit RGB in the camera's colours
/// before white balance (the development of [`read_raw`] undone, short of the demosaic),
/// the camera's colour matrix, its as-shot neutral and name. A frame not read from RAW
/// is written as linear sRGB (its colour matrix that of sRGB, neutral 1,1,1). Gray frames
/// are written as RGB; frames with alpha are refused.
pub(crate) fn linear_dng_samples(frame: &Frame) -> std::result::Result<LinearDng, String> {
    let layout = frame.format().layout;
    if layout.has_alpha() {
        return Err(format!(
            "a linear DNG holds no alpha channel; write this {} frame as PNG or TIFF",
            layout.name()
        ));
    }
    let colour = frame.metadata.raw.clone().unwrap_or_else(|| RawColour {
        xyz_to_camera: srgb_as_camera(),
        gains: [1.0; 3],
        camera: String::new(),
    });
    let to_camera = srgb_to_camera(&colour.xyz_to_camera);
    let (table, channels) = match frame.samples() {
        Samples::U8(_) => (crate::transfer::srgb_decode_table(255), layout.channels()),
        Samples::U16(_) => (crate::transfer::srgb_decode_table(65535), layout.channels()),
    };
    let value = |i: usize| -> f32 {
        match frame.samples() {
            Samples::U8(s) => table[usize::from(s[i])],
            Samples::U16(s) => table[usize::from(s[i])],
        }
    };
    let (w, h) = (frame.width(), frame.height());
    let mut out = vec![0u16; w * h * 3];
    let g = colour.gains;
    out.par_chunks_mut(w * 3).enumerate().for_each(|(y, row)| {
        for x in 0..w {
            let i = (y * w + x) * channels;
            let rgb =
                if channels >= 3 { [value(i), value(i + 1), value(i + 2)] } else { [value(i); 3] };
            for c in 0..3 {
                let m = &to_camera[c * 3..c * 3 + 3];
                let cam = (m[0] * rgb[0] + m[1] * rgb[1] + m[2] * rgb[2]) / g[c];
                row[x * 3 + c] = (cam.clamp(0.0, 1.0) * 65535.0 + 0.5) as u16;
            }
        }
    });
    let min = g.iter().copied().fold(f32::INFINITY, f32::min);
    Ok(LinearDng {
        samples: out,
        xyz_to_camera: colour.xyz_to_camera,
        as_shot_neutral: g.map(|v| min / v),
        camera: colour.camera,
    })
}

/// See [`linear_dng_samples`].
pub(crate) struct LinearDng {
    pub samples: Vec<u16>,
    pub xyz_to_camera: [f32; 9],
    pub as_shot_neutral: [f32; 3],
    pub camera: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gains_are_scaled_so_the_smallest_is_one() {
        assert_eq!(normalised([2.0, 1.0, 1.5]), [2.0, 1.0, 1.5]);
        assert_eq!(normalised([1.0, 0.5, 2.0]), [2.0, 1.0, 4.0]);
        assert_eq!(bits_of(4095.0), 12);
        assert_eq!(bits_of(16383.0), 14);
        assert_eq!(bits_of(15000.0), 14);
    }
}

#[cfg(test)]
mod band_tests {
    use super::*;

    #[test]
    fn a_band_with_its_halo_demosaics_as_the_whole_frame() {
        let (w, h) = (24, 40);
        let mosaic: Vec<f32> = (0..w * h).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
        let mut whole = vec![0.0; w * h * 3];
        demosaic_mhc(&mosaic, w, h, Bayer::Grbg, &mut whole);
        let (top, bottom) = (12, 24);
        let (from, to) = (top - HALO, bottom + HALO);
        let mut band = vec![0.0; (to - from) * w * 3];
        demosaic_mhc(&mosaic[from * w..to * w], w, to - from, Bayer::Grbg, &mut band);
        for y in top..bottom {
            let a = &whole[y * w * 3..(y + 1) * w * 3];
            let b = &band[(y - from) * w * 3..(y - from + 1) * w * 3];
            assert_eq!(a, b, "row {y}");
        }
    }
}
