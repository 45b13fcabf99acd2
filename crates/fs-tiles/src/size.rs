//! Byte sizes as users write them (`512M`, `8G`, `1.5GiB`, `1048576`) and back.

use crate::{Result, TilesError};

/// Parses a byte count: an integer, or a number with a binary unit `K`, `M`, `G`,
/// `T` (each also as `KB`/`KiB`, case-insensitive, optional space; 1K = 1024).
/// Fractions are allowed with a unit and rounded to the nearest byte.
///
/// ```
/// assert_eq!(fs_tiles::parse_byte_size("512M").unwrap(), 512 << 20);
/// assert_eq!(fs_tiles::parse_byte_size("1.5 GiB").unwrap(), 3 << 29);
/// assert!(fs_tiles::parse_byte_size("8 parsecs").is_err());
/// ```
pub fn parse_byte_size(text: &str) -> Result<u64> {
    let bad = |reason| TilesError::ByteSize { text: text.to_string(), reason };
    let t = text.trim();
    if t.starts_with('-') {
        return Err(bad("negative; give a size of 0 or more"));
    }
    let split = number_end(t);
    let (number, unit) = t.split_at(split);
    if number.is_empty() {
        return Err(bad("no number"));
    }
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(bad("unknown unit (use K, M, G or T)")),
    };
    if shift == 0 && number.bytes().all(|b| b.is_ascii_digit()) {
        return number.parse::<u64>().map_err(|_| bad("too large"));
    }
    let value: f64 = number.parse().map_err(|_| bad("not a number"))?;
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(bad("too large"));
    }
    if shift == 0 && bytes.fract() != 0.0 {
        return Err(bad("not a whole number of bytes"));
    }
    Ok(bytes.round() as u64)
}

/// Where the number of `t` ends: digits and points, then an exponent (`1e9`,
/// `2.5E+3`) when one follows.
fn number_end(t: &str) -> usize {
    let b = t.as_bytes();
    let mut i = b.iter().take_while(|c| c.is_ascii_digit() || **c == b'.').count();
    if i > 0 && matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let digits = b[j.min(b.len())..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 {
            i = j + digits;
        }
    }
    i
}

/// A byte count for messages: `512.0 MiB`, `1.50 GiB`, `800 B`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [(u32, &str); 4] = [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")];
    for (shift, unit) in UNITS {
        if bytes >= 1 << shift {
            let v = bytes as f64 / (1u64 << shift) as f64;
            return if v < 10.0 { format!("{v:.2} {unit}") } else { format!("{v:.1} {unit}") };
        }
    }
    format!("{bytes} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_byte_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_byte_size("8G").unwrap(), 8 << 30);
        assert_eq!(parse_byte_size(" 8 gib ").unwrap(), 8 << 30);
        assert_eq!(parse_byte_size("2KB").unwrap(), 2048);
        assert_eq!(parse_byte_size("1T").unwrap(), 1 << 40);
        assert_eq!(parse_byte_size("1048576").unwrap(), 1 << 20);
        assert_eq!(parse_byte_size("0.5K").unwrap(), 512);
    }

    #[test]
    fn bad_sizes_say_why() {
        let e = parse_byte_size("12 parsecs").unwrap_err().to_string();
        assert_eq!(
            e,
            "`12 parsecs` is not a size (examples: 512M, 8G, 1.5GiB, 1048576): \
             unknown unit (use K, M, G or T)"
        );
        assert!(parse_byte_size("").unwrap_err().to_string().contains("no number"));
        assert!(parse_byte_size("1.5").unwrap_err().to_string().contains("whole number"));
        assert!(parse_byte_size("1.2.3G").unwrap_err().to_string().contains("not a number"));
        assert!(parse_byte_size("99999999999T").unwrap_err().to_string().contains("too large"));
        // Exponents are numbers, not units; negative sizes say so.
        let reason = |t: &str| parse_byte_size(t).unwrap_err().to_string();
        assert!(reason("1e30").ends_with(": too large"), "{}", reason("1e30"));
        assert!(reason("1e400G").ends_with(": too large"), "{}", reason("1e400G"));
        assert!(reason("99999999999999999999").ends_with(": too large"));
        assert!(reason("-5M").ends_with(": negative; give a size of 0 or more"));
        assert!(reason("1.5e0").ends_with("not a whole number of bytes"));
        assert_eq!(parse_byte_size("1e6").unwrap(), 1_000_000);
        assert_eq!(parse_byte_size("2e3K").unwrap(), 2000 << 10);
    }

    #[test]
    fn bytes_format_readably() {
        assert_eq!(format_bytes(800), "800 B");
        assert_eq!(format_bytes(512 << 20), "512.0 MiB");
        assert_eq!(format_bytes(3 << 29), "1.50 GiB");
    }
}
