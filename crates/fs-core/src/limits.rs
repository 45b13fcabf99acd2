//! How large a frame fstack agrees to decode, checked from the header before the
//! samples are allocated: a corrupt or hostile header claiming 100000x100000 pixels
//! gets a clear error naming the file instead of an aborted process.
//!
//! Two bounds: a megapixel limit ([`DEFAULT_MAX_MEGAPIXELS`], 1000 MP, far above any
//! camera or stitched microscope frame stacked in memory today; the CLI's
//! `--max-megapixels` changes it for the process) and the memory the machine can give:
//! the decoded samples (width x height x channels x bytes per sample) must fit in the
//! available memory (Linux: `MemAvailable` plus free swap) and under the address-space
//! limit (`ulimit -v`). Decoding needs at least those bytes, so a frame that does not
//! fit could never be read.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{CoreError, Result};

/// The default megapixel limit: 1000 MP (e.g. 40000x25000 pixels).
pub const DEFAULT_MAX_MEGAPIXELS: u64 = 1000;

static MAX_MEGAPIXELS: AtomicU64 = AtomicU64::new(DEFAULT_MAX_MEGAPIXELS);

/// Sets the megapixel limit of every later decode in this process (at least 1).
pub fn set_max_megapixels(megapixels: u64) {
    MAX_MEGAPIXELS.store(megapixels.max(1), Ordering::Relaxed);
}

/// The megapixel limit in force.
pub fn max_megapixels() -> u64 {
    MAX_MEGAPIXELS.load(Ordering::Relaxed)
}

/// Refuses a frame whose header claims more than the limits allow (see the module
/// docs), before anything is allocated for it.
pub(crate) fn check_decoded_size(
    path: &Path,
    width: u64,
    height: u64,
    channels: u64,
    bytes_per_sample: u64,
) -> Result<()> {
    let too_large = |limit: String| CoreError::TooLarge {
        path: path.into(),
        width,
        height,
        bytes: width.saturating_mul(height).saturating_mul(channels * bytes_per_sample),
        limit,
    };
    let pixels = width.saturating_mul(height);
    let max = max_megapixels();
    if pixels > max.saturating_mul(1_000_000) {
        return Err(too_large(format!(
            "the {max}-megapixel limit (raise it with --max-megapixels if the file is real)"
        )));
    }
    let bytes = pixels.saturating_mul(channels * bytes_per_sample);
    if let Some(free) = available_memory()
        && bytes > free
    {
        return Err(too_large(format!(
            "the memory available ({:.1} GiB)",
            free as f64 / (1u64 << 30) as f64
        )));
    }
    Ok(())
}

/// The bytes this process could still allocate, when the system says.
fn available_memory() -> Option<u64> {
    let mut free = system_available();
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit writes into the struct we pass.
        let ok = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } == 0;
        if ok && limit.rlim_cur != libc::RLIM_INFINITY {
            // rlim_t is u64 here, narrower or signed elsewhere.
            #[allow(clippy::useless_conversion)]
            let cap = u64::try_from(limit.rlim_cur).unwrap_or(u64::MAX);
            free = Some(free.map_or(cap, |f| f.min(cap)));
        }
    }
    free
}

/// `MemAvailable` plus `SwapFree` from `/proc/meminfo` (Linux).
fn system_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line[name.len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kib * 1024)
    };
    Some(field("MemAvailable:")? + field("SwapFree:").unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_beyond_the_limits_are_refused_with_the_file_and_the_size() {
        let path = Path::new("huge.tif");
        let e = check_decoded_size(path, 100_000, 100_000, 3, 1).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("huge.tif: the header claims 100000x100000 pixels"), "{text}");
        assert!(text.contains("10000 megapixels, 27.9 GiB decoded"), "{text}");
        assert!(text.contains("the 1000-megapixel limit"), "{text}");
        // Under the pixel limit but beyond any machine's memory (1000 MP x 4 x 2 bytes
        // is 8 GB, fine; u32::MAX x 1 is under the pixel limit only if raised).
        check_decoded_size(path, 4000, 3000, 3, 2).unwrap();
        let e = check_decoded_size(path, u64::from(u32::MAX), u64::from(u32::MAX), 4, 2);
        assert!(matches!(e, Err(CoreError::TooLarge { .. })));
    }
}
