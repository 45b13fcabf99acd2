//! Camera RAW: decoding (through rawler, behind the `raw` feature) and development
//! in linear light (levels, one white balance per stack, demosaic, colour matrix).

pub mod colour;
pub mod demosaic;

pub use demosaic::{Bayer, demosaic_bilinear, demosaic_mhc};
