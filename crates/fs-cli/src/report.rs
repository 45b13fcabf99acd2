//! What a command reports: the `--json` summary, peak memory, byte sizes, output
//! permissions.

use std::path::PathBuf;

use fs_core::FrameInfo;
use serde::Serialize;

use crate::progress::PhaseTiming;

/// The machine-readable summary `--json` prints on stdout.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// fstack's version.
    pub fstack_version: &'static str,
    /// The command: "stack", "run", "demo", "info".
    pub command: &'static str,
    /// The input frames (or the job file), in the order used.
    pub inputs: Vec<PathBuf>,
    /// The files written (the stacked image; bunch outputs; a job's outputs).
    pub outputs: Vec<PathBuf>,
    /// The stacker used, by the seed's name (e.g. "PyramidStack").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stacker: Option<String>,
    /// Every option in effect, by the seed's names, defaults included.
    pub options: serde_json::Value,
    /// Size and format of the frames.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<FramesSummary>,
    /// Time per phase and in total.
    pub timings: Timings,
    /// Peak resident memory of the process in bytes (getrusage ru_maxrss).
    pub peak_memory_bytes: u64,
    /// Command-specific results (demo: PSNR values; info: per-frame details).
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub results: serde_json::Value,
}

/// Size and format of the frames of a stack.
#[derive(Debug, Serialize)]
pub struct FramesSummary {
    /// Number of frames.
    pub count: usize,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Channel count.
    pub channels: usize,
    /// "gray", "gray+alpha", "RGB", "RGBA".
    pub layout: &'static str,
    /// 8 or 16.
    pub bit_depth: u32,
}

impl FramesSummary {
    /// From the stack's shape.
    pub fn new(count: usize, info: FrameInfo) -> Self {
        Self {
            count,
            width: info.width,
            height: info.height,
            channels: info.format.layout.channels(),
            layout: info.format.layout.name(),
            bit_depth: info.format.depth.bits(),
        }
    }
}

/// Phase timings.
#[derive(Debug, Serialize)]
pub struct Timings {
    /// Each phase the library reported, in order.
    pub phases: Vec<PhaseTiming>,
    /// Wall time of the whole command in seconds.
    pub total_seconds: f64,
}

impl Summary {
    /// Prints the summary as pretty JSON on stdout.
    pub fn print(&self) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        println!("{text}");
        Ok(())
    }
}

/// Peak resident set size of this process in bytes, 0 if unknown.
pub fn peak_memory_bytes() -> u64 {
    // SAFETY: getrusage only writes into the zeroed struct we pass; RUSAGE_SELF is valid.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return 0;
        }
        usage
    };
    let max = usage.ru_maxrss.max(0) as u64;
    // Linux reports KiB, macOS bytes.
    if cfg!(target_os = "macos") { max } else { max * 1024 }
}

/// "1.5 GiB", "320 MiB", "12 KiB", "100 B".
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 { format!("{bytes} B") } else { format!("{v:.1} {}", UNITS[i]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well_and_peak_memory_is_known() {
        assert_eq!(human_bytes(100), "100 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
        // This test process has touched at least a megabyte.
        assert!(peak_memory_bytes() > 1 << 20);
    }
}
