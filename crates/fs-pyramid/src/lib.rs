//! fs-pyramid: Laplacian pyramids and the PyramidStack / PyramidTilesStack / PyramidAutoStack stackers. Not yet implemented.
#![deny(missing_docs)]
