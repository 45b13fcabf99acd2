//! The post-filters of an action, applied to each stacked image: denoise, then sharpen.

use fs_core::{Float, FloatType, Frame, Image, Progress};

use crate::algorithms::{
    FilterError, NlMeansOptions, UnsharpOptions, nl_means_denoise_with_progress, unsharp_mask,
};
use crate::{ActionOptions, JobError, Result};

/// The post-filters an action asks for (`None` = off).
#[derive(Debug, Clone, Default)]
pub(crate) struct PostFilters {
    pub denoise: Option<NlMeansOptions>,
    pub sharpen: Option<UnsharpOptions>,
}

impl PostFilters {
    pub fn from_options(o: &ActionOptions) -> Self {
        let denoise = (o.denoise_amount > 0.0)
            .then(|| NlMeansOptions { h: o.denoise_amount, ..NlMeansOptions::default() });
        let sharpen = (o.sharpen_amount_percent > 0.0).then_some(UnsharpOptions {
            amount_percent: o.sharpen_amount_percent,
            radius: o.sharpen_radius,
            threshold: o.sharpen_threshold,
        });
        Self { denoise, sharpen }
    }

    pub fn is_empty(&self) -> bool {
        self.denoise.is_none() && self.sharpen.is_none()
    }

    pub fn validate(&self, action: &str) -> Result<()> {
        // The filters name their options as the user knows them (`denoise_amount`,
        // `sharpen_radius`, ...).
        let named = |default: &'static str, e: FilterError| match e {
            FilterError::InvalidOption { name, reason } => JobError::option(action, name, reason),
            other => JobError::option(action, default, other.to_string()),
        };
        if let Some(d) = &self.denoise {
            d.validate().map_err(|e| named("denoise_amount", e))?;
        }
        if let Some(s) = &self.sharpen {
            s.validate().map_err(|e| named("sharpen_amount_percent", e))?;
        }
        Ok(())
    }

    /// Applies the filters to `frame` in `float_type`; keeps its format and metadata.
    pub fn apply(
        &self,
        frame: Frame,
        float_type: FloatType,
        action: &str,
        progress: &dyn Progress,
    ) -> Result<Frame> {
        if self.is_empty() {
            return Ok(frame);
        }
        match float_type {
            FloatType::F64 => self.apply_as::<f64>(frame, action, progress),
            _ => self.apply_as::<f32>(frame, action, progress),
        }
    }

    fn apply_as<T: Float>(
        &self,
        frame: Frame,
        action: &str,
        progress: &dyn Progress,
    ) -> Result<Frame> {
        let format = frame.format();
        let mut image: Image<T> = frame.to_image();
        let filter_err =
            |filter, source| JobError::Filter { action: action.to_string(), filter, source };
        if let Some(d) = &self.denoise {
            progress.check_cancelled().map_err(|e| JobError::frames(action, e))?;
            // The filter reports phase `denoise` with one step per band of rows, and
            // stops between bands when cancelled.
            let named = Named { action, inner: progress };
            image =
                nl_means_denoise_with_progress(&image, format, d, &named).map_err(|e| match e {
                    FilterError::Core(core) => JobError::frames(action, core),
                    e => filter_err("denoise", e),
                })?;
        }
        if let Some(s) = &self.sharpen {
            progress.check_cancelled().map_err(|e| JobError::frames(action, e))?;
            progress.phase(&format!("{action}: sharpen"), 1);
            image = unsharp_mask(&image, format, s).map_err(|e| filter_err("sharpen", e))?;
            progress.step(1);
        }
        let out = Frame::from_image(&image, format).map_err(|e| JobError::frames(action, e))?;
        let mut out = out.with_metadata(frame.metadata);
        out.source = frame.source;
        Ok(out)
    }
}

/// Passes a filter's progress on with its phase named `"<action>: <phase>"`.
struct Named<'a> {
    action: &'a str,
    inner: &'a dyn Progress,
}

impl Progress for Named<'_> {
    fn phase(&self, name: &str, total: u64) {
        self.inner.phase(&format!("{}: {name}", self.action), total);
    }
    fn step(&self, done: u64) {
        self.inner.step(done);
    }
    fn is_cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }
}
