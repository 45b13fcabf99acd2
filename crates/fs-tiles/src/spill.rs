//! A scratch file of frames, for two-pass stackers (fs-depthmap's `DepthMapStack`,
//! fs-focusmap's `FocusMapStack`) that read their frame source only once: pass 1
//! appends every decoded frame's raw samples (as stored: 1 or 2 bytes a sample),
//! pass 2 reads them back in order instead of decoding again.
//!
//! The file is created unlinked (`tempfile::tempfile_in`), so it disappears when the
//! stack ends, fails, is cancelled or the process dies; it takes
//! `width * height * channels * bytes` per frame of disk (1.15 GB for 16 frames of
//! 24 MP RGB 8-bit), mostly served from the page cache, not counted in the process's
//! resident memory.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;

use fs_core::{CoreError, Frame, FrameInfo, Samples};

fn io_err(e: std::io::Error) -> CoreError {
    CoreError::io(PathBuf::from("<frame scratch file>"), e)
}

/// An unlinked scratch file holding the raw samples of the frames, in order.
#[derive(Debug)]
pub struct FrameSpill {
    file: File,
    frames: usize,
    /// Reused byte buffer for 16-bit frames.
    bytes: Vec<u8>,
}

impl FrameSpill {
    /// A new scratch file in `dir`, or in the system's temporary folder.
    pub fn new(dir: Option<&Path>) -> fs_core::Result<Self> {
        let file = match dir {
            Some(d) => tempfile::tempfile_in(d).map_err(|e| CoreError::io(d, e))?,
            None => tempfile::tempfile().map_err(io_err)?,
        };
        Ok(Self { file, frames: 0, bytes: Vec::new() })
    }

    /// Appends a frame's samples.
    pub fn write(&mut self, frame: &Frame) -> fs_core::Result<()> {
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
    /// The reader fills the sample buffers it gets back through `recycled` (sent by
    /// the consumer once it is done with a frame, see [`fs_core::Frame::into_samples`])
    /// and allocates only when none is waiting.
    pub fn reader(
        &mut self,
        info: FrameInfo,
        recycled: Receiver<Samples>,
    ) -> fs_core::Result<SpillReader> {
        self.file.flush().map_err(io_err)?;
        let mut file = self.file.try_clone().map_err(io_err)?;
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        Ok(SpillReader { file, info, left: self.frames, recycled, bytes: Vec::new() })
    }
}

/// Yields the spilled frames in order.
#[derive(Debug)]
pub struct SpillReader {
    file: File,
    info: FrameInfo,
    left: usize,
    recycled: Receiver<Samples>,
    /// Reused byte buffer for 16-bit frames.
    bytes: Vec<u8>,
}

impl SpillReader {
    fn read(&mut self) -> std::io::Result<Samples> {
        let n = self.info.width * self.info.height * self.info.format.layout.channels();
        let old = self.recycled.try_recv().ok();
        Ok(match self.info.format.depth {
            fs_core::BitDepth::Eight => {
                let mut v = match old {
                    Some(Samples::U8(v)) if v.len() == n => v,
                    // Allocation: a sample buffer, only until buffers come back.
                    _ => vec![0u8; n],
                };
                self.file.read_exact(&mut v)?;
                Samples::U8(v)
            }
            fs_core::BitDepth::Sixteen => {
                let mut v = match old {
                    Some(Samples::U16(v)) if v.len() == n => v,
                    // Allocation: a sample buffer, only until buffers come back.
                    _ => vec![0u16; n],
                };
                self.bytes.resize(2 * n, 0);
                self.file.read_exact(&mut self.bytes)?;
                for (v, b) in v.iter_mut().zip(self.bytes.chunks_exact(2)) {
                    *v = u16::from_ne_bytes([b[0], b[1]]);
                }
                Samples::U16(v)
            }
        })
    }
}

impl Iterator for SpillReader {
    type Item = fs_core::Result<Frame>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(self.read().map_err(io_err).and_then(|s| Frame::new(self.info, s)))
    }
}
