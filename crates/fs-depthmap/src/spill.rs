//! The scratch file that lets [`crate::DepthMapStack::stack`] read its frame source
//! only once: pass 1 appends every decoded frame's raw samples (as stored: 1 or 2
//! bytes a sample), pass 2 reads them back in order instead of decoding again.
//!
//! The file is created unlinked (`tempfile::tempfile_in`), so it disappears when the
//! stack ends, fails, is cancelled or the process dies; it takes
//! `width * height * channels * bytes` per frame of disk (1.15 GB for 16 frames of
//! 24 MP RGB 8-bit), mostly served from the page cache, not counted in the process's
//! resident memory.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs_core::{CoreError, Frame, FrameInfo, Samples};

fn io_err(e: std::io::Error) -> CoreError {
    CoreError::io(PathBuf::from("<depth-map scratch file>"), e)
}

/// An unlinked scratch file holding the raw samples of the frames, in order.
#[derive(Debug)]
pub(crate) struct Spill {
    file: File,
    frames: usize,
    /// Reused byte buffer for 16-bit frames.
    bytes: Vec<u8>,
}

impl Spill {
    /// A new scratch file in `dir`, or in the system's temporary folder.
    pub(crate) fn new(dir: Option<&Path>) -> fs_core::Result<Self> {
        let file = match dir {
            Some(d) => tempfile::tempfile_in(d).map_err(|e| CoreError::io(d, e))?,
            None => tempfile::tempfile().map_err(io_err)?,
        };
        Ok(Self { file, frames: 0, bytes: Vec::new() })
    }

    /// Appends a frame's samples.
    pub(crate) fn write(&mut self, frame: &Frame) -> fs_core::Result<()> {
        match frame.samples() {
            Samples::U8(s) => self.file.write_all(s).map_err(io_err)?,
            Samples::U16(s) => {
                self.bytes.clear();
                self.bytes.extend(s.iter().flat_map(|v| v.to_ne_bytes()));
                self.file.write_all(&self.bytes).map_err(io_err)?;
            }
        }
        self.frames += 1;
        Ok(())
    }

    /// Reads the frames back from the start, as frames of shape `info` (no metadata).
    pub(crate) fn reader(&mut self, info: FrameInfo) -> fs_core::Result<SpillReader> {
        self.file.flush().map_err(io_err)?;
        let mut file = self.file.try_clone().map_err(io_err)?;
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        Ok(SpillReader { file: BufReader::with_capacity(1 << 20, file), info, left: self.frames })
    }
}

/// Yields the spilled frames in order.
#[derive(Debug)]
pub(crate) struct SpillReader {
    file: BufReader<File>,
    info: FrameInfo,
    left: usize,
}

impl Iterator for SpillReader {
    type Item = fs_core::Result<Frame>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let n = self.info.width * self.info.height * self.info.format.layout.channels();
        // Allocation: one sample buffer per frame (a frame owns its samples).
        let samples = match self.info.format.depth {
            fs_core::BitDepth::Eight => {
                let mut v = vec![0u8; n];
                if let Err(e) = self.file.read_exact(&mut v) {
                    return Some(Err(io_err(e)));
                }
                Samples::U8(v)
            }
            fs_core::BitDepth::Sixteen => {
                let mut b = vec![0u8; 2 * n];
                if let Err(e) = self.file.read_exact(&mut b) {
                    return Some(Err(io_err(e)));
                }
                Samples::U16(b.chunks_exact(2).map(|c| u16::from_ne_bytes([c[0], c[1]])).collect())
            }
        };
        Some(Frame::new(self.info, samples))
    }
}
