//! fs-filters: non-local-means denoise, unsharp mask and bilateral filter on float images. Not yet implemented.
#![deny(missing_docs)]
