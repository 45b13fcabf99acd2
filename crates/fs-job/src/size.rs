//! Byte sizes as users write them: `512M`, `8G`, `8GiB`, `1.5G`, `1048576`.

use std::fmt;
use std::str::FromStr;

/// A number of bytes, parsed from an integer or a string with a binary unit
/// (`K`, `M`, `G`, `T`, each also as `KB`/`KiB`..., case-insensitive; 1K = 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    /// The rules of [`fs_tiles::parse_byte_size`] (one parser for all of fstack).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        fs_tiles::parse_byte_size(s).map(ByteSize).map_err(|e| e.to_string())
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (shift, unit) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] {
            if self.0 >= 1 << shift && self.0.is_multiple_of(1 << shift) {
                return write!(f, "{}{unit}", self.0 >> shift);
            }
        }
        write!(f, "{}", self.0)
    }
}

impl<'de> serde::Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size in bytes, or a string such as \"512M\" or \"8G\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v).map(ByteSize).map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!("512M".parse(), Ok(ByteSize(512 << 20)));
        assert_eq!("8G".parse(), Ok(ByteSize(8 << 30)));
        assert_eq!("8 GiB".parse(), Ok(ByteSize(8 << 30)));
        assert_eq!("1.5g".parse(), Ok(ByteSize(3 << 29)));
        assert_eq!("4096".parse(), Ok(ByteSize(4096)));
        assert_eq!("2kb".parse(), Ok(ByteSize(2048)));
        assert!("".parse::<ByteSize>().is_err());
        assert!("M".parse::<ByteSize>().is_err());
        assert!("12Q".parse::<ByteSize>().is_err());
        assert!("1.2.3G".parse::<ByteSize>().is_err());
        assert!("99999999999T".parse::<ByteSize>().is_err());
        assert_eq!(ByteSize(8 << 30).to_string(), "8G");
        assert_eq!(ByteSize(1000).to_string(), "1000");
    }
}
