//! [`StackJob`]: an ordered list of actions over folders of frames, validated as a
//! whole ([`StackJob::plan`]) before anything is read or written, then run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fs_core::{
    BitDepth, FileFormat, Frame, FrameInfo, Metadata, Overwrite, PathFrames, PixelFormat, Progress,
    Samples, WriteOptions, check_stack, list_frames, read_frame, write_frame,
};

use crate::filters::PostFilters;
use crate::output::{self, Ownership};
use crate::paths::{Relation, lexical, normalize, resolve};
use crate::stacker::{StackContext, Stacked};
use crate::{Action, ActionKind, JOB_SCOPE, JobError, Result, Stacker};

/// A job: the seed's `StackJob(name, working_path, input_path=...)` with its actions.
///
/// Build it with [`StackJob::new`] and [`StackJob::add_action`], or load it from a job
/// file ([`crate::load_job_file`]); run it with [`StackJob::run`].
#[derive(Debug, Clone)]
pub struct StackJob {
    /// The job's name, for messages.
    pub name: String,
    /// The folder that holds input and output subfolders. Relative: to the current
    /// folder (or, in a job file, to the job file's folder).
    pub working_path: PathBuf,
    /// The input of the first action that names none; relative to `working_path`.
    pub input_path: Option<PathBuf>,
    /// The actions, run in order.
    pub actions: Vec<Action>,
    /// JPEG quality of JPEG outputs, 1..=100: 95.
    pub jpeg_quality: u8,
    /// Whether an output may replace a file already at its path
    /// ([`Overwrite::Replace`], the default: a job re-run over its own outputs). With
    /// [`Overwrite::Refuse`] such a file, even one that appeared during the run, is
    /// left untouched and the action fails ([`fs_core::CoreError::Exists`]).
    pub overwrite: Overwrite,
}

impl StackJob {
    /// An empty job.
    pub fn new(name: impl Into<String>, working_path: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            working_path: working_path.into(),
            input_path: None,
            actions: Vec::new(),
            jpeg_quality: WriteOptions::default().jpeg_quality,
            overwrite: Overwrite::Replace,
        }
    }
    /// Sets the job's `input_path`.
    pub fn input_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.input_path = Some(path.into());
        self
    }
    /// Appends an action (builder style).
    pub fn add_action(mut self, action: impl Into<Action>) -> Self {
        self.actions.push(action.into());
        self
    }
    /// Appends an action (in place).
    pub fn push_action(&mut self, action: impl Into<Action>) {
        self.actions.push(action.into());
    }
    /// Sets whether outputs may replace existing files ([`StackJob::overwrite`]).
    pub fn overwrite(mut self, overwrite: Overwrite) -> Self {
        self.overwrite = overwrite;
        self
    }
    /// Sets the JPEG quality of JPEG outputs.
    pub fn jpeg_quality(mut self, quality: u8) -> Self {
        self.jpeg_quality = quality;
        self
    }

    /// Checks the whole job without stacking anything: every option, every folder
    /// (inputs exist and hold frames of one shape, read from headers only), the
    /// safety rules on output folders. Returns the resolved folders.
    pub fn plan(&self) -> Result<JobPlan> {
        let job_err = |option: &str, reason: String| JobError::option(JOB_SCOPE, option, reason);
        if !(1..=100).contains(&self.jpeg_quality) {
            return Err(job_err(
                "jpeg_quality",
                format!("must be 1..=100, got {}", self.jpeg_quality),
            ));
        }
        if self.actions.is_empty() {
            return Err(job_err("actions", "the job has no actions".into()));
        }
        let job_working = normalize(&self.working_path);
        if !job_working.is_dir() {
            return Err(JobError::MissingFolder {
                action: JOB_SCOPE.into(),
                option: "working_path",
                path: job_working,
            });
        }
        let job_input = self.input_path.as_ref().map(|p| normalize(&resolve(&job_working, p)));

        // Paths, chaining through enabled actions only.
        let mut plans: Vec<ActionPlan> = Vec::with_capacity(self.actions.len());
        // The last enabled action writing each folder: one look-up per action (a
        // search of the earlier plans made a project of many actions quadratic).
        let mut last_writer: std::collections::HashMap<PathBuf, usize> =
            std::collections::HashMap::new();
        let mut previous_output: Option<(PathBuf, usize)> = None;
        let mut first_source: Option<PathBuf> = None;
        for (index, action) in self.actions.iter().enumerate() {
            let name = action.name();
            let o = action.options();
            if o.enabled {
                action.validate()?;
            }
            // A disabled action's folders are only reported: they are resolved without
            // touching the disk, so a project of many disabled actions plans quickly.
            let place = |path: PathBuf| if o.enabled { normalize(&path) } else { lexical(&path) };
            let working_dir = match &o.working_path {
                Some(p) => place(resolve(&job_working, p)),
                None => job_working.clone(),
            };
            let (input_dir, input_from) = match (&o.input_path, &previous_output) {
                (Some(p), _) => (place(resolve(&working_dir, p)), None),
                (None, Some((out, from))) => (out.clone(), Some(*from)),
                (None, None) => match &job_input {
                    Some(p) => (p.clone(), None),
                    None if o.enabled => return Err(JobError::NoInput { action: name.into() }),
                    None => (PathBuf::new(), None),
                },
            };
            // An explicit input that is an earlier action's output is chained too.
            let input_from = input_from.or_else(|| last_writer.get(&input_dir).copied());
            let output_dir =
                place(resolve(&working_dir, o.output_path.as_deref().unwrap_or(Path::new(name))));
            let plot_dir = place(resolve(&working_dir, &o.plot_path));
            if o.enabled && first_source.is_none() {
                first_source = Some(input_dir.clone());
            }
            let exif_dir = match &o.exif_path {
                Some(p) if p.as_os_str().is_empty() => None,
                Some(p) => Some(place(resolve(&working_dir, p))),
                None => first_source.clone(),
            };
            plans.push(ActionPlan {
                index,
                name: name.to_string(),
                kind: action.kind(),
                enabled: o.enabled,
                working_dir,
                input_dir,
                input_from,
                output_dir: output_dir.clone(),
                plot_dir,
                exif_dir,
                frames: None,
            });
            if o.enabled {
                last_writer.insert(output_dir.clone(), index);
                previous_output = Some((output_dir, index));
            }
        }

        let enabled: Vec<usize> = plans.iter().filter(|p| p.enabled).map(|p| p.index).collect();
        // Folders that exist before the job: check them, and their frames' headers.
        for &k in &enabled {
            let p = &plans[k];
            if !p.working_dir.is_dir() {
                return Err(missing(p, "working_path", &p.working_dir));
            }
            if p.input_from.is_none() {
                if !p.input_dir.is_dir() {
                    return Err(missing(p, "input_path", &p.input_dir));
                }
                let files = list_frames(&p.input_dir).map_err(|e| JobError::frames(&p.name, e))?;
                let info = check_stack(&files).map_err(|e| JobError::frames(&p.name, e))?;
                let jpeg = self.actions[k].options().output_format == Some(FileFormat::Jpeg);
                if jpeg && info.format.layout.has_alpha() {
                    return Err(JobError::option(
                        &p.name,
                        "output_format",
                        format!("JPEG cannot hold the alpha channel of these {info} frames"),
                    ));
                }
                plans[k].frames = Some(files.len());
            }
            let p = &plans[k];
            let produced =
                |dir: &Path| enabled.iter().any(|&j| j < k && plans[j].output_dir == dir);
            if let Some(exif) = p.exif_dir.as_ref().filter(|e| !produced(e)) {
                if !exif.is_dir() {
                    return Err(missing(p, "exif_path", exif));
                }
                list_frames(exif).map_err(|e| JobError::frames(&p.name, e))?;
            }
        }
        check_safety(&self.actions, &plans, &enabled, &job_working)?;
        Ok(JobPlan { job: self.name.clone(), actions: plans })
    }

    /// Validates the job ([`StackJob::plan`]), then runs its enabled actions in order,
    /// reporting progress and honouring cancellation through `progress`.
    ///
    /// Progress phases are named `"<action>: <phase>"`, where the phase is `stack`
    /// (a FocusStack), `bunch i/n` (a FocusStackBunch), `denoise`, `sharpen`; the
    /// stacking phases count frames read, `denoise` counts bands of rows. Depth maps
    /// and PyramidAutoStack's choices are in the summary ([`ActionSummary::plots`],
    /// [`ActionSummary::notes`]). After all actions succeeded, the output
    /// folders of actions with `delete_output_at_end` are removed.
    pub fn run(&self, progress: &dyn Progress) -> Result<JobSummary> {
        let started = Instant::now();
        let plan = self.plan()?;
        let mut actions = Vec::with_capacity(plan.actions.len());
        let claims = Claims::default();
        for (action, p) in self.actions.iter().zip(&plan.actions) {
            if !p.enabled {
                actions.push(ActionSummary::skipped(p));
                continue;
            }
            let created = !p.output_dir.exists();
            let summary = self.run_action(action, p, &claims, progress);
            if summary.is_err() {
                output::remove_temporaries(&p.output_dir);
                if created {
                    // A folder made for outputs that never came is not left behind.
                    output::remove_if_unused(&p.output_dir);
                }
            }
            let earlier: Vec<PathBuf> = actions.iter().flat_map(|a| a.outputs.clone()).collect();
            actions.push(summary.map_err(|e| e.with_earlier_outputs(&earlier))?);
        }
        for (action, summary) in self.actions.iter().zip(actions.iter_mut()) {
            if summary.enabled && action.options().delete_output_at_end {
                summary.output_deleted =
                    output::delete_folder(&summary.output_dir, &summary.outputs)?;
            }
        }
        Ok(JobSummary { name: self.name.clone(), actions, elapsed: started.elapsed() })
    }

    fn run_action(
        &self,
        action: &Action,
        p: &ActionPlan,
        claims: &Claims,
        progress: &dyn Progress,
    ) -> Result<ActionSummary> {
        let started = Instant::now();
        let name = p.name.as_str();
        let o = action.options();
        progress.check_cancelled().map_err(|e| JobError::frames(name, e))?;
        output::prepare(&p.output_dir, o.scratch_output_dir, &self.name, name)?;
        let files = list_frames(&p.input_dir).map_err(|e| JobError::frames(name, e))?;
        claims.inputs(name, &files);
        if let Action::CombinedActions(c) = action {
            let (outputs, notes, alignment) =
                crate::align::run_combined(c, p, &files, self, claims, progress)?;
            return Ok(ActionSummary {
                name: p.name.clone(),
                kind: p.kind,
                enabled: true,
                input_dir: p.input_dir.clone(),
                output_dir: p.output_dir.clone(),
                frames_read: files.len(),
                outputs,
                stacked: Vec::new(),
                plots: Vec::new(),
                notes,
                alignment,
                output_deleted: false,
                elapsed: started.elapsed(),
            });
        }
        // Bunches are aligned to the reference of the whole stack, so all their
        // outputs share one geometry.
        let bounded = match (action.stacker(), files.first()) {
            (Some(stacker), Some(first)) => {
                let info =
                    fs_core::read_frame_info(first).map_err(|e| JobError::frames(name, e))?;
                stacker.memory_bounded(info)
            }
            _ => false,
        };
        let develop = o.develop(&files, name)?;
        let aligner = crate::align::prepare(o, &files, name, bounded, &develop, progress)?;

        let exif = match &p.exif_dir {
            None => ExifSource::Off,
            Some(dir) if *dir == p.input_dir => ExifSource::FirstOfStack,
            Some(dir) => {
                let first = list_frames(dir).map_err(|e| JobError::frames(name, e))?;
                let frame = read_frame(&first[0]).map_err(|e| JobError::frames(name, e))?;
                ExifSource::Fixed(frame.metadata)
            }
        };
        let groups = match action {
            Action::FocusStackBunch(b) => b.bunches(files.len()),
            _ => {
                let whole = 0..files.len();
                vec![whole]
            }
        };
        let filters = PostFilters::from_options(o);
        let write_options = WriteOptions {
            jpeg_quality: self.jpeg_quality,
            metadata: !matches!(exif, ExifSource::Off),
            overwrite: self.overwrite,
        };
        let mut outputs = Vec::with_capacity(groups.len());
        let (mut plots, mut notes, mut alignment) = (Vec::new(), Vec::new(), Vec::new());
        let mut stacked_outputs = Vec::with_capacity(groups.len());
        let mut stack_one = |i: usize,
                             range: &std::ops::Range<usize>,
                             outputs: &mut Vec<PathBuf>|
         -> Result<()> {
            let paths = &files[range.clone()];
            let phase = match action.kind() {
                ActionKind::FocusStackBunch => format!("bunch {}/{}", i + 1, groups.len()),
                _ => "stack".to_string(),
            };
            let out_path = p.output_dir.join(output_name(&o.prefix, &paths[0], o.output_format));
            let copy_through = paths.len() == 1
                && filters.is_empty()
                && !action.plots()
                && o.balance.is_none()
                && o.align.is_none()
                && matches!(exif, ExifSource::FirstOfStack)
                && FileFormat::from_path(&paths[0]) == FileFormat::from_path(&out_path);
            claims.output(name, &out_path)?;
            if copy_through {
                progress.phase(&format!("{name}: {phase}"), 1);
                let info =
                    fs_core::read_frame_info(&paths[0]).map_err(|e| JobError::frames(name, e))?;
                fs_core::copy_atomic(&paths[0], &out_path, self.overwrite)
                    .map_err(|e| JobError::frames(name, e))?;
                progress.step(1);
                outputs.push(out_path);
                stacked_outputs.push(StackedOutput {
                    frames: 1,
                    width: info.width,
                    height: info.height,
                });
                return Ok(());
            }
            let context = StackContext { working_dir: &p.working_dir };
            let group =
                Group { paths, offset: range.start, aligner: aligner.as_ref(), develop: &develop };
            let crop = o.crop && action.kind() == ActionKind::FocusStack;
            let stacker = action.stacker().expect("stacking actions have a stacker");
            let mut stacked = stack_group(stacker, &context, name, &phase, group, crop, progress)?;
            notes.extend(stacked.note.take());
            let bunch = (action.kind() == ActionKind::FocusStackBunch).then_some(&paths[0]);
            let plot_target = PlotTarget { dir: &p.plot_dir, overwrite: self.overwrite, claims };
            plots.extend(write_plots(&mut stacked, name, bunch, &plot_target)?);
            notes.extend(std::mem::take(&mut stacked.align_notes));
            let left_out = stacked.align_reports.iter().filter(|r| r.skipped.is_some()).count();
            alignment.extend(std::mem::take(&mut stacked.align_reports));
            let float_type = action.stacker().map(Stacker::float_type).unwrap_or_default();
            let mut frame = filters.apply(stacked.frame, float_type, name, progress)?;
            match &exif {
                ExifSource::Off => frame.metadata = Metadata::default(),
                ExifSource::FirstOfStack => {}
                ExifSource::Fixed(m) => frame.metadata = m.clone(),
            }
            if FileFormat::from_path(&out_path) == Some(FileFormat::Jpeg) {
                frame = to_eight_bit(frame).map_err(|e| JobError::frames(name, e))?;
            }
            progress.check_cancelled().map_err(|e| JobError::frames(name, e))?;
            write_frame(&out_path, &frame, &write_options)
                .map_err(|e| JobError::frames(name, e))?;
            outputs.push(out_path);
            stacked_outputs.push(StackedOutput {
                frames: paths.len() - left_out,
                width: frame.width(),
                height: frame.height(),
            });
            Ok(())
        };
        for (i, range) in groups.iter().enumerate() {
            if let Err(e) = stack_one(i, range, &mut outputs) {
                // What was finished stays: say so.
                return Err(e.with_earlier_outputs(&outputs));
            }
        }
        Ok(ActionSummary {
            name: p.name.clone(),
            kind: p.kind,
            enabled: true,
            input_dir: p.input_dir.clone(),
            output_dir: p.output_dir.clone(),
            frames_read: files.len(),
            outputs,
            stacked: stacked_outputs,
            plots,
            notes,
            alignment,
            output_deleted: false,
            elapsed: started.elapsed(),
        })
    }
}

fn missing(p: &ActionPlan, option: &'static str, path: &Path) -> JobError {
    JobError::MissingFolder { action: p.name.clone(), option, path: path.to_path_buf() }
}

/// The safety rules of the spec: an output folder never is, lies inside or lies
/// above a folder the job reads (inputs, EXIF sources) or a working folder; an
/// output folder shared by two actions is refused when one of them would empty or
/// remove it; `scratch_output_dir` on a folder fstack does not own is refused.
fn check_safety(
    actions: &[Action],
    plans: &[ActionPlan],
    enabled: &[usize],
    job_working: &Path,
) -> Result<()> {
    for &k in enabled {
        let p = &plans[k];
        let out = &p.output_dir;
        let refuse = |relation: Relation, what: String, other: &Path| JobError::UnsafeOutput {
            action: p.name.clone(),
            output: out.clone(),
            relation: relation.words(),
            what,
            other: other.to_path_buf(),
        };
        for (dir, what) in
            [(job_working, "job's working folder"), (&p.working_dir, "working folder")]
        {
            let r = Relation::of(out, dir);
            if matches!(r, Relation::Same | Relation::Above) {
                return Err(refuse(r, what.to_string(), dir));
            }
        }
        for &j in enabled {
            let q = &plans[j];
            let r = Relation::of(out, &q.input_dir);
            // A later action reading exactly this output is the normal chain.
            let chained = r == Relation::Same && j > k;
            if r != Relation::Apart && !chained {
                let whose = if j == k { "its own".to_string() } else { format!("`{}`'s", q.name) };
                return Err(refuse(r, format!("input folder ({whose})"), &q.input_dir));
            }
            if let Some(exif) = &q.exif_dir {
                let r = Relation::of(out, exif);
                let chained = r == Relation::Same && j > k;
                if r != Relation::Apart && !chained {
                    return Err(refuse(r, format!("exif_path folder of `{}`", q.name), exif));
                }
            }
            // Shared output folders, seen from the later action.
            if j < k && q.output_dir == *out {
                let ok = actions[k].options();
                let oj = actions[j].options();
                if ok.scratch_output_dir || ok.delete_output_at_end || oj.delete_output_at_end {
                    return Err(refuse(
                        Relation::Same,
                        format!(
                            "output folder of `{}` (shared output folders cannot be emptied \
                             or deleted)",
                            q.name
                        ),
                        &q.output_dir,
                    ));
                }
            }
        }
        // Depth maps are images: written into a folder the job reads or writes, they
        // would be stacked as frames, or emptied.
        if actions[k].plots() {
            for &j in enabled {
                let q = &plans[j];
                let clash = [
                    (Some(&q.input_dir), "input"),
                    (q.exif_dir.as_ref(), "exif_path"),
                    (Some(&q.output_dir), "output"),
                ]
                .into_iter()
                .find(|(dir, _)| *dir == Some(&p.plot_dir));
                if let Some((_, what)) = clash {
                    return Err(JobError::option(
                        &p.name,
                        "plot_path",
                        format!(
                            "the plot folder {} is the {what} folder of `{}`; depth maps \
                             need a folder of their own",
                            p.plot_dir.display(),
                            q.name
                        ),
                    ));
                }
            }
        }
        let scratch = actions[k].options().scratch_output_dir;
        if let (true, Ownership::Foreign { entries }) = (scratch, output::ownership(out)?) {
            return Err(JobError::NotOwned {
                action: p.name.clone(),
                path: out.clone(),
                files: entries,
            });
        }
    }
    Ok(())
}

/// Where the EXIF/ICC of an action's outputs comes from.
#[derive(Debug)]
enum ExifSource {
    /// None written.
    Off,
    /// The first frame of each stack or bunch (the exif folder is the input folder).
    FirstOfStack,
    /// The first frame of another folder.
    Fixed(Metadata),
}

/// `prefix` + the first frame's file name, with the extension of `format` if given.
pub(crate) fn output_name(prefix: &str, first: &Path, format: Option<FileFormat>) -> String {
    let file = first.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    // A RAW frame's output is developed: 16-bit TIFF unless a format is given.
    let format = format
        .or_else(|| FileFormat::from_path(first).filter(|f| f.is_raw()).map(FileFormat::output));
    match format {
        Some(f) if FileFormat::from_path(first) != Some(f) => {
            let stem = first.file_stem().map(|n| n.to_string_lossy()).unwrap_or_default();
            format!("{prefix}{stem}.{}", f.extension())
        }
        _ => format!("{prefix}{file}"),
    }
}

/// The frames of one stack or bunch: their files, where they start in the action's
/// stack, and the aligner (in-memory alignment or balance) if any.
pub(crate) struct Group<'a> {
    pub paths: &'a [PathBuf],
    pub offset: usize,
    pub aligner: Option<&'a crate::align::Prepared>,
    /// The development of the stack's RAW frames.
    pub develop: &'a fs_core::Develop,
}

/// Reads the group's frames (checked against the first), aligns them when asked,
/// and stacks them; a single frame without alignment is returned as read.
pub(crate) fn stack_group(
    stacker: &Stacker,
    context: &StackContext<'_>,
    name: &str,
    phase: &str,
    group: Group<'_>,
    crop: bool,
    progress: &dyn Progress,
) -> Result<Stacked> {
    let paths = group.paths;
    progress.phase(&format!("{name}: {phase}"), paths.len() as u64);
    if let Some(aligner) = group.aligner {
        // The reference frame, decoded to build the aligner, is not decoded again.
        let frames =
            CountingFrames { inner: aligner.frames(paths, group.offset), progress, done: 0 };
        return crate::align::stack_aligned(
            aligner,
            frames,
            group.offset,
            crop,
            !aligner.memory_bounded(),
            |frames| stacker.stack(frames, context, &CancelOnly(progress)),
            name,
        );
    }
    let inner = PathFrames::new(paths.to_vec()).with_develop(group.develop.clone());
    let frames = CountingFrames { inner, progress, done: 0 };
    if paths.len() == 1 && !stacker.plots() {
        let mut frames = frames;
        let frame = frames.next().expect("one path gives one frame");
        let frame = frame.map_err(|e| JobError::frames(name, e))?;
        return Ok(Stacked::plain(frame));
    }
    if let Stacker::FocusMap(o) = stacker {
        // Its work per frame is small next to decoding one: decode on every core
        // (the other stackers hold more per frame in flight, or bound their memory),
        // unless its memory limit says one at a time.
        let info = fs_core::read_frame_info(&paths[0]).map_err(|e| JobError::frames(name, e))?;
        let ahead = crate::algorithms::FocusMapStack { options: *o }.memory_plan(info).decode_ahead;
        if ahead > 0 {
            let inner = fs_core::DecodeAhead::new(paths.to_vec(), ahead)
                .with_develop(group.develop.clone());
            let frames = CountingFrames { inner, progress, done: 0 };
            return stacker
                .stack(frames, context, &CancelOnly(progress))
                .map_err(|e| crate::stacker::job_error(name, e));
        }
    }
    stacker
        .stack(frames, context, &CancelOnly(progress))
        .map_err(|e| crate::stacker::job_error(name, e))
}

/// What a plot file is: the last part of its name.
const DEPTH_MAP_SUFFIX: &str = "-depth-map.png";
const CONFIDENCE_MAP_SUFFIX: &str = "-confidence-map.png";

/// Where plots go, under the rules of every output: the job's [`Overwrite`], never
/// over a file the run reads or wrote.
struct PlotTarget<'a> {
    dir: &'a Path,
    overwrite: Overwrite,
    claims: &'a Claims,
}

/// Writes the maps of one stack (or bunch) into the plot folder (created if missing)
/// and returns their paths, depth map first: `<action><suffix>`, or for a bunch
/// (`bunch` = its first frame) `<action>-<stem of the first frame><suffix>`.
fn write_plots(
    stacked: &mut Stacked,
    name: &str,
    bunch: Option<&PathBuf>,
    target: &PlotTarget<'_>,
) -> Result<Vec<PathBuf>> {
    let plot_dir = target.dir;
    let mut written = Vec::new();
    let maps = [
        (stacked.depth_map.take(), DEPTH_MAP_SUFFIX),
        (stacked.confidence_map.take(), CONFIDENCE_MAP_SUFFIX),
    ];
    for (map, suffix) in maps {
        let Some(map) = map else { continue };
        let file = match bunch {
            Some(first) => {
                let stem = first.file_stem().unwrap_or_default().to_string_lossy();
                format!("{name}-{stem}{suffix}")
            }
            None => format!("{name}{suffix}"),
        };
        std::fs::create_dir_all(plot_dir).map_err(|e| JobError::io(plot_dir, e))?;
        let path = plot_dir.join(file);
        target.claims.output(name, &path)?;
        let options = WriteOptions { overwrite: target.overwrite, ..WriteOptions::default() };
        write_frame(&path, &map, &options).map_err(|e| JobError::frames(name, e))?;
        written.push(path);
    }
    Ok(written)
}

/// Frames of a stack that report each frame read and stop when cancelled.
pub(crate) struct CountingFrames<'a, I = PathFrames> {
    pub inner: I,
    pub progress: &'a dyn Progress,
    pub done: u64,
}

impl<I: Iterator<Item = fs_core::Result<Frame>>> Iterator for CountingFrames<'_, I> {
    type Item = fs_core::Result<Frame>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.progress.is_cancelled() {
            return Some(Err(fs_core::CoreError::Cancelled));
        }
        let item = self.inner.next()?;
        self.done += 1;
        self.progress.step(self.done);
        Some(item)
    }

    /// The frame count lets PyramidAutoStack estimate the memory a stack needs.
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// Passes cancellation to a stacker, and not its own phases: the job reports frames.
pub(crate) struct CancelOnly<'a>(pub &'a dyn Progress);

impl Progress for CancelOnly<'_> {
    fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}

/// The files one run reads and writes, so that no write replaces one of them: not an
/// input frame (even with [`Overwrite::Replace`]), not another output of the run
/// (two actions sharing an output folder, or a plot folder, with the same names).
#[derive(Debug, Default)]
pub(crate) struct Claims(std::sync::Mutex<std::collections::HashMap<PathBuf, Claim>>);

#[derive(Debug)]
enum Claim {
    Input(String),
    Output(String),
}

impl Claims {
    /// Records the frames `action` reads (an output read by a later action stays an
    /// output).
    pub(crate) fn inputs(&self, action: &str, files: &[PathBuf]) {
        let mut map = self.0.lock().expect("claims lock");
        for f in files {
            map.entry(f.clone()).or_insert_with(|| Claim::Input(action.to_string()));
        }
    }

    /// Claims `path` for a write of `action`: an error when the run reads it or has
    /// written it.
    pub(crate) fn output(&self, action: &str, path: &Path) -> Result<()> {
        let mut map = self.0.lock().expect("claims lock");
        let what = match map.get(path) {
            None => {
                map.insert(path.to_path_buf(), Claim::Output(action.to_string()));
                return Ok(());
            }
            Some(Claim::Input(a)) => format!("an input frame of action `{a}`"),
            Some(Claim::Output(a)) => format!("already written by action `{a}` in this run"),
        };
        Err(JobError::Clash { action: action.to_string(), path: path.to_path_buf(), what })
    }
}

/// JPEG holds 8 bits: 16-bit samples are rounded to the nearest 8-bit value.
pub(crate) fn to_eight_bit(frame: Frame) -> fs_core::Result<Frame> {
    let Samples::U16(s) = frame.samples() else { return Ok(frame) };
    let eight: Vec<u8> = s.iter().map(|&v| ((u32::from(v) * 255 + 32767) / 65535) as u8).collect();
    let info = frame.info();
    let info = FrameInfo { format: PixelFormat { depth: BitDepth::Eight, ..info.format }, ..info };
    let mut out = Frame::new(info, Samples::U8(eight))?.with_metadata(frame.metadata);
    out.source = frame.source;
    Ok(out)
}

/// The resolved folders of a job, from [`StackJob::plan`].
#[derive(Debug, Clone)]
pub struct JobPlan {
    /// The job's name.
    pub job: String,
    /// One entry per action, disabled ones included.
    pub actions: Vec<ActionPlan>,
}

/// The resolved folders of one action.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ActionPlan {
    /// Position in the job.
    pub index: usize,
    /// The action's name.
    pub name: String,
    /// FocusStack or FocusStackBunch.
    pub kind: ActionKind,
    /// Whether it runs.
    pub enabled: bool,
    /// Its working folder.
    pub working_dir: PathBuf,
    /// The folder it stacks.
    pub input_dir: PathBuf,
    /// The earlier action whose output it reads, if any.
    pub input_from: Option<usize>,
    /// The folder it writes.
    pub output_dir: PathBuf,
    /// The folder for its plots.
    pub plot_dir: PathBuf,
    /// Where the EXIF of its outputs comes from (`None`: no EXIF).
    pub exif_dir: Option<PathBuf>,
    /// How many frames its input holds, when the input exists before the job.
    pub frames: Option<usize>,
}

/// What a run did, for the caller to print.
#[derive(Debug, Clone)]
pub struct JobSummary {
    /// The job's name.
    pub name: String,
    /// One entry per action, disabled ones included.
    pub actions: Vec<ActionSummary>,
    /// Wall time of the whole job.
    pub elapsed: Duration,
}

impl JobSummary {
    /// The files the job wrote that are still there (not in a deleted output folder).
    pub fn outputs(&self) -> impl Iterator<Item = &Path> {
        self.actions
            .iter()
            .filter(|a| !a.output_deleted)
            .flat_map(|a| a.outputs.iter())
            .map(|p| p.as_path())
    }
}

/// What one action did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ActionSummary {
    /// The action's name.
    pub name: String,
    /// FocusStack or FocusStackBunch.
    pub kind: ActionKind,
    /// False when the action was skipped (`enabled = false`).
    pub enabled: bool,
    /// The folder it stacked.
    pub input_dir: PathBuf,
    /// The folder it wrote.
    pub output_dir: PathBuf,
    /// How many input frames it read.
    pub frames_read: usize,
    /// The files it wrote, in order.
    pub outputs: Vec<PathBuf>,
    /// For each stacked output (FocusStack, FocusStackBunch; in the order of
    /// [`ActionSummary::outputs`]), how many frames went into it and its size: frames
    /// left out by alignment do not count, and the size is the (cropped) output's.
    /// Empty for CombinedActions, whose outputs are the frames themselves.
    pub stacked: Vec<StackedOutput>,
    /// The plots it wrote, in order (per stack or bunch its depth map, then its
    /// confidence map): depth maps of DepthMapStack with `plot_depth_map` and of
    /// FocusMapStack with `depth_map`, `<plot folder>/<action>-depth-map.png`, and
    /// confidence maps of FocusMapStack with `confidence_map`,
    /// `<plot folder>/<action>-confidence-map.png`; for a FocusStackBunch one per
    /// bunch, `<plot folder>/<action>-<first frame's stem>-depth-map.png` (and
    /// `-confidence-map.png`). [`ActionSummary::depth_maps`] and
    /// [`ActionSummary::confidence_maps`] tell them apart. They stay when the output
    /// folder is deleted.
    pub plots: Vec<PathBuf>,
    /// One line per stack (or bunch) about how it was stacked, for the caller to
    /// print: what PyramidAutoStack chose and why. Empty for the other stackers.
    pub notes: Vec<String>,
    /// What alignment did to each frame (per stack or bunch, in stack order), when
    /// it aligned: how (features, intensity, predicted, left out), the transform and
    /// its magnification, the matches.
    pub alignment: Vec<crate::FrameReport>,
    /// Whether its output folder was removed at the end (`delete_output_at_end`).
    pub output_deleted: bool,
    /// Wall time of the action.
    pub elapsed: Duration,
}

/// What went into one stacked output and its size (see [`ActionSummary::stacked`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackedOutput {
    /// Frames stacked (those alignment left out are not counted).
    pub frames: usize,
    /// Width of the output in pixels (after cropping).
    pub width: usize,
    /// Height of the output in pixels (after cropping).
    pub height: usize,
}

impl ActionSummary {
    /// The depth maps among [`ActionSummary::plots`], in order.
    pub fn depth_maps(&self) -> impl Iterator<Item = &Path> {
        self.plots_named(DEPTH_MAP_SUFFIX)
    }

    /// The confidence maps among [`ActionSummary::plots`], in order.
    pub fn confidence_maps(&self) -> impl Iterator<Item = &Path> {
        self.plots_named(CONFIDENCE_MAP_SUFFIX)
    }

    fn plots_named(&self, suffix: &'static str) -> impl Iterator<Item = &Path> {
        self.plots
            .iter()
            .map(PathBuf::as_path)
            .filter(move |p| p.file_name().is_some_and(|n| n.to_string_lossy().ends_with(suffix)))
    }

    fn skipped(p: &ActionPlan) -> Self {
        Self {
            name: p.name.clone(),
            kind: p.kind,
            enabled: false,
            input_dir: p.input_dir.clone(),
            output_dir: p.output_dir.clone(),
            frames_read: 0,
            outputs: Vec::new(),
            stacked: Vec::new(),
            plots: Vec::new(),
            notes: Vec::new(),
            alignment: Vec::new(),
            output_deleted: false,
            elapsed: Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_take_prefix_and_format() {
        let first = Path::new("/in/img_0003.JPG");
        assert_eq!(output_name("", first, None), "img_0003.JPG");
        assert_eq!(output_name("pyr_", first, None), "pyr_img_0003.JPG");
        assert_eq!(output_name("", first, Some(FileFormat::Jpeg)), "img_0003.JPG");
        assert_eq!(output_name("s-", first, Some(FileFormat::Tiff)), "s-img_0003.tif");
    }

    /// A 16-bit gray map of `w`x`h` holding `v` everywhere.
    fn map16(w: usize, h: usize, v: u16) -> Frame {
        let format = PixelFormat { layout: fs_core::ChannelLayout::Gray, depth: BitDepth::Sixteen };
        Frame::new(FrameInfo { width: w, height: h, format }, Samples::U16(vec![v; w * h])).unwrap()
    }

    #[test]
    fn plots_are_named_after_the_action_and_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let plots = dir.path().join("plots");
        let image = map16(3, 2, 0);
        // A stack: both maps, depth map first; the folder is created.
        let mut stacked = Stacked {
            depth_map: Some(map16(3, 2, 65535)),
            confidence_map: Some(map16(3, 2, 1234)),
            ..Stacked::plain(image.clone())
        };
        let claims = Claims::default();
        let target = PlotTarget { dir: &plots, overwrite: Overwrite::Refuse, claims: &claims };
        let written = write_plots(&mut stacked, "fm", None, &target).unwrap();
        let depth = plots.join("fm-depth-map.png");
        let confidence = plots.join("fm-confidence-map.png");
        assert_eq!(written, [depth.clone(), confidence.clone()]);
        assert!(stacked.depth_map.is_none() && stacked.confidence_map.is_none(), "taken");
        for (path, value) in [(&depth, 65535), (&confidence, 1234)] {
            let map = fs_core::read_frame(path).unwrap();
            assert_eq!((map.width(), map.height()), (3, 2));
            assert_eq!(map.format().layout, fs_core::ChannelLayout::Gray);
            assert_eq!(map.samples(), &Samples::U16(vec![value; 6]), "16 bits kept");
        }
        // A bunch: named after its first frame; only the maps that exist.
        let mut stacked =
            Stacked { confidence_map: Some(map16(3, 2, 7)), ..Stacked::plain(image.clone()) };
        let first = PathBuf::from("/in/img_0004.tif");
        let bunch = write_plots(&mut stacked, "b", Some(&first), &target).unwrap();
        assert_eq!(bunch, [plots.join("b-img_0004-confidence-map.png")]);
        assert!(
            write_plots(&mut Stacked::plain(image.clone()), "none", None, &target)
                .unwrap()
                .is_empty()
        );
        // Written once in a run: a second write of the same map is refused, and an
        // existing map is kept without Replace.
        let mut again =
            Stacked { depth_map: Some(map16(3, 2, 1)), ..Stacked::plain(image.clone()) };
        let e = write_plots(&mut again, "fm", None, &target).unwrap_err();
        assert!(matches!(e, JobError::Clash { .. }), "{e}");
        let fresh = Claims::default();
        let refuse = PlotTarget { dir: &plots, overwrite: Overwrite::Refuse, claims: &fresh };
        let mut again = Stacked { depth_map: Some(map16(3, 2, 1)), ..Stacked::plain(image) };
        let e = write_plots(&mut again, "fm", None, &refuse).unwrap_err();
        assert!(e.to_string().contains("fm-depth-map.png: already exists"), "{e}");
        assert_eq!(fs_core::read_frame(&depth).unwrap().samples(), &Samples::U16(vec![65535; 6]));

        // The summary picks them apart by name, also for an action named like a map.
        let odd = plots.join("x-confidence-map-depth-map.png");
        let summary = ActionSummary {
            plots: vec![depth.clone(), confidence.clone(), bunch[0].clone(), odd.clone()],
            ..ActionSummary::skipped(&ActionPlan {
                index: 0,
                name: "fm".into(),
                kind: ActionKind::FocusStack,
                enabled: true,
                working_dir: dir.path().into(),
                input_dir: dir.path().into(),
                input_from: None,
                output_dir: dir.path().into(),
                plot_dir: plots.clone(),
                exif_dir: None,
                frames: None,
            })
        };
        assert_eq!(summary.depth_maps().collect::<Vec<_>>(), [depth.as_path(), odd.as_path()]);
        assert_eq!(
            summary.confidence_maps().collect::<Vec<_>>(),
            [confidence.as_path(), bunch[0].as_path()]
        );
    }

    #[test]
    fn sixteen_bit_rounds_to_eight() {
        let info = FrameInfo {
            width: 4,
            height: 1,
            format: PixelFormat { layout: fs_core::ChannelLayout::Gray, depth: BitDepth::Sixteen },
        };
        let f = Frame::new(info, Samples::U16(vec![0, 128, 257 * 100 + 128, 65535])).unwrap();
        let e = to_eight_bit(f).unwrap();
        assert_eq!(e.samples(), &Samples::U8(vec![0, 0, 100, 255]));
        assert_eq!(e.format().depth, BitDepth::Eight);
    }
}
