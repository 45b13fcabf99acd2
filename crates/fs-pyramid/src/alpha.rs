//! Premultiplied alpha for fusion.
//!
//! Frames with alpha (gray+alpha, RGBA) are fused with their colour channels
//! multiplied by `alpha / max`, so a transparent pixel contributes no colour and no
//! false edges; alpha is fused like any other channel. At the end the colour is
//! divided by the fused alpha, after that alpha is rounded to the output's integer
//! type (so colour and alpha agree in the written file); where the rounded alpha is 0
//! the colour is 0. The last channel is the alpha channel.

use fs_core::{Float, Image, quantize};

/// A colour sample premultiplied by its alpha: `color * alpha / max`.
#[inline(always)]
pub fn premultiplied<T: Float>(color: T, alpha: T, max: T) -> T {
    color * alpha / max
}

/// Premultiplies every colour channel of `image` by its last (alpha) channel, with
/// `max` the largest sample value (255 or 65535).
pub fn premultiply<T: Float>(image: &mut Image<T>, max: f64) {
    let c = image.channels();
    let mut planes: Vec<&mut [T]> = image.planes_mut().collect();
    let (color, alpha) = planes.split_at_mut(c - 1);
    let max = T::from_f64(max);
    for p in color {
        for (v, &a) in p.iter_mut().zip(alpha[0].iter()) {
            *v = premultiplied(*v, a, max);
        }
    }
}

/// Undoes [`premultiply`] on fused planes: colour `* max / round(alpha)`, 0 where the
/// rounded alpha is 0. The last plane is alpha; it is left as it is.
pub fn unpremultiply<T: Float>(planes: &mut [Vec<T>], max: f64) {
    let mut rows: Vec<&mut [T]> = planes.iter_mut().map(|p| p.as_mut_slice()).collect();
    unpremultiply_rows(&mut rows, max);
}

/// [`unpremultiply`] on borrowed rows of the planes (the same rows of each, e.g. one
/// band of a level).
pub fn unpremultiply_rows<T: Float>(planes: &mut [&mut [T]], max: f64) {
    let c = planes.len();
    let (color, alpha) = planes.split_at_mut(c - 1);
    let maxt = T::from_f64(max);
    for p in color {
        for (v, &a) in p.iter_mut().zip(alpha[0].iter()) {
            let a = T::from_f64(quantize(a, max));
            *v = if a > T::zero() { *v * maxt / a } else { T::zero() };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn premultiply_round_trip() {
        let mut img =
            Image::<f32>::from_planes(3, 1, vec![vec![200.0, 100.0, 50.0], vec![255.0, 51.0, 0.0]])
                .unwrap();
        premultiply(&mut img, 255.0);
        assert_eq!(img.plane(0).as_slice(), &[200.0, 20.0, 0.0]);
        let mut planes = img.into_planes();
        planes[1][1] = 50.8; // fused alpha rounds to 51
        unpremultiply(&mut planes, 255.0);
        assert_eq!(planes[0], vec![200.0, 100.0, 0.0]);
    }
}
