//! DNG writing (placeholder until the helper's dng.rs lands).
#![allow(missing_docs, dead_code)]

pub struct DngColour {
    pub xyz_to_camera: [f32; 9],
    pub as_shot_neutral: [f32; 3],
    pub make: String,
    pub model: String,
}

pub fn write_linear_dng(
    _out: &mut (impl std::io::Write + std::io::Seek),
    _width: usize,
    _height: usize,
    _rgb: &[u16],
    _colour: &DngColour,
    _exif: Option<&[u8]>,
) -> Result<(), String> {
    Err("not yet".into())
}
