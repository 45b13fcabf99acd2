//! fs-tiles: memory-mapped, disk-backed float planes and tiles for out-of-core stacking. Not yet implemented (issue: out of core).
#![deny(missing_docs)]
