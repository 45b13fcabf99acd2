//! When a frame was taken, from its EXIF block: what splits one long capture folder
//! into stacks (`fstack batch --split-gap`).
//!
//! Only the EXIF block is read (no pixels are decoded). The time is
//! `DateTimeOriginal` (with `SubSecTimeOriginal` and `OffsetTimeOriginal` when
//! present), else `DateTime` (with `SubSecTime` and `OffsetTime`). A time without a
//! zone offset is taken as it stands: frames of one capture come from one camera
//! clock, and only differences between them matter.

use std::io::BufReader;
use std::path::Path;

use exif::{In, Tag, Value};

use crate::{CoreError, Result};

/// A frame's capture time.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureTime {
    /// Seconds since 1970-01-01 00:00:00 of the camera's clock (UTC when the file
    /// records its zone offset), sub-seconds included.
    pub seconds: f64,
    /// The EXIF text the time was read from, e.g. `2026:01:01 12:00:05`.
    pub text: String,
}

/// The capture time of the frame file at `path`, `None` when its EXIF block holds
/// no (readable) date: see the module docs. A file that cannot be opened is an
/// error; a file without EXIF is not.
pub fn read_capture_time(path: &Path) -> Result<Option<CaptureTime>> {
    let file = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
    let exif = match exif::Reader::new().read_from_container(&mut BufReader::new(file)) {
        Ok(exif) => exif,
        Err(exif::Error::Io(e)) => return Err(CoreError::io(path, e)),
        Err(_) => return Ok(None),
    };
    let ascii = |tag| match exif.get_field(tag, In::PRIMARY).map(|f| &f.value) {
        Some(Value::Ascii(v)) => v.first().cloned(),
        _ => None,
    };
    let tags = [
        (Tag::DateTimeOriginal, Tag::SubSecTimeOriginal, Tag::OffsetTimeOriginal),
        (Tag::DateTime, Tag::SubSecTime, Tag::OffsetTime),
    ];
    for (date, subsec, offset) in tags {
        let Some(text) = ascii(date) else { continue };
        let Ok(mut time) = exif::DateTime::from_ascii(&text) else { continue };
        if let Some(s) = ascii(subsec) {
            let _ = time.parse_subsec(&s);
        }
        if let Some(o) = ascii(offset) {
            let _ = time.parse_offset(&o);
        }
        let days = days_from_civil(time.year.into(), time.month.into(), time.day.into());
        let clock = i64::from(time.hour) * 3600 + i64::from(time.minute) * 60;
        let zone = i64::from(time.offset.unwrap_or(0)) * 60;
        let whole = days * 86_400 + clock + i64::from(time.second) - zone;
        let seconds = whole as f64 + f64::from(time.nanosecond.unwrap_or(0)) * 1e-9;
        let text = String::from_utf8_lossy(&text).into_owned();
        return Ok(Some(CaptureTime { seconds, text }));
    }
    Ok(None)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard
/// Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{SynthOptions, SynthStack};
    use crate::{FileFormat, WriteOptions};

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 1, 1), 20_454);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }

    #[test]
    fn generated_frames_are_one_second_apart_and_a_plain_frame_has_no_time() {
        let dir = tempfile::tempdir().unwrap();
        let options = SynthOptions { width: 32, height: 24, frames: 3, ..SynthOptions::default() };
        let stack = SynthStack::new(options).unwrap();
        for format in [FileFormat::Jpeg, FileFormat::Png, FileFormat::Tiff] {
            let sub = dir.path().join(format.extension());
            std::fs::create_dir(&sub).unwrap();
            let files = stack.write_stack(&sub, format, &WriteOptions::default()).unwrap().frames;
            let times: Vec<CaptureTime> =
                files.iter().map(|f| read_capture_time(f).unwrap().unwrap()).collect();
            assert_eq!(times[0].text, "2026:01:01 12:00:00", "{format:?}");
            assert_eq!(times[0].seconds, (20_454 * 86_400 + 12 * 3600) as f64);
            assert_eq!(times[2].seconds - times[0].seconds, 2.0, "{format:?}");
        }
        let plain = dir.path().join("plain.png");
        let mut frame = stack.truth();
        frame.metadata = crate::Metadata::default();
        crate::write_frame(&plain, &frame, &WriteOptions::default()).unwrap();
        assert_eq!(read_capture_time(&plain).unwrap(), None);
        assert!(read_capture_time(&dir.path().join("missing.jpg")).is_err());
    }
}
