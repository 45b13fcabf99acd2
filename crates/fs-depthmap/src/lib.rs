//! fs-depthmap: energy measures, weight maps and pyramid blending (DepthMapStack). Not yet implemented.
#![deny(missing_docs)]
