//! The batch log: one JSON object a line, one line per stack per run, appended.
//!
//! Each line is written with one `write` call on a file opened for appending and
//! flushed at once, so lines of stacks that ended stay when the run is killed, and
//! two runs appending to one log (shards on one shared folder) do not interleave
//! within a line.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::StackOutcome;
use crate::{JobError, Result};

/// The log's file name in the output folder (what `fstack batch` writes).
pub const LOG_FILE: &str = "fstack-batch.jsonl";

/// An open log.
#[derive(Debug)]
pub(crate) struct BatchLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl BatchLog {
    /// Opens (creating) the log at `path` for appending; its folder is created too.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| JobError::io(parent, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| JobError::io(path, e))?;
        Ok(Self { path: path.to_path_buf(), file: Mutex::new(file) })
    }

    /// Appends the line of one stack.
    pub(crate) fn write(&self, result: &StackOutcome) -> Result<()> {
        let mut line = serde_json::to_string(&result.to_json()).expect("a JSON value serialises");
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(line.as_bytes())
            .and_then(|()| file.flush())
            .map_err(|e| JobError::io(&self.path, e))
    }
}

/// `time` as an RFC 3339 UTC timestamp with milliseconds: `2026-01-01T12:00:00.000Z`.
pub fn timestamp(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// The date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_rfc3339() {
        let t = |s: u64, ms: u64| timestamp(UNIX_EPOCH + Duration::from_millis(s * 1000 + ms));
        assert_eq!(t(0, 0), "1970-01-01T00:00:00.000Z");
        // 2026-01-01 12:00:05 is day 20454.
        assert_eq!(t(20_454 * 86_400 + 12 * 3600 + 5, 42), "2026-01-01T12:00:05.042Z");
        assert_eq!(t(951_782_400, 0), "2000-02-29T00:00:00.000Z");
    }
}
