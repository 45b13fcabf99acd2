//! Synthetic RAW stacks: the generator's frames as Bayer-mosaic DNGs of a synthetic
//! camera, with the truth known ([`SynthStack::write_dng_stack`]).
//!
//! # The forward model
//! Each frame's stored sRGB values `s` (0..1 per channel; 16-bit frames keep the most
//! of them, 8-bit ones are read as `v / 255`, gray as R = G = B, alpha ignored) become
//! a mosaic as a camera would record the scene:
//!
//! 1. linear light `l = srgb_to_linear(s)` per channel;
//! 2. camera RGB `c = M l`, with `M = srgb_to_camera(SYNTH_XYZ_TO_CAMERA)`
//!    ([`crate::raw::colour::srgb_to_camera`]: `SYNTH_XYZ_TO_CAMERA *
//!    XYZ_FROM_LINEAR_SRGB_D65`, each row divided by its sum, so white (1, 1, 1) is
//!    camera (1, 1, 1));
//! 3. the colour cast of the light: `c_k *= neutral[k]` (so the scene's white reads
//!    as the neutral, green 1, as a daylight camera's raw does);
//! 4. the sensor's levels: `value = black + c_k (white - black)` with
//!    `white = 2^bits - 1`, rounded half up and clipped to `0..=white` (a saturated
//!    colour outside the camera's gamut may read below black, as noise does);
//! 5. each photosite keeps only the colour its filter passes
//!    ([`Bayer::color_at`]).
//!
//! The DNG says `ColorMatrix1 = SYNTH_XYZ_TO_CAMERA` (D65), `AsShotNeutral =
//! neutral`, BlackLevel `black`, WhiteLevel `white`, Make "fstack", Model
//! "Synthetic", and carries the frame's EXIF (capture time, exposure, aperture).
//! A developer inverts it: subtract black, divide by `white - black`, divide by the
//! neutral per channel, demosaic, and apply the inverse of `M` (computed from the
//! file's ColorMatrix the same way) to get linear sRGB back; what a demosaic cannot
//! restore (detail finer than the mosaic) is the only loss beyond rounding.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{StackFiles, SynthStack};
use crate::dng::{CfaDng, DngColour, write_cfa_dng};
use crate::raw::Bayer;
use crate::raw::colour::srgb_to_camera;
use crate::{
    ChannelLayout, CoreError, Frame, Overwrite, Result, Samples, WriteOptions, write_atomic,
    write_frame,
};

/// The synthetic camera's colour matrix: CIE XYZ (D65) to camera RGB, row-major, as
/// the DNG's ColorMatrix1. Of the size and sign pattern of a current full-frame
/// sensor's (a wide red response, blue leaking into green), so that undoing it is a
/// real, non-diagonal step.
pub const SYNTH_XYZ_TO_CAMERA: [f32; 9] =
    [1.0405, -0.3755, -0.1270, -0.5461, 1.3787, 0.1793, -0.1040, 0.2015, 0.6785];

/// How the generator's RAW frames are made (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawOptions {
    /// The colour filter pattern. Default RGGB.
    pub pattern: Bayer,
    /// Bits of the sensor's values, 8..=16 (12 and 14 are usual); white is
    /// `2^bits - 1`. Default 14.
    pub bits: u32,
    /// The value of no light, below white. Default 512.
    pub black: u16,
    /// The camera's response to the scene's white, green 1 (each positive), e.g.
    /// `[0.55, 1.0, 0.72]` for daylight. Default that.
    pub neutral: [f32; 3],
}

impl Default for RawOptions {
    fn default() -> Self {
        RawOptions { pattern: Bayer::Rggb, bits: 14, black: 512, neutral: [0.55, 1.0, 0.72] }
    }
}

impl RawOptions {
    /// The white level, `2^bits - 1`.
    pub fn white(&self) -> u16 {
        ((1u32 << self.bits.clamp(1, 16)) - 1) as u16
    }

    /// Checks the options; the error names the bad field.
    pub fn validate(&self) -> Result<()> {
        if !(8..=16).contains(&self.bits) {
            return Err(CoreError::InvalidOption {
                name: "bits",
                reason: format!("must be 8..=16, got {}", self.bits),
            });
        }
        if self.black >= self.white() / 2 {
            return Err(CoreError::InvalidOption {
                name: "black",
                reason: format!(
                    "must be below half the white level {}, got {}",
                    self.white(),
                    self.black
                ),
            });
        }
        if !self.neutral.iter().all(|v| v.is_finite() && *v > 0.0) {
            return Err(CoreError::InvalidOption {
                name: "neutral",
                reason: format!("each must be positive, got {:?}", self.neutral),
            });
        }
        Ok(())
    }

    /// The colour facts the DNGs carry.
    pub fn colour(&self) -> DngColour {
        DngColour {
            xyz_to_camera: SYNTH_XYZ_TO_CAMERA,
            as_shot_neutral: self.neutral,
            make: "fstack".into(),
            model: "Synthetic".into(),
        }
    }
}

/// The mosaic of `frame` by the forward model of the module docs; `decode` maps each
/// stored value to linear light (65536 entries for 16-bit frames, 256 for 8-bit).
pub fn frame_to_mosaic(frame: &Frame, raw: &RawOptions, decode: &[f32]) -> Vec<u16> {
    let (w, h) = (frame.width(), frame.height());
    let layout = frame.format().layout;
    let channels = layout.channels();
    let rgb_of = |v: [usize; 3]| v.map(|i| decode[i]);
    let m = srgb_to_camera(&SYNTH_XYZ_TO_CAMERA);
    let (black, white) = (f32::from(raw.black), f32::from(raw.white()));
    // Row k of M, times the neutral and the level range: camera value k in levels.
    let gain: [[f32; 3]; 3] = std::array::from_fn(|k| {
        std::array::from_fn(|j| m[k * 3 + j] * raw.neutral[k] * (white - black))
    });
    let sample = |i: usize| -> usize {
        match frame.samples() {
            Samples::U8(s) => usize::from(s[i]),
            Samples::U16(s) => usize::from(s[i]),
        }
    };
    let mut mosaic = vec![0u16; w * h]; // once per frame
    mosaic.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, out) in row.iter_mut().enumerate() {
            let p = (y * w + x) * channels;
            let idx = match layout {
                ChannelLayout::Gray | ChannelLayout::GrayAlpha => [sample(p); 3],
                ChannelLayout::Rgb | ChannelLayout::Rgba => {
                    [sample(p), sample(p + 1), sample(p + 2)]
                }
            };
            let l = rgb_of(idx);
            let g = &gain[raw.pattern.color_at(y, x)];
            let v = black + g[0] * l[0] + g[1] * l[1] + g[2] * l[2];
            *out = (v.clamp(0.0, white) + 0.5) as u16;
        }
    });
    mosaic
}

impl SynthStack {
    /// Writes the frames as CFA DNGs of the synthetic camera (the [module
    /// docs](crate::synth::raw) give the model) into `dir/frames/` (`frame_001.dng`
    /// ..., numbered as [`super::frame_file_name`] numbers them), and the truth
    /// (`truth.tif`, in the frames' format: make the frames 16-bit RGB for a 16-bit
    /// truth and the finest mosaic) and `depth.png` into `dir`, as
    /// [`SynthStack::write_stack`] does. Files are replaced atomically.
    pub fn write_dng_stack(&self, dir: &Path, raw: &RawOptions) -> Result<StackFiles> {
        raw.validate()?;
        let frames_dir = dir.join("frames");
        std::fs::create_dir_all(&frames_dir).map_err(|e| CoreError::io(&frames_dir, e))?;
        let n = self.options().frames;
        let digits = n.to_string().len().max(3);
        let frames: Vec<PathBuf> =
            (0..n).map(|k| frames_dir.join(format!("frame_{:0digits$}.dng", k + 1))).collect();
        let colour = raw.colour();
        let max = match self.options().depth {
            crate::BitDepth::Eight => 255,
            crate::BitDepth::Sixteen => 65535,
        };
        let decode = crate::transfer::srgb_decode_table(max); // once per stack
        for (k, path) in frames.iter().enumerate() {
            let frame = self.frame(k);
            let mosaic = frame_to_mosaic(&frame, raw, &decode);
            let image = CfaDng {
                width: frame.width(),
                height: frame.height(),
                data: &mosaic,
                pattern: raw.pattern,
                black: raw.black,
                white: raw.white(),
                colour: &colour,
            };
            let exif = frame.metadata.exif.as_deref();
            write_atomic(path, Overwrite::Replace, |out| {
                write_cfa_dng(out, &image, exif)
                    .map_err(|reason| CoreError::Encode { path: path.clone(), reason })
            })?;
        }
        let write = WriteOptions::default();
        let truth = dir.join("truth.tif");
        write_frame(&truth, &self.truth(), &write)?;
        let depth = dir.join("depth.png");
        write_frame(&depth, &self.depth_map(), &write)?;
        Ok(StackFiles { frames, truth, depth })
    }
}

#[cfg(test)]
mod tests {
    use rawler::RawImageData;
    use rawler::decoders::RawDecodeParams;
    use rawler::rawsource::RawSource;

    use super::*;
    use crate::raw::colour::invert3;
    use crate::raw::{demosaic_bilinear, demosaic_mhc};
    use crate::synth::SynthOptions;
    use crate::transfer::{linear_to_srgb, srgb_to_linear};
    use crate::{BitDepth, read_frame};

    fn stack() -> SynthStack {
        SynthStack::new(SynthOptions {
            width: 64,
            height: 48,
            frames: 3,
            depth: BitDepth::Sixteen,
            noise_sigma: 0.0,
            lens_blur: 1.0,
            ..Default::default()
        })
        .unwrap()
    }

    fn u16s(frame: &Frame) -> &[u16] {
        match frame.samples() {
            Samples::U16(s) => s,
            Samples::U8(_) => panic!("expected 16-bit samples"),
        }
    }

    /// Develops a decoded DNG by the inverse of the forward model with a bilinear
    /// demosaic, to 0..1 sRGB display values.
    fn develop(
        raw: &rawler::RawImage,
        pattern: Bayer,
        neutral: [f32; 3],
        demosaic: fn(&[f32], usize, usize, Bayer, &mut [f32]),
    ) -> Vec<f32> {
        let RawImageData::Integer(data) = &raw.data else { panic!("float samples") };
        let (w, h) = (raw.width, raw.height);
        let black = raw.blacklevel.as_vec()[0];
        let white = raw.whitelevel.0[0] as f32;
        let mosaic: Vec<f32> = (0..w * h)
            .map(|i| {
                let c = pattern.color_at(i / w, i % w);
                (f32::from(data[i]) - black) / (white - black) / neutral[c]
            })
            .collect();
        let mut camera = vec![0.0; w * h * 3];
        demosaic(&mosaic, w, h, pattern, &mut camera);
        let matrix: [f32; 9] =
            raw.color_matrix[&rawler::imgop::xyz::Illuminant::D65].as_slice().try_into().unwrap();
        let inv = invert3(&srgb_to_camera(&matrix)).unwrap();
        camera
            .chunks(3)
            .flat_map(|c| {
                crate::raw::colour::apply3(&inv, [c[0], c[1], c[2]])
                    .map(|l| linear_to_srgb(f64::from(l)) as f32)
            })
            .collect()
    }

    fn psnr(a: &[f32], b: &[f32]) -> f64 {
        crate::metrics::psnr_samples(a, b, 1.0)
    }

    #[test]
    fn dng_stack_reads_back_and_develops_to_the_frames() {
        let stack = stack();
        for raw in [
            RawOptions { pattern: Bayer::Rggb, bits: 12, black: 256, neutral: [0.55, 1.0, 0.72] },
            RawOptions { pattern: Bayer::Gbrg, bits: 14, black: 1024, neutral: [0.6, 1.0, 0.5] },
        ] {
            let dir = tempfile::tempdir().unwrap();
            let files = stack.write_dng_stack(dir.path(), &raw).unwrap();
            let names: Vec<_> =
                files.frames.iter().map(|p| p.file_name().unwrap().to_owned()).collect();
            assert_eq!(names, ["frame_001.dng", "frame_002.dng", "frame_003.dng"]);
            assert_eq!(files.truth, dir.path().join("truth.tif"));
            let truth = read_frame(&files.truth).unwrap();
            assert_eq!(u16s(&truth), u16s(&stack.truth()));
            assert!(files.depth.is_file());

            for k in [0, 2] {
                let source = RawSource::new(&files.frames[k]).unwrap();
                let decoded = rawler::decode(&source, &RawDecodeParams::default()).unwrap();
                assert_eq!((decoded.width, decoded.height, decoded.cpp), (64, 48, 1));
                assert_eq!(decoded.camera.cfa.name, raw.pattern.name());
                assert_eq!(decoded.whitelevel.0, vec![u32::from(raw.white())]);
                assert_eq!(decoded.blacklevel.as_vec(), vec![f32::from(raw.black)]);
                assert_eq!(decoded.clean_make, "fstack");
                assert_eq!(decoded.clean_model, "Synthetic");
                for c in 0..3 {
                    assert!((decoded.wb_coeffs[c] - 1.0 / raw.neutral[c]).abs() < 1e-4);
                }
                let meta = rawler::get_decoder(&source)
                    .unwrap()
                    .raw_metadata(&source, &RawDecodeParams::default())
                    .unwrap();
                let time = format!("2026:01:01 12:00:{k:02}");
                assert_eq!(meta.exif.date_time_original.as_deref(), Some(time.as_str()));

                let frame = stack.frame(k);
                let want: Vec<f32> = u16s(&frame).iter().map(|&v| f32::from(v) / 65535.0).collect();
                // Each photosite is its colour of the frame, by the forward model, to
                // within rounding (one level).
                let RawImageData::Integer(data) = &decoded.data else { panic!() };
                let m = srgb_to_camera(&SYNTH_XYZ_TO_CAMERA);
                let range = f64::from(raw.white() - raw.black);
                for (i, &v) in data.iter().enumerate() {
                    let c = raw.pattern.color_at(i / 64, i % 64);
                    let l: [f64; 3] =
                        std::array::from_fn(|j| srgb_to_linear(f64::from(want[i * 3 + j])));
                    let cam = (0..3).map(|j| f64::from(m[c * 3 + j]) * l[j]).sum::<f64>();
                    let expect = f64::from(raw.black) + cam * f64::from(raw.neutral[c]) * range;
                    let expect = expect.clamp(0.0, f64::from(raw.white()));
                    assert!((f64::from(v) - expect).abs() <= 1.0, "photosite {i}: {v} vs {expect}");
                }
                // Measured (64x48, both options): frame 0 bilinear 33.4..33.8 dB, MHC
                // 33.2..33.5 dB; frame 2 (focused far: the fine background texture
                // sharp) bilinear 27.2 dB, MHC 31.1..31.2 dB.
                let p =
                    psnr(&develop(&decoded, raw.pattern, raw.neutral, demosaic_bilinear), &want);
                let q = psnr(&develop(&decoded, raw.pattern, raw.neutral, demosaic_mhc), &want);
                eprintln!(
                    "{} {}-bit frame {k}: bilinear {p:.2} dB, MHC {q:.2} dB",
                    raw.pattern.name(),
                    raw.bits
                );
                let (floor, mhc_floor) = [(32.5, 32.5), (0.0, 0.0), (26.5, 30.5)][k];
                assert!(p > floor, "{} frame {k}: bilinear PSNR {p:.2} dB", raw.pattern.name());
                assert!(
                    q > mhc_floor,
                    "{} frame {k}: MHC {q:.2} dB, bilinear {p:.2} dB",
                    raw.pattern.name()
                );
            }
        }
    }

    #[test]
    fn grey_frames_give_the_neutral_times_their_light() {
        // Rows of M sum to 1, so a grey of linear light l reads black + l neutral[c]
        // (white - black) at every photosite, whatever the sample format.
        use crate::{ChannelLayout, FrameInfo, PixelFormat};
        let raw =
            RawOptions { pattern: Bayer::Grbg, bits: 12, black: 200, neutral: [0.5, 1.0, 0.75] };
        let range = f64::from(raw.white() - raw.black);
        let frame = |layout: ChannelLayout, samples: Samples| {
            let depth = match samples {
                Samples::U8(_) => BitDepth::Eight,
                Samples::U16(_) => BitDepth::Sixteen,
            };
            let info = FrameInfo { width: 6, height: 4, format: PixelFormat { layout, depth } };
            Frame::new(info, samples).unwrap()
        };
        let cases = [
            (frame(ChannelLayout::Rgb, Samples::U16(vec![65535; 72])), 65535, 1.0),
            (frame(ChannelLayout::Rgba, Samples::U8(vec![255; 96])), 255, 1.0),
            (
                frame(ChannelLayout::Gray, Samples::U8(vec![128; 24])),
                255,
                srgb_to_linear(128.0 / 255.0),
            ),
            (frame(ChannelLayout::Rgb, Samples::U16(vec![0; 72])), 65535, 0.0),
        ];
        for (f, max, light) in cases {
            let mosaic = frame_to_mosaic(&f, &raw, &crate::transfer::srgb_decode_table(max));
            for (i, &v) in mosaic.iter().enumerate() {
                let c = raw.pattern.color_at(i / 6, i % 6);
                let want = f64::from(raw.black) + light * f64::from(raw.neutral[c]) * range;
                assert!((f64::from(v) - want).abs() <= 0.5 + 1e-3, "{i}: {v} vs {want}");
            }
        }
    }

    #[test]
    fn bad_options_are_named() {
        let bad = |o: RawOptions| match o.validate() {
            Err(CoreError::InvalidOption { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(bad(RawOptions { bits: 18, ..Default::default() }), "bits");
        assert_eq!(bad(RawOptions { bits: 12, black: 3000, ..Default::default() }), "black");
        assert_eq!(bad(RawOptions { neutral: [1.0, 0.0, 1.0], ..Default::default() }), "neutral");
        assert!(RawOptions::default().validate().is_ok());
        assert_eq!(RawOptions { bits: 12, ..Default::default() }.white(), 4095);
    }
}
