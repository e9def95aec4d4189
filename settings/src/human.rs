//! Durations, byte sizes and addresses as people write them, in flags and in the config file: `10s`,
//! `256MiB`, `0.0.0.0:8080`. Library settings structs keep plain `u64`, `Duration` and `SocketAddr` fields
//! and read and write them in these forms with `#[serde(with = "marquee_settings::human::bytes")]` and its
//! siblings.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A duration in humantime's syntax: `10s`, `500ms`, `1m 30s`, `2h`. A bare number is refused: `10` would be
/// seconds to one reader and milliseconds to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl FromStr for HumanDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        humantime::parse_duration(s.trim())
            .map(Self)
            .map_err(|e| format!("{s:?} is not a duration ({e}); write e.g. \"10s\", \"500ms\" or \"1m 30s\""))
    }
}

/// Writes what [`FromStr`] reads back exactly: `10s`, `1m 30s`, `500ms`.
impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Whole days as days: humantime counts a month as 30.44 days, so 90 days would read
        // "2months 29days 2h 52m 48s".
        const DAY: u64 = 24 * 60 * 60;
        let seconds = self.0.as_secs();
        if self.0.subsec_nanos() == 0 && seconds >= DAY && seconds.is_multiple_of(DAY) {
            let days = seconds / DAY;
            return write!(f, "{days}{}", if days == 1 { "day" } else { "days" });
        }
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;

        impl Visitor<'_> for DurationVisitor {
            type Value = HumanDuration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration with a unit, such as \"10s\"")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<HumanDuration, E> {
                s.parse().map_err(E::custom)
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<HumanDuration, E> {
                Err(E::custom(format!("{n} has no unit; write a string such as \"{n}s\" or \"{n}ms\"")))
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<HumanDuration, E> {
                Err(E::custom(format!("{n} has no unit; write a string such as \"{n}s\" or \"{n}ms\"")))
            }
        }

        deserializer.deserialize_any(DurationVisitor)
    }
}

/// A number of bytes: a whole number, or a number and a unit (`16KiB`, `256MiB`, `1.5GiB`: powers of 1024;
/// `500KB`, `2MB`, `1GB`: powers of 1000). Parsing is `bytesize`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanBytes(pub u64);

impl HumanBytes {
    /// The size as a `usize` (every size fits on a 64-bit host).
    pub fn as_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

impl FromStr for HumanBytes {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        s.trim()
            .parse::<bytesize::ByteSize>()
            .map(|size| Self(size.as_u64()))
            .map_err(|e| format!("{s:?} is not a size ({e}); write a number of bytes or e.g. \"256MiB\""))
    }
}

/// Writes the size exactly, in the largest binary unit that divides it (`256MiB`, `16KiB`), else in bytes, so
/// the text reads back as the same number (bytesize's own `Display` rounds to one decimal).
impl fmt::Display for HumanBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 4] = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
        match UNITS.iter().find(|(factor, _)| self.0 != 0 && self.0.is_multiple_of(*factor)) {
            Some((factor, unit)) => write!(f, "{}{unit}", self.0 / factor),
            None => write!(f, "{}", self.0),
        }
    }
}

impl<'de> Deserialize<'de> for HumanBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytesVisitor;

        impl Visitor<'_> for BytesVisitor {
            type Value = HumanBytes;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of bytes or a size such as \"256MiB\"")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<HumanBytes, E> {
                s.parse().map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<HumanBytes, E> {
                Ok(HumanBytes(n))
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<HumanBytes, E> {
                u64::try_from(n).map(HumanBytes).map_err(|_| E::custom(format!("{n}: a size cannot be negative")))
            }
        }

        deserializer.deserialize_any(BytesVisitor)
    }
}

/// `#[serde(with = "marquee_settings::human::socket_address")]`: an IP address and port, with a message that
/// says what one looks like.
pub mod socket_address {
    use super::*;

    pub fn serialize<S: Serializer>(addr: &SocketAddr, serializer: S) -> Result<S::Ok, S::Error> {
        addr.to_string().serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(|_| {
            de::Error::custom(format!(
                "{text:?} is not an IP address and port; write e.g. \"0.0.0.0:8080\", \"127.0.0.1:0\" or \"[::]:8080\""
            ))
        })
    }
}

/// `#[serde(with = "marquee_settings::human::duration")]`: a [`Duration`] written as a [`HumanDuration`].
pub mod duration {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        HumanDuration(*d).to_string().serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        HumanDuration::deserialize(deserializer).map(|d| d.0)
    }
}

/// `#[serde(with = "marquee_settings::human::bytes")]`: a `u64` byte count written as a [`HumanBytes`]: a
/// string with a unit when one divides it (`"256MiB"`), else a bare number.
pub mod bytes {
    use super::*;

    pub fn serialize<S: Serializer>(n: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        if *n != 0 && n.is_multiple_of(1024) {
            HumanBytes(*n).to_string().serialize(serializer)
        } else {
            n.serialize(serializer)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        HumanBytes::deserialize(deserializer).map(|b| b.0)
    }
}

/// [`bytes`] for a `usize`.
pub mod bytes_usize {
    use super::*;

    pub fn serialize<S: Serializer>(n: &usize, serializer: S) -> Result<S::Ok, S::Error> {
        bytes::serialize(&(*n as u64), serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
        HumanBytes::deserialize(deserializer).map(HumanBytes::as_usize)
    }
}

/// [`bytes`] for an `Option<u64>`; use with `default` and `skip_serializing_if = "Option::is_none"`.
pub mod bytes_option {
    use super::*;

    pub fn serialize<S: Serializer>(n: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
        match n {
            Some(n) => bytes::serialize(n, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
        HumanBytes::deserialize(deserializer).map(|b| Some(b.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_back_as_written() {
        for bytes in [0, 1, 1000, 1024, 16 * 1024, 256 * 1024 * 1024, 1 << 30, (1 << 30) + 1, 3 << 40, u64::MAX] {
            let text = HumanBytes(bytes).to_string();
            assert_eq!(text.parse::<HumanBytes>(), Ok(HumanBytes(bytes)), "{text}");
        }
        assert_eq!(HumanBytes(256 * 1024 * 1024).to_string(), "256MiB");
        assert_eq!(HumanBytes(1000).to_string(), "1000");
    }

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        let parse = |s: &str| s.parse::<HumanBytes>().map(|b| b.0);
        assert_eq!(parse("256MiB"), Ok(256 << 20));
        assert_eq!(parse("256 MiB"), Ok(256 << 20));
        assert_eq!(parse("1.5KiB"), Ok(1536));
        assert_eq!(parse("2MB"), Ok(2_000_000));
        assert_eq!(parse("4096"), Ok(4096));
        assert!(parse("12 parsecs").unwrap_err().contains("\"12 parsecs\" is not a size"));
        assert!(parse("-1").is_err());
    }

    #[test]
    fn durations_need_a_unit() {
        assert_eq!("10s".parse(), Ok(HumanDuration(Duration::from_secs(10))));
        assert_eq!("1m 30s".parse(), Ok(HumanDuration(Duration::from_secs(90))));
        assert_eq!(HumanDuration(Duration::from_millis(1500)).to_string(), "1s 500ms");
        // Whole days stay days (humantime would write 90 days as 2 months of 30.44 days and the rest).
        for (days, text) in [(1, "1day"), (30, "30days"), (90, "90days"), (366, "366days")] {
            let duration = HumanDuration(Duration::from_secs(days * 86_400));
            assert_eq!(duration.to_string(), text);
            assert_eq!(text.parse(), Ok(duration));
        }
        assert_eq!(HumanDuration(Duration::from_secs(86_400 + 1)).to_string(), "1day 1s");
        assert!("10".parse::<HumanDuration>().is_err());
        assert!("10x".parse::<HumanDuration>().unwrap_err().contains("\"10x\" is not a duration"));
    }

    #[derive(Debug, Deserialize)]
    struct Probe {
        d: Option<HumanDuration>,
        b: Option<HumanBytes>,
    }

    #[test]
    fn toml_values_deserialize_with_clear_errors() {
        let probe: Probe = toml::from_str("d = \"250ms\"\nb = 65536").unwrap();
        assert_eq!((probe.d, probe.b), (Some(HumanDuration(Duration::from_millis(250))), Some(HumanBytes(65536))));
        let probe: Probe = toml::from_str("b = \"8MiB\"").unwrap();
        assert_eq!(probe.b, Some(HumanBytes(8 << 20)));
        let e = toml::from_str::<Probe>("d = 10").unwrap_err();
        assert!(e.message().contains("10 has no unit"), "{e}");
        let e = toml::from_str::<Probe>("b = -5").unwrap_err();
        assert!(e.message().contains("cannot be negative"), "{e}");
    }
}
