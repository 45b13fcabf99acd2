//! Small stacks written to temporary folders.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fs_core::{
    BitDepth, ChannelLayout, Frame, FrameInfo, PixelFormat, Progress, Samples, WriteOptions,
    write_frame,
};

pub const W: usize = 24;
pub const H: usize = 16;

pub fn gray8() -> PixelFormat {
    PixelFormat { layout: ChannelLayout::Gray, depth: BitDepth::Eight }
}

pub fn rgb8() -> PixelFormat {
    PixelFormat { layout: ChannelLayout::Rgb, depth: BitDepth::Eight }
}

/// Frame `k` of a test stack: a ramp plus a bright square whose place depends on `k`.
pub fn frame(k: usize, format: PixelFormat) -> Frame {
    let c = format.layout.channels();
    let mut v = Vec::with_capacity(W * H * c);
    for y in 0..H {
        for x in 0..W {
            let inside = (x / 6) == k % 4 && y < 8;
            let base = (x * 7 + y * 3) as u32 % 200;
            for ch in 0..c {
                v.push(if inside { 250 } else { base + 5 * ch as u32 });
            }
        }
    }
    let info = FrameInfo { width: W, height: H, format };
    let samples = match format.depth {
        BitDepth::Eight => Samples::U8(v.iter().map(|&x| x as u8).collect()),
        BitDepth::Sixteen => Samples::U16(v.iter().map(|&x| (x * 257) as u16).collect()),
    };
    Frame::new(info, samples).unwrap()
}

/// An EXIF block whose `Make` is `make`.
pub fn exif_with_make(make: &str) -> Vec<u8> {
    let field = exif::Field {
        tag: exif::Tag::Make,
        ifd_num: exif::In::PRIMARY,
        value: exif::Value::Ascii(vec![make.as_bytes().to_vec()]),
    };
    let mut writer = exif::experimental::Writer::new();
    writer.push_field(&field);
    let mut buf = Cursor::new(Vec::new());
    writer.write(&mut buf, false).unwrap();
    buf.into_inner()
}

/// The `Make` of a file's EXIF, read with kamadak-exif, if any.
pub fn make_of(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).unwrap();
    let exif = exif::Reader::new().read_from_container(&mut std::io::BufReader::new(file)).ok()?;
    let field = exif.get_field(exif::Tag::Make, exif::In::PRIMARY)?;
    match &field.value {
        exif::Value::Ascii(v) => Some(String::from_utf8_lossy(&v[0]).into_owned()),
        _ => None,
    }
}

/// Writes `n` frames `img0.ext`..`img{n-1}.ext` into `dir` (created), frame `k` with
/// EXIF Make `"{tag}-{k}"` when `tag` is given.
pub fn write_stack(dir: &Path, n: usize, ext: &str, format: PixelFormat, tag: Option<&str>) {
    std::fs::create_dir_all(dir).unwrap();
    for k in 0..n {
        let mut f = frame(k, format);
        if let Some(tag) = tag {
            f.metadata.exif = Some(exif_with_make(&format!("{tag}-{k}")));
        }
        write_frame(&dir.join(format!("img{k}.{ext}")), &f, &WriteOptions::default()).unwrap();
    }
}

/// A working folder with `n` 8-bit gray PNG frames in `src`.
pub fn workspace(n: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().canonicalize().unwrap();
    write_stack(&work.join("src"), n, "png", gray8(), None);
    (dir, work)
}

/// Sorted file names in a folder (hidden ones included).
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Records phases and steps; cancels at step `cancel_at` of the phase `cancel_in`.
#[derive(Default)]
pub struct Recorder {
    pub events: Mutex<Vec<(String, u64)>>,
    pub cancel_at: Option<(String, u64)>,
    pub cancelled: std::sync::atomic::AtomicBool,
}

impl Progress for Recorder {
    fn phase(&self, name: &str, total: u64) {
        self.events.lock().unwrap().push((name.to_string(), total));
    }
    fn step(&self, done: u64) {
        let mut events = self.events.lock().unwrap();
        let phase = events.iter().rev().find(|e| !e.0.starts_with("  ")).unwrap().0.clone();
        events.push((format!("  step of {phase}"), done));
        if self.cancel_at.as_ref().is_some_and(|(p, at)| *p == phase && *at == done) {
            self.cancelled.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    fn is_cancelled(&self) -> bool {
        self.cancelled.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Max absolute sample difference of two frames of the same shape.
pub fn max_diff(a: &Frame, b: &Frame) -> i64 {
    assert_eq!(a.info(), b.info());
    match (a.samples(), b.samples()) {
        (Samples::U8(x), Samples::U8(y)) => {
            x.iter().zip(y).map(|(&p, &q)| (p as i64 - q as i64).abs()).max().unwrap()
        }
        (Samples::U16(x), Samples::U16(y)) => {
            x.iter().zip(y).map(|(&p, &q)| (p as i64 - q as i64).abs()).max().unwrap()
        }
        _ => panic!("depths differ"),
    }
}
