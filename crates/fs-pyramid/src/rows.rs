//! Row sources: the rows of a level, all channels at once, read from a decoded
//! frame's interleaved integers or from float planes.
//!
//! The finest level is never held as float planes: its rows are converted from the
//! frame's samples where the strip that needs them is computed, which saves a
//! full-size float copy of every frame (288 MB for a 24-megapixel RGB frame in f32).

use fs_core::{Float, Frame, IntSample, Samples};

use crate::alpha::premultiplied;

/// Something whose rows can be read, every channel of a row at once.
pub(crate) trait RowSource<T>: Sync {
    /// Width in pixels.
    fn width(&self) -> usize;
    /// Height in rows.
    fn height(&self) -> usize;
    /// Number of channels.
    fn channels(&self) -> usize;
    /// Writes row `y` of channel `c` to `out[c * width..(c + 1) * width]`.
    fn read_row(&self, y: usize, out: &mut [T]);
}

/// The rows of a decoded frame as floats, colour premultiplied by alpha if it has alpha.
pub(crate) struct FrameRows<'a> {
    samples: &'a Samples,
    width: usize,
    height: usize,
    channels: usize,
    alpha: bool,
    max: f64,
}

impl<'a> FrameRows<'a> {
    pub(crate) fn new(frame: &'a Frame) -> Self {
        let f = frame.format();
        Self {
            samples: frame.samples(),
            width: frame.width(),
            height: frame.height(),
            channels: f.layout.channels(),
            alpha: f.layout.has_alpha(),
            max: f.depth.max_value(),
        }
    }

    /// The rows of `channels`-channel interleaved samples of `width x height`, every
    /// channel as it is (no premultiplication).
    pub(crate) fn plain(
        samples: &'a Samples,
        width: usize,
        height: usize,
        channels: usize,
    ) -> Self {
        Self { samples, width, height, channels, alpha: false, max: 0.0 }
    }
}

fn deinterleave<S: IntSample, T: Float>(src: &[S], c: usize, w: usize, out: &mut [T]) {
    if c == 1 {
        for (o, &s) in out[..w].iter_mut().zip(src) {
            *o = T::from_f32(s.to_f32());
        }
        return;
    }
    let (o0, rest) = out.split_at_mut(w);
    let (o1, rest) = rest.split_at_mut(w);
    match c {
        2 => {
            for (x, px) in src.chunks_exact(2).enumerate() {
                o0[x] = T::from_f32(px[0].to_f32());
                o1[x] = T::from_f32(px[1].to_f32());
            }
        }
        3 => {
            let o2 = &mut rest[..w];
            for (x, px) in src.chunks_exact(3).enumerate() {
                o0[x] = T::from_f32(px[0].to_f32());
                o1[x] = T::from_f32(px[1].to_f32());
                o2[x] = T::from_f32(px[2].to_f32());
            }
        }
        _ => {
            let (o2, o3) = rest.split_at_mut(w);
            for (x, px) in src.chunks_exact(4).enumerate() {
                o0[x] = T::from_f32(px[0].to_f32());
                o1[x] = T::from_f32(px[1].to_f32());
                o2[x] = T::from_f32(px[2].to_f32());
                o3[x] = T::from_f32(px[3].to_f32());
            }
        }
    }
}

impl<T: Float> RowSource<T> for FrameRows<'_> {
    fn width(&self) -> usize {
        self.width
    }
    fn height(&self) -> usize {
        self.height
    }
    fn channels(&self) -> usize {
        self.channels
    }
    fn read_row(&self, y: usize, out: &mut [T]) {
        let (w, c) = (self.width, self.channels);
        let n = w * c;
        match self.samples {
            Samples::U8(s) => deinterleave(&s[y * n..(y + 1) * n], c, w, out),
            Samples::U16(s) => deinterleave(&s[y * n..(y + 1) * n], c, w, out),
        }
        if self.alpha {
            let (color, alpha) = out[..n].split_at_mut(n - w);
            let max = T::from_f64(self.max);
            for row in color.chunks_exact_mut(w) {
                for (v, &a) in row.iter_mut().zip(alpha.iter()) {
                    *v = premultiplied(*v, a, max);
                }
            }
        }
    }
}

/// The rows of float planes of one size.
pub(crate) struct PlaneRows<'a, T> {
    pub(crate) planes: Vec<&'a [T]>,
    pub(crate) width: usize,
    pub(crate) height: usize,
}

impl<T: Float> RowSource<T> for PlaneRows<'_, T> {
    fn width(&self) -> usize {
        self.width
    }
    fn height(&self) -> usize {
        self.height
    }
    fn channels(&self) -> usize {
        self.planes.len()
    }
    fn read_row(&self, y: usize, out: &mut [T]) {
        let w = self.width;
        for (o, p) in out.chunks_exact_mut(w).zip(&self.planes) {
            o.copy_from_slice(&p[y * w..(y + 1) * w]);
        }
    }
}
