//! `fstack info`: what a stack is made of, read from the headers only.
//!
//! Lists the frames in the order they would be stacked, their size, bit depth and
//! channels, an EXIF summary (camera, lens, focus distance, exposure), the stacker
//! `fstack stack` uses by default (FocusMapStack), and the memory the in-memory
//! pyramid stacker (`--stacker pyramid`) would need. A frame that cannot be read or does not
//! match the first is listed with the problem, and the command then fails (exit 1),
//! so `fstack info` doubles as a check before a long run.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;
use exif::{In, Tag};
use fs_core::{FloatType, FrameInfo, frame_mismatch, read_frame_info};
use fs_pyramid::{PyramidOptions, memory_estimate};
use serde::Serialize;

use crate::cli::{FloatTypeArg, InfoArgs};
use crate::report::{self, FramesSummary, Summary, Timings, human_bytes};
use crate::{Context, inputs, usage};

/// The EXIF fields a photographer looks at first. Absent fields are `None`.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct ExifSummary {
    /// Make and model.
    pub camera: Option<String>,
    /// Lens make and model.
    pub lens: Option<String>,
    /// Subject (focus) distance, with its unit.
    pub focus_distance: Option<String>,
    /// Focal length.
    pub focal_length: Option<String>,
    /// Aperture (f-number).
    pub aperture: Option<String>,
    /// Exposure time.
    pub exposure: Option<String>,
    /// ISO sensitivity.
    pub iso: Option<String>,
}

impl ExifSummary {
    /// Reads the summary from a JPEG, PNG or TIFF file; `None` when it has no EXIF.
    pub fn read(path: &Path) -> Option<Self> {
        let file = File::open(path).ok()?;
        let exif = exif::Reader::new().read_from_container(&mut BufReader::new(file)).ok()?;
        let text = |tag: Tag| -> Option<String> {
            let f = exif.get_field(tag, In::PRIMARY)?;
            let s = f.display_value().with_unit(&exif).to_string();
            let s = s.trim().trim_matches('"').trim().to_string();
            (!s.is_empty() && s != "unknown").then_some(s)
        };
        let join = |a: Option<String>, b: Option<String>| match (a, b) {
            (Some(a), Some(b)) if b.starts_with(&a) => Some(b),
            (Some(a), Some(b)) => Some(format!("{a} {b}")),
            (a, b) => a.or(b),
        };
        Some(Self {
            camera: join(text(Tag::Make), text(Tag::Model)),
            lens: join(text(Tag::LensMake), text(Tag::LensModel)),
            focus_distance: text(Tag::SubjectDistance),
            focal_length: text(Tag::FocalLength),
            aperture: text(Tag::FNumber),
            exposure: text(Tag::ExposureTime),
            iso: text(Tag::PhotographicSensitivity).map(|v| format!("ISO {v}")),
        })
    }

    /// "Canon EOS R5, RF 100mm, 100 mm, f/2.8, 1/100 s, ISO 100, focus 0.3 m".
    fn line(&self, with_camera: bool) -> String {
        let mut parts: Vec<String> = Vec::new();
        if with_camera {
            parts.extend(self.camera.clone());
            parts.extend(self.lens.clone());
        }
        parts.extend(self.focal_length.clone());
        parts.extend(self.aperture.clone());
        parts.extend(self.exposure.clone());
        parts.extend(self.iso.clone());
        parts.extend(self.focus_distance.as_ref().map(|d| format!("focus {d}")));
        parts.join(", ")
    }
}

/// One frame as `info` sees it.
#[derive(Debug, Serialize)]
struct FrameReport {
    path: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    layout: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channels: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bit_depth: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exif: Option<ExifSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<RawReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

/// What a camera RAW frame is before development (its size above is the developed
/// frame's: 16-bit RGB).
#[derive(Debug, Serialize)]
struct RawReport {
    camera: String,
    sensor_bits: u32,
    cfa_pattern: String,
    black_level: f32,
    white_level: f32,
    as_shot_white_balance: [f32; 3],
}

impl RawReport {
    #[cfg(feature = "raw")]
    fn read(path: &Path) -> Option<Self> {
        if !fs_core::raw::is_raw_path(path) {
            return None;
        }
        let d = fs_core::raw::describe(path).ok()?;
        Some(Self {
            camera: d.camera,
            sensor_bits: d.bits,
            cfa_pattern: d.pattern,
            black_level: d.black,
            white_level: d.white,
            as_shot_white_balance: d.as_shot,
        })
    }

    #[cfg(not(feature = "raw"))]
    fn read(_path: &Path) -> Option<Self> {
        None
    }

    /// "RAW RGGB 14-bit, black 512 white 16383, as-shot WB 2.10,1,1.60".
    fn line(&self) -> String {
        let [r, g, b] = self.as_shot_white_balance;
        format!(
            "RAW {} {}-bit, black {:.0} white {:.0}, as-shot WB {r:.2},{g:.2},{b:.2}",
            self.cfa_pattern, self.sensor_bits, self.black_level, self.white_level
        )
    }
}

/// `fstack info`.
pub fn run(ctx: &Context, args: InfoArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let inputs = inputs::resolve(&args.inputs)?;
    let float = match args.float_type {
        FloatTypeArg::F32 => FloatType::F32,
        FloatTypeArg::F64 => FloatType::F64,
    };
    let options = PyramidOptions {
        float_type: float,
        pyramid_min_size: args.pyramid_min_size,
        noise_guard: args.noise_guard,
        ..PyramidOptions::default()
    };
    if let Err(fs_pyramid::PyramidError::InvalidOption { name, reason }) = options.validate() {
        usage!("invalid value for --{}: {reason}", name.replace('_', "-"));
    }

    let mut first: Option<FrameInfo> = None;
    let mut problems = Vec::new();
    let mut frames = Vec::with_capacity(inputs.frames.len());
    for path in &inputs.frames {
        let mut r = FrameReport {
            path: path.clone(),
            width: None,
            height: None,
            layout: None,
            channels: None,
            bit_depth: None,
            exif: None,
            raw: None,
            problem: None,
        };
        match read_frame_info(path) {
            Ok(info) => {
                r.width = Some(info.width);
                r.height = Some(info.height);
                r.layout = Some(info.format.layout.name());
                r.channels = Some(info.format.layout.channels());
                r.bit_depth = Some(info.format.depth.bits());
                let expected = *first.get_or_insert(info);
                if info != expected {
                    let e = frame_mismatch(path, expected, info);
                    r.problem = Some(format!("differs: is {info}, the first frame is {expected}"));
                    problems.push(e.to_string());
                }
                r.exif = ExifSummary::read(path);
                r.raw = RawReport::read(path);
            }
            Err(e) => {
                r.problem = Some(e.to_string());
                problems.push(e.to_string());
            }
        }
        frames.push(r);
    }

    let estimate = first.map(|info| memory_estimate(info, &options, inputs.frames.len()));
    if ctx.global.json {
        let results = serde_json::json!({
            "frames": frames,
            "stackable": problems.is_empty(),
            "problems": problems,
            "default_stacker": fs_job::Stacker::default().name(),
            "memory_estimate_stacker": "PyramidStack",
            "memory_estimate_bytes": estimate,
        });
        Summary {
            fstack_version: env!("CARGO_PKG_VERSION"),
            command: "info",
            inputs: inputs.frames.clone(),
            outputs: Vec::new(),
            stacker: None,
            options: serde_json::json!({
                "float_type": format!("{float:?}"),
                "pyramid_min_size": args.pyramid_min_size,
                "noise_guard": args.noise_guard,
            }),
            frames: first.map(|info| FramesSummary::new(inputs.frames.len(), info)),
            timings: Timings { phases: Vec::new(), total_seconds: start.elapsed().as_secs_f64() },
            peak_memory_bytes: report::peak_memory_bytes(),
            results,
        }
        .print()?;
    } else if !ctx.global.quiet {
        print_text(&inputs, &frames, first, estimate, float);
    }
    match problems.as_slice() {
        [] => Ok(()),
        [one] => bail!("{one}"),
        [one, rest @ ..] => bail!("{one} (and {} more problems listed above)", rest.len()),
    }
}

fn print_text(
    inputs: &inputs::Inputs,
    frames: &[FrameReport],
    first: Option<FrameInfo>,
    estimate: Option<u64>,
    float: FloatType,
) {
    let n = frames.len();
    let shape = first.map(|i| format!(", {i}")).unwrap_or_default();
    let from =
        if inputs.from_folder { inputs.folder.display().to_string() } else { "files".into() };
    println!("{from}: {n} frame{}{shape}", if n == 1 { "" } else { "s" });

    // Camera and lens once when every frame agrees, per frame otherwise.
    let exifs: Vec<&ExifSummary> = frames.iter().filter_map(|f| f.exif.as_ref()).collect();
    let same_camera =
        exifs.windows(2).all(|w| w[0].camera == w[1].camera && w[0].lens == w[1].lens);
    if same_camera && let Some(e) = exifs.first() {
        let camera = [e.camera.clone(), e.lens.clone()].into_iter().flatten().collect::<Vec<_>>();
        if !camera.is_empty() {
            println!("camera: {}", camera.join(", "));
        }
    }
    let width = frames
        .iter()
        .map(|f| f.path.file_name().map(|s| s.to_string_lossy().chars().count()).unwrap_or(0))
        .max()
        .unwrap_or(0);
    for (i, f) in frames.iter().enumerate() {
        let name = f.path.file_name().map(|s| s.to_string_lossy()).unwrap_or_default();
        let mut line = format!("{:>4}  {name:<width$}", i + 1);
        if let (Some(w), Some(h), Some(l), Some(b)) = (f.width, f.height, f.layout, f.bit_depth) {
            line += &format!("  {w}x{h} {l} {b}-bit");
        }
        if let Some(raw) = &f.raw {
            line += &format!(" ({})", raw.line());
        }
        match &f.exif {
            Some(e) => {
                let s = e.line(!same_camera);
                if !s.is_empty() {
                    line += &format!("  {s}");
                }
            }
            None if f.problem.is_none() => line += "  (no EXIF)",
            None => {}
        }
        if let Some(p) = &f.problem {
            line += &format!("  PROBLEM: {p}");
        }
        println!("{line}");
    }
    println!(
        "stacker: `fstack stack` uses {} by default (--stacker chooses another)",
        fs_job::Stacker::default().name()
    );
    if let Some(bytes) = estimate {
        println!(
            "memory: the in-memory pyramid stacker (PyramidStack, {float:?}; --stacker \
             pyramid) needs about {}",
            human_bytes(bytes)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exif_line_lists_what_is_present() {
        let e = ExifSummary {
            camera: Some("Canon EOS R5".into()),
            lens: None,
            focus_distance: Some("0.3 m".into()),
            focal_length: None,
            aperture: Some("f/2.8".into()),
            exposure: None,
            iso: Some("ISO 100".into()),
        };
        assert_eq!(e.line(true), "Canon EOS R5, f/2.8, ISO 100, focus 0.3 m");
        assert_eq!(e.line(false), "f/2.8, ISO 100, focus 0.3 m");
        assert_eq!(ExifSummary::default().line(true), "");
    }
}
