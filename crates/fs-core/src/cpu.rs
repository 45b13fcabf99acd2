//! The CPU level that SIMD kernels dispatch on, detected once.
//!
//! Like rav1e's `RAV1E_CPU_TARGET`: [`CpuLevel::detected`] is the highest level the
//! CPU supports, capped by the environment variable `FSTACK_CPU_TARGET`
//! (`scalar`, `avx2` or `avx512`, case-insensitive), read once per process. A cap
//! above what the CPU supports gives the CPU's level (never an instruction the CPU
//! lacks). An unknown value is reported once on stderr, naming the variable and the
//! accepted values, and ignored (the CPU's level is used): a typo must not make a
//! run fail, and the result is the same bits at every level anyway.
//!
//! Kernels take the level as an argument (`..._at(level, ..)`) so tests can run
//! every level the machine supports against the scalar reference, without the
//! process-global variable.

use std::sync::OnceLock;

/// A CPU feature level, ordered: each level includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CpuLevel {
    /// Baseline code only (the reference).
    Scalar,
    /// x86-64 AVX2.
    Avx2,
    /// x86-64 AVX-512F (with AVX2).
    Avx512,
}

/// The environment variable that caps the level.
pub const CPU_TARGET_VAR: &str = "FSTACK_CPU_TARGET";

impl CpuLevel {
    /// Every level, lowest first.
    pub const ALL: [CpuLevel; 3] = [CpuLevel::Scalar, CpuLevel::Avx2, CpuLevel::Avx512];

    /// The level's name as `FSTACK_CPU_TARGET` spells it.
    pub fn name(self) -> &'static str {
        match self {
            CpuLevel::Scalar => "scalar",
            CpuLevel::Avx2 => "avx2",
            CpuLevel::Avx512 => "avx512",
        }
    }

    /// Parses a level name (case-insensitive); `None` if unknown.
    pub fn parse(s: &str) -> Option<CpuLevel> {
        CpuLevel::ALL.into_iter().find(|l| l.name().eq_ignore_ascii_case(s.trim()))
    }

    /// The highest level this CPU supports, ignoring `FSTACK_CPU_TARGET`.
    pub fn native() -> CpuLevel {
        static NATIVE: OnceLock<CpuLevel> = OnceLock::new();
        *NATIVE.get_or_init(native_uncached)
    }

    /// Whether this CPU can run code built for the level.
    pub fn supported(self) -> bool {
        self <= CpuLevel::native()
    }

    /// The level kernels use by default: [`CpuLevel::native`] capped by
    /// `FSTACK_CPU_TARGET` (see the module docs), decided once per process.
    pub fn detected() -> CpuLevel {
        static DETECTED: OnceLock<CpuLevel> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            let native = CpuLevel::native();
            match std::env::var(CPU_TARGET_VAR) {
                Ok(v) => match CpuLevel::parse(&v) {
                    Some(cap) => cap.min(native),
                    None => {
                        eprintln!(
                            "warning: {CPU_TARGET_VAR}={v:?} is not one of scalar, avx2, \
                             avx512; using {}",
                            native.name()
                        );
                        native
                    }
                },
                Err(_) => native,
            }
        })
    }

    /// The levels this CPU supports, lowest first (always starts with `Scalar`):
    /// what a test of every level runs.
    pub fn all_supported() -> Vec<CpuLevel> {
        CpuLevel::ALL.into_iter().filter(|l| l.supported()).collect()
    }
}

#[cfg(target_arch = "x86_64")]
fn native_uncached() -> CpuLevel {
    if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx2")
    {
        CpuLevel::Avx512
    } else if std::arch::is_x86_feature_detected!("avx2") {
        CpuLevel::Avx2
    } else {
        CpuLevel::Scalar
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn native_uncached() -> CpuLevel {
    CpuLevel::Scalar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_and_named() {
        assert!(CpuLevel::Scalar < CpuLevel::Avx2 && CpuLevel::Avx2 < CpuLevel::Avx512);
        for l in CpuLevel::ALL {
            assert_eq!(CpuLevel::parse(l.name()), Some(l));
        }
        assert_eq!(CpuLevel::parse(" AVX2 "), Some(CpuLevel::Avx2));
        assert_eq!(CpuLevel::parse("sse9"), None);
        assert!(CpuLevel::Scalar.supported());
        assert!(CpuLevel::detected() <= CpuLevel::native());
        assert_eq!(CpuLevel::all_supported()[0], CpuLevel::Scalar);
    }
}
