//! One stack run into a file as `fstack stack` runs it ([`StackRun`]): the frames as
//! a one-action job over a folder of symbolic links in a private work folder, the
//! output (and the maps) then moved into place atomically. `fstack stack`, `fstack
//! batch` and the Python package's `fstack.batch` all stack through here, so one set
//! of frames and options gives the same bytes whichever of them ran it.
//!
//! [`crate::stack_files`] would skip the links but writes its result its own way
//! (EXIF of the first frame read through fs-core, JPEG rounding of the result in
//! memory); the job path writes outputs as every job does. Keeping one path is what
//! keeps the commands equal.

use std::path::{Path, PathBuf};

use fs_core::{CoreError, FileFormat, Overwrite, Progress, WriteOptions, read_frame, write_frame};

use crate::{
    ActionOptions, FocusStack, FocusStackBunch, FrameReport, JobError, Result, StackJob,
    StackedOutput, Stacker,
};

/// The name of the one action (errors, progress phases: `stack: stack`).
const ACTION: &str = "stack";

/// Where the EXIF and ICC metadata of the output come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ExifSource {
    /// The first frame's (`fstack stack`'s default).
    #[default]
    FirstFrame,
    /// None is written (`--no-exif`).
    None,
    /// This image file's, or the first image's of this folder (`--exif-path`).
    From(PathBuf),
}

/// Two-stage stacking: bunches of frames, each stacked into its own file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bunches {
    /// Frames per bunch.
    pub frames: usize,
    /// Frames shared by consecutive bunches.
    pub overlap: usize,
    /// Prefix of the bunch files' names.
    pub prefix: String,
}

/// One stack to run into a file, every option resolved: what `fstack stack FRAMES
/// -o OUTPUT` does, as a plain value. [`StackRun::run`] runs it.
#[derive(Debug, Clone)]
pub struct StackRun {
    /// The frames, in order (at least one).
    pub frames: Vec<PathBuf>,
    /// The folder holding exactly `frames`, when the caller named a folder: it is
    /// read in place instead of through links.
    pub folder: Option<PathBuf>,
    /// The output file (its extension is the format), or with `bunches` the folder
    /// of the bunch files.
    pub output: PathBuf,
    /// The algorithm and its options.
    pub stacker: Stacker,
    /// The frame options (align, balance, crop, white balance, post-filters) and
    /// `output_format`, the output's format (that of the bunch files); the input
    /// folder, output folder, prefix and EXIF options are set by the run.
    pub options: ActionOptions,
    /// JPEG quality of the output, 1 to 100.
    pub jpeg_quality: u8,
    /// The output's metadata.
    pub exif: ExifSource,
    /// Replace an existing output; without, an output that exists (even one that
    /// appeared while the stack ran) is an error and stays.
    pub overwrite: bool,
    /// Stack in bunches instead of into one file.
    pub bunches: Option<Bunches>,
    /// Where to put the depth map the stacker made (PNG as made, else converted by
    /// the extension).
    pub depth_map: Option<PathBuf>,
    /// Where to put the confidence map the stacker made.
    pub confidence_map: Option<PathBuf>,
}

impl StackRun {
    /// `frames` stacked into `output` with `stacker` and `options` (without an
    /// `output_format`, the output's extension's), and everything else at `fstack
    /// stack`'s defaults: JPEG quality 95, the first frame's EXIF, no overwrite, no
    /// bunches, no maps.
    pub fn new(
        frames: Vec<PathBuf>,
        output: PathBuf,
        stacker: Stacker,
        mut options: ActionOptions,
    ) -> Self {
        if options.output_format.is_none() {
            options.output_format = FileFormat::from_path(&output);
        }
        Self {
            frames,
            folder: None,
            output,
            stacker,
            options,
            jpeg_quality: WriteOptions::default().jpeg_quality,
            exif: ExifSource::FirstFrame,
            overwrite: false,
            bunches: None,
            depth_map: None,
            confidence_map: None,
        }
    }
}

/// What a [`StackRun`] wrote and what happened on the way.
#[derive(Debug, Clone)]
pub struct StackRunResult {
    /// The files written: the output, or the bunch files.
    pub outputs: Vec<PathBuf>,
    /// What alignment did, what the stacker chose.
    pub notes: Vec<String>,
    /// What alignment did to each frame.
    pub alignment: Vec<FrameReport>,
    /// Per output, the frames stacked into it and its (cropped) size.
    pub stacked: Vec<StackedOutput>,
}

impl StackRun {
    /// Runs the stack (see [`StackRun::run_with`]).
    pub fn run(&self, progress: &dyn Progress) -> Result<StackRunResult> {
        self.run_with(progress, &|| {})
    }

    /// Runs the stack as a one-action job in a work folder beside the output (in
    /// the temporary folder when that is inside the input folder), then moves the
    /// output into place (`before_place` is called just before: a test hook) and
    /// the maps after it. Errors name the files the caller gave, not their links in
    /// the work folder. The work folder goes on every path; those of killed runs
    /// are removed by the next run in the same place.
    pub fn run_with(
        &self,
        progress: &dyn Progress,
        before_place: &dyn Fn(),
    ) -> Result<StackRunResult> {
        let frames_err = |e: CoreError| JobError::frames(ACTION, e);
        let output = absolute(&self.output)?;
        let out_parent = parent_of(&output);
        // The work folder goes beside the output (same file system: the final rename
        // is atomic) unless that is inside the input folder, which the job would refuse.
        let input_abs = self.folder.as_deref().map(absolute).transpose()?;
        let inside_input = input_abs.as_ref().is_some_and(|i| out_parent.starts_with(i));
        let work_parent =
            if inside_input { fs_core::temp_folder().map_err(frames_err)? } else { out_parent };
        // Work folders of runs that were killed (a second Ctrl-C, SIGKILL) go now;
        // those of live runs are locked and stay.
        fs_core::remove_stale(&work_parent, ".fstack-");
        let work = fs_core::WorkDir::new_in(&work_parent, ".fstack-").map_err(|e| match e {
            fs_core::CoreError::Io { source, .. } => {
                worded(&work_parent, "cannot create a work folder", source)
            }
            other => frames_err(other),
        })?;
        let work_dir = work.path().canonicalize().map_err(|e| JobError::io(work.path(), e))?;

        // Links in the work folder stand for files the caller named: errors name those.
        let mut links: Vec<(PathBuf, PathBuf)> = Vec::new();
        let input_dir = match &input_abs {
            Some(dir) => dir.clone(),
            None => link_folder(&work_dir.join("input"), &self.frames, &mut links)?,
        };
        let exif_path = match &self.exif {
            ExifSource::FirstFrame => None,
            ExifSource::None => Some(PathBuf::new()),
            ExifSource::From(p) if p.is_dir() => Some(absolute(p)?),
            ExifSource::From(p) => {
                Some(link_folder(&work_dir.join("exif"), std::slice::from_ref(p), &mut links)?)
            }
        };
        let mut options =
            ActionOptions { input_path: Some(input_dir), exif_path, ..self.options.clone() };
        let overwrite = if self.overwrite { Overwrite::Replace } else { Overwrite::Refuse };
        let job =
            StackJob::new("fstack", &work_dir).jpeg_quality(self.jpeg_quality).overwrite(overwrite);
        let internal_out = work_dir.join("out");
        let job = match &self.bunches {
            None => {
                options.output_path = Some(internal_out.clone());
                job.add_action(FocusStack::new(ACTION, self.stacker.clone()).options(options))
            }
            Some(b) => {
                // Overwriting a folder with files: same-named files go, the rest stay.
                let has_files = output.is_dir()
                    && std::fs::read_dir(&output)
                        .map_err(|e| JobError::io(&output, e))?
                        .next()
                        .is_some();
                options.scratch_output_dir = !has_files;
                options.output_path = Some(output.clone());
                options.prefix = b.prefix.clone();
                job.add_action(
                    FocusStackBunch::new("bunch", self.stacker.clone())
                        .options(options)
                        .frames(b.frames)
                        .overlap(b.overlap),
                )
            }
        };
        // A failed write of the output in the work folder names the output; a frame
        // read through a link, the file the caller named.
        let bunched = self.bunches.is_some();
        let user_path = |path: &Path| -> Option<PathBuf> {
            if !bunched && path.starts_with(&internal_out) {
                return Some(self.output.clone());
            }
            links.iter().find(|(link, _)| link == path).map(|(_, user)| user.clone())
        };
        let summary = job.run(progress).map_err(|e| in_terms_of(e, user_path))?;
        let outputs: Vec<PathBuf> = summary.outputs().map(Path::to_path_buf).collect();
        let action = summary.actions.first();
        let notes = action.map(|a| a.notes.clone()).unwrap_or_default();
        let alignment = action.map(|a| a.alignment.clone()).unwrap_or_default();
        let stacked = action.map(|a| a.stacked.clone()).unwrap_or_default();
        if bunched {
            return Ok(StackRunResult { outputs, notes, alignment, stacked });
        }
        let [produced] = outputs.as_slice() else {
            let what = format!("the stack job wrote {} files instead of one", outputs.len());
            return Err(JobError::NotProduced { path: self.output.clone(), what });
        };
        // The output first: when it cannot be placed, no map is either.
        before_place();
        fs_core::move_atomic(produced, &output, overwrite).map_err(frames_err)?;
        let maps = [
            (&self.depth_map, action.and_then(|a| a.depth_maps().next()), "depth map"),
            (
                &self.confidence_map,
                action.and_then(|a| a.confidence_maps().next()),
                "confidence map",
            ),
        ];
        for (target, plot, what) in maps {
            let Some(target) = target else { continue };
            place_map(plot, target, what, overwrite).map_err(|source| JobError::MapNotPlaced {
                output: self.output.clone(),
                what,
                source: Box::new(source),
            })?;
        }
        drop(work);
        Ok(StackRunResult { outputs: vec![self.output.clone()], notes, alignment, stacked })
    }
}

/// A frame error about a file in the work folder as one about the path the caller
/// knows (`user_path` of it, when it has one): a full disk names the output, a
/// truncated listed frame the file given, not its link.
fn in_terms_of(e: JobError, user_path: impl Fn(&Path) -> Option<PathBuf>) -> JobError {
    let JobError::Frames { action, mut source } = e else { return e };
    let path = match &mut source {
        CoreError::Io { path, .. }
        | CoreError::Decode { path, .. }
        | CoreError::Unsupported { path, .. }
        | CoreError::Encode { path, .. }
        | CoreError::Exists { path, .. }
        | CoreError::TooLarge { path, .. }
        | CoreError::FrameMismatch { path, .. } => Some(path),
        _ => None,
    };
    if let Some(path) = path
        && let Some(user) = user_path(path)
    {
        *path = user;
    }
    JobError::Frames { action, source }
}

/// A folder of symbolic links to `files`, so the job (which stacks folders) can stack
/// a list of files. Names are kept (so the order is kept) unless two collide.
/// Each link and the file it stands for, as given, are added to `links`.
fn link_folder(
    dir: &Path,
    files: &[PathBuf],
    links: &mut Vec<(PathBuf, PathBuf)>,
) -> Result<PathBuf> {
    std::fs::create_dir(dir).map_err(|e| JobError::io(dir, e))?;
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
        .collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    let keep = unique.len() == names.len();
    for (i, (file, name)) in files.iter().zip(&names).enumerate() {
        let link = if keep { dir.join(name) } else { dir.join(format!("{:06}-{name}", i + 1)) };
        let target = absolute(file)?;
        #[cfg(unix)]
        std::os::unix::fs::symlink(&target, &link).map_err(|e| worded(&link, "cannot link", e))?;
        #[cfg(not(unix))]
        std::fs::copy(&target, &link).map_err(|e| worded(&link, "cannot link", e))?;
        links.push((link, file.clone()));
    }
    Ok(dir.to_path_buf())
}

/// Puts a map the job wrote (a PNG in its plot folder) at `target`, converted when
/// `target` names another format. A map asked for but not written is an error, not
/// a silent success.
fn place_map(plot: Option<&Path>, target: &Path, what: &str, overwrite: Overwrite) -> Result<()> {
    let frames_err = |e: CoreError| JobError::frames(ACTION, e);
    let Some(plot) = plot else {
        let what = format!("the stacker returned no {what}");
        return Err(JobError::NotProduced { path: target.to_path_buf(), what });
    };
    if FileFormat::from_path(target) == Some(FileFormat::Png) {
        return fs_core::move_atomic(plot, target, overwrite).map_err(frames_err);
    }
    let map = read_frame(plot).map_err(frames_err)?;
    write_frame(target, &map, &WriteOptions { overwrite, ..WriteOptions::default() })
        .map_err(frames_err)
}

fn parent_of(path: &Path) -> PathBuf {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf()
}

/// The absolute form of a path that may not exist yet (its parent must).
fn absolute(path: &Path) -> Result<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Ok(p);
    }
    let parent = parent_of(path);
    let parent =
        parent.canonicalize().map_err(|e| worded(&parent, "cannot resolve the folder", e))?;
    Ok(match path.file_name() {
        Some(name) => parent.join(name),
        None => parent,
    })
}

/// An operating-system error on `path`, saying what was being done:
/// "PATH: cannot link: File exists (os error 17)".
fn worded(path: &Path, doing: &str, e: impl std::fmt::Display) -> JobError {
    JobError::io(path, std::io::Error::other(format!("{doing}: {e}")))
}
