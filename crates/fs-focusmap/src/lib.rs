//! fs-focusmap: the focus-map stacker, fstack's default.
#![deny(missing_docs)]

mod error;
mod options;
mod stack;

pub use crate::error::{FocusMapError, Result};
pub use crate::options::FocusMapOptions;
pub use crate::stack::{FocusMapResult, FocusMapStack};
