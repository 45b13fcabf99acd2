//! Image headers under attack: a deterministic (seeded) mutation fuzzer over small
//! valid JPEG, PNG and TIFF files, run through the two readers `fstack` uses
//! ([`read_frame_info`] for the up-front check of a stack, [`read_frame`] for the
//! pixels). Stable Rust, bounded (a few thousand cases, seconds in a debug build), in
//! the normal suite.
//!
//! Each case is one damaged file: the size fields of the header set to hostile values
//! (0, 1x65535, 100000x100000, 2^31, u32::MAX; for PNG with the chunk checksum fixed
//! so the decoder believes them), truncation at many offsets, and random bytes
//! overwritten in the header and anywhere. What must hold for every case:
//! - no panic (a panic is caught and reported with the case; an abort from a huge
//!   allocation would end the test binary, which is why every claimed size goes
//!   through the size check first);
//! - an error names the file;
//! - a frame that does decode has the size its header claims: the cheap header read
//!   and the full read agree, and the samples fill that size exactly.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use fs_core::{
    BitDepth, ChannelLayout, CoreError, Samples, WriteOptions, read_frame, read_frame_info,
    write_frame,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{fmt, noise_frame, smooth_frame};

/// The files to damage: every container and both depths it supports.
fn seeds(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let cases = [
        ("jpg", ChannelLayout::Rgb, BitDepth::Eight),
        ("jpg", ChannelLayout::Gray, BitDepth::Eight),
        ("png", ChannelLayout::Rgb, BitDepth::Eight),
        ("png", ChannelLayout::GrayAlpha, BitDepth::Sixteen),
        ("tif", ChannelLayout::Rgb, BitDepth::Eight),
        ("tif", ChannelLayout::Rgba, BitDepth::Sixteen),
        ("tif", ChannelLayout::Gray, BitDepth::Sixteen),
    ];
    cases
        .iter()
        .enumerate()
        .map(|(i, &(ext, layout, depth))| {
            let path = dir.join(format!("seed{i}.{ext}"));
            let frame = if ext == "jpg" {
                smooth_frame(40, 24, fmt(layout, depth))
            } else {
                noise_frame(40, 24, fmt(layout, depth), i as u64)
            };
            write_frame(&path, &frame, &WriteOptions::default()).unwrap();
            (ext.to_string(), std::fs::read(&path).unwrap())
        })
        .collect()
}

/// The CRC-32 of PNG chunks (bitwise; test code, a few bytes at a time).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Sets the size a file's header claims, keeping the rest of the file valid.
fn claim_size(ext: &str, bytes: &mut [u8], width: u32, height: u32) {
    match ext {
        "png" => {
            // Signature (8), IHDR length (4), "IHDR" (4), width, height, ..., CRC.
            bytes[16..20].copy_from_slice(&width.to_be_bytes());
            bytes[20..24].copy_from_slice(&height.to_be_bytes());
            let crc = crc32(&bytes[12..29]);
            bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        }
        "jpg" => {
            // The frame header: FF C0..C2, length (2), precision (1), height (2), width (2).
            let at = (2..bytes.len() - 9)
                .find(|&i| bytes[i] == 0xFF && (0xC0..=0xC2).contains(&bytes[i + 1]))
                .expect("a frame header");
            let (w, h) = (width.min(u16::MAX.into()) as u16, height.min(u16::MAX.into()) as u16);
            bytes[at + 5..at + 7].copy_from_slice(&h.to_be_bytes());
            bytes[at + 7..at + 9].copy_from_slice(&w.to_be_bytes());
        }
        "tif" => {
            assert_eq!(&bytes[..4], b"II*\0", "a little-endian classic TIFF");
            let ifd = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
            let count = u16::from_le_bytes(bytes[ifd..ifd + 2].try_into().unwrap()) as usize;
            for e in 0..count {
                let entry = ifd + 2 + 12 * e;
                let tag = u16::from_le_bytes(bytes[entry..entry + 2].try_into().unwrap());
                let value = match tag {
                    256 => width,
                    257 => height,
                    _ => continue,
                };
                // As a LONG, whatever the writer chose.
                bytes[entry + 2..entry + 4].copy_from_slice(&4u16.to_le_bytes());
                bytes[entry + 4..entry + 8].copy_from_slice(&1u32.to_le_bytes());
                bytes[entry + 8..entry + 12].copy_from_slice(&value.to_le_bytes());
            }
        }
        _ => unreachable!(),
    }
}

/// Reads one damaged file both ways; returns what went wrong, if anything.
fn check(path: &Path) -> Result<(), String> {
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    let named = |e: &CoreError| {
        let msg = e.to_string();
        if msg.contains(&name) {
            Ok(())
        } else {
            Err(format!("error does not name the file: {msg}"))
        }
    };
    let info = catch_unwind(AssertUnwindSafe(|| read_frame_info(path)))
        .map_err(|_| "read_frame_info panicked".to_string())?;
    let frame = catch_unwind(AssertUnwindSafe(|| read_frame(path)))
        .map_err(|_| "read_frame panicked".to_string())?;
    if let Err(e) = &info {
        named(e)?;
    }
    match frame {
        Err(e) => named(&e),
        Ok(frame) => {
            let n = frame.width() * frame.height() * frame.format().layout.channels();
            let len = match frame.samples() {
                Samples::U8(s) => s.len(),
                Samples::U16(s) => s.len(),
            };
            if len != n {
                return Err(format!("{len} samples for {}x{}", frame.width(), frame.height()));
            }
            match info {
                Ok(info) if (info.width, info.height) != (frame.width(), frame.height()) => {
                    Err(format!(
                        "header says {}x{}, pixels are {}x{}",
                        info.width,
                        info.height,
                        frame.width(),
                        frame.height()
                    ))
                }
                _ => Ok(()),
            }
        }
    }
}

#[test]
fn damaged_headers_never_panic_and_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let mut failures = Vec::new();
    let mut cases = 0;
    let mut run = |label: String, ext: &str, bytes: &[u8], failures: &mut Vec<String>| {
        let path = dir.path().join(format!("case{cases}.{ext}"));
        cases += 1;
        std::fs::write(&path, bytes).unwrap();
        if let Err(what) = check(&path) {
            failures.push(format!("{label}: {what}"));
        }
        std::fs::remove_file(&path).unwrap();
    };
    let sizes = [
        (0, 0),
        (0, 24),
        (1, 65535),
        (65535, 65535),
        (100_000, 100_000),
        (40_000, 30_000),
        (1 << 31, 1 << 31),
        ((1 << 31) - 1, 1),
        (u32::MAX, u32::MAX),
    ];
    for (seed_index, (ext, seed)) in seeds(dir.path()).iter().enumerate() {
        for &(w, h) in &sizes {
            let mut bytes = seed.clone();
            claim_size(ext, &mut bytes, w, h);
            run(format!("seed {seed_index} ({ext}) claiming {w}x{h}"), ext, &bytes, &mut failures);
        }
        for i in 0..48 {
            let cut = if i < 24 { i * 3 } else { rng.random_range(0..seed.len()) };
            run(
                format!("seed {seed_index} ({ext}) cut at {cut}"),
                ext,
                &seed[..cut],
                &mut failures,
            );
        }
        for i in 0..160 {
            let mut bytes = seed.clone();
            // Half the cases damage the header (the first 160 bytes), half anywhere.
            let span = if i % 2 == 0 { 160.min(bytes.len()) } else { bytes.len() };
            let flips = rng.random_range(1..=8);
            for _ in 0..flips {
                let at = rng.random_range(0..span);
                bytes[at] = rng.random();
            }
            if ext == "png" && i % 4 == 0 {
                // A believable header: the damage is inside a valid IHDR.
                let crc = crc32(&bytes[12..29]);
                bytes[29..33].copy_from_slice(&crc.to_be_bytes());
            }
            run(format!("seed {seed_index} ({ext}) damage case {i}"), ext, &bytes, &mut failures);
        }
    }
    assert!(cases > 1500, "{cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn hostile_sizes_are_refused_by_name_before_allocating() {
    // The claims that no machine here can hold are refused from the header, before
    // the samples are allocated, by an error naming the file; both readers agree.
    let dir = tempfile::tempdir().unwrap();
    for (ext, seed) in seeds(dir.path()) {
        // (PNG's largest legal size is 2^31 - 1; beyond it the header itself is invalid.)
        for (w, h) in [(100_000u32, 100_000u32), ((1 << 31) - 1, (1 << 31) - 1)] {
            if ext == "jpg" && w > 65535 {
                continue; // JPEG sizes are 16-bit.
            }
            let mut bytes = seed.clone();
            claim_size(&ext, &mut bytes, w, h);
            let path = dir.path().join(format!("huge-{w}.{ext}"));
            std::fs::write(&path, &bytes).unwrap();
            for (reader, result) in [
                ("read_frame_info", read_frame_info(&path).map(|_| ())),
                ("read_frame", read_frame(&path).map(|_| ())),
            ] {
                let err = result.expect_err("a hostile size must be refused");
                let msg = err.to_string();
                let by_us = msg
                    .starts_with(&format!("{}: the header claims {w}x{h} pixels", path.display()));
                // A decoder may refuse first: PNG's when the row bytes overflow (beyond
                // 100000), TIFF's when the strips do not match the claimed size (what
                // damage to a real file does). Its refusal still names the file; a JPEG,
                // and a PNG that claims 100000x100000, meet fstack's own check.
                let by_decoder = (ext == "tif" || (ext == "png" && w > 100_000))
                    && msg.starts_with(&format!("{}: cannot decode image:", path.display()));
                assert!(
                    (matches!(err, CoreError::TooLarge { .. }) && by_us)
                        || (matches!(err, CoreError::Decode { .. }) && by_decoder),
                    "{ext} {w}x{h} {reader}: {msg}"
                );
            }
        }
    }
}
