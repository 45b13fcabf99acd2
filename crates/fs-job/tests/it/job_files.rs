//! TOML job files and ShineStacker projects: parsing, messages, a seed corpus, and
//! random mutations of it (the CI form of the fuzz target in `fuzz/`).

use std::path::{Path, PathBuf};

use fs_core::{FileFormat, FloatType, NoProgress};
use fs_job::{
    Action, JobError, ProjectOptions, StackJob, Stacker, load_job_file, parse_job_toml,
    parse_project,
};
use proptest::prelude::*;

use crate::common::*;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn corpus() -> Vec<(PathBuf, String)> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(corpus_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.into_iter().map(|p| (p.clone(), std::fs::read_to_string(&p).unwrap())).collect()
}

/// Parses `text` as what its name says; both parsers for anything else.
fn parse_any(text: &str, fsp: bool) -> Result<Vec<StackJob>, JobError> {
    let here = Path::new("/base");
    if fsp {
        parse_project(text, here, Path::new("p.fsp"), ProjectOptions::default()).map(|l| l.jobs)
    } else {
        parse_job_toml(text, here, Path::new("j.toml")).map(|j| vec![j])
    }
}

/// The ```toml block of docs/job-files.md.
fn documented_example() -> String {
    let doc = include_str!("../../../../docs/job-files.md");
    let start = doc.find("```toml\n").unwrap() + "```toml\n".len();
    doc[start..].split("```").next().unwrap().to_string()
}

fn pyramid(action: &Action) -> &fs_job::PyramidOptions {
    match action.stacker().unwrap() {
        Stacker::Pyramid(o) => o,
        other => panic!("not a pyramid stacker: {other:?}"),
    }
}

#[test]
fn the_documented_example_says_what_the_rust_api_says() {
    let job =
        parse_job_toml(&documented_example(), Path::new("/jobs"), Path::new("doc.toml")).unwrap();
    assert_eq!(job.name, "fly");
    assert_eq!(job.working_path, Path::new("/jobs/."));
    assert_eq!(job.input_path.as_deref(), Some(Path::new("src")));
    assert_eq!(job.jpeg_quality, 95);
    assert_eq!(job.actions.len(), 4);
    let Action::FocusStackBunch(b) = &job.actions[0] else { panic!("not a bunch") };
    assert_eq!((b.name.as_str(), b.frames, b.overlap), ("bunches", 10, 2));
    assert_eq!(b.options.denoise_amount, 0.8);
    assert!(b.options.delete_output_at_end && b.options.scratch_output_dir);
    assert_eq!(pyramid(&job.actions[0]).float_type, FloatType::F32);
    let Action::FocusStack(s) = &job.actions[1] else { panic!("not a stack") };
    assert_eq!(s.options.output_path.as_deref(), Some(Path::new("final")));
    assert_eq!(s.options.prefix, "pyr_");
    assert_eq!(s.options.exif_path.as_deref(), Some(Path::new("src")));
    assert_eq!(s.options.sharpen_amount_percent, 60.0);
    assert_eq!(s.options.output_format, Some(FileFormat::Tiff));
    assert_eq!(s.options.plot_path, Path::new("plots"));
    assert_eq!(pyramid(&job.actions[1]).pyramid_min_size, 64);
    assert_eq!(pyramid(&job.actions[1]).gen_kernel, 0.4);
    assert_eq!(pyramid(&job.actions[0]).noise_guard, 2.0);
    let Stacker::DepthMap(dm) = job.actions[2].stacker().unwrap() else {
        panic!("not a depth map")
    };
    assert_eq!((dm.map_type, dm.energy), (fs_job::MapType::Max, fs_job::Energy::Tenengrad));
    assert_eq!((dm.temperature, dm.energy_smooth_size, dm.plot_depth_map), (0.1, 5, true));
    assert_eq!(job.actions[2].options().input_path.as_deref(), Some(Path::new("bunches")));
    assert!(!job.actions[3].options().enabled);
}

#[test]
fn unknown_keys_are_errors_naming_key_and_line() {
    let text = std::fs::read_to_string(corpus_dir().join("bad-unknown-key.toml")).unwrap();
    let err = parse_job_toml(&text, Path::new("."), Path::new("typo.toml")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("typo.toml: line 7, column 1: unknown field `frams`"), "{msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");

    let text = std::fs::read_to_string(corpus_dir().join("bad-unknown-stacker-key.toml")).unwrap();
    let msg = parse_job_toml(&text, Path::new("."), Path::new("s.toml")).unwrap_err().to_string();
    assert!(msg.starts_with("s.toml: line 10, column 1: unknown field `pyramid_minsize`"), "{msg}");

    let msg =
        parse_job_toml("name = 1", Path::new("."), Path::new("t.toml")).unwrap_err().to_string();
    assert!(msg.contains("line 1") && msg.contains("string"), "{msg}");
}

#[test]
fn options_of_another_action_or_stacker_and_missing_stackers_are_named() {
    let base = "name = \"j\"\ninput_path = \"src\"\n[[action]]\nname = \"s\"\n";
    let parse = |extra: &str| {
        parse_job_toml(&format!("{base}{extra}"), Path::new("."), Path::new("j.toml"))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        parse("type = \"FocusStack\"\nframes = 3\n"),
        "action `s`: invalid option `frames`: is an option of FocusStackBunch, not FocusStack"
    );
    let msg =
        parse("type = \"FocusStack\"\nstacker = { type = \"PyramidStack\", tile_size = 256 }\n");
    assert!(
        msg.starts_with("action `s`: invalid option `tile_size`: is not an option of PyramidStack"),
        "{msg}"
    );
    let msg = parse(
        "type = \"FocusStack\"\nstacker = { type = \"PyramidAutoStack\", memory_limit = \"512Q\" }\n",
    );
    assert!(msg.contains("512Q") && msg.contains("line 6"), "{msg}");
    let msg = parse("type = \"FocusStackBunch\"\nframes = 4\noverlap = 4\n");
    assert!(msg.contains("`overlap`: must be less than frames (4), got 4"), "{msg}");
    // The stacker may be just a name; its misspelling is found with its line.
    let ok = format!("{base}type = \"FocusStack\"\nstacker = \"PyramidStack\"\n");
    let job = parse_job_toml(&ok, Path::new("."), Path::new("j.toml")).unwrap();
    assert_eq!(pyramid(&job.actions[0]).pyramid_min_size, 32);
    let msg = parse("type = \"FocusStack\"\nstacker = \"PyramidStak\"\n");
    assert!(msg.starts_with("j.toml: line 6, column 11: unknown variant `PyramidStak`"), "{msg}");
    let msg = parse(
        "type = \"FocusStack\"\n[action.stacker]\ntype = \"PyramidStack\"\ngen_kernal = 0.3\n",
    );
    assert!(msg.starts_with("j.toml: line 8, column 1: unknown field `gen_kernal`"), "{msg}");
    // Every stacker the seed names is accepted, with its defaults.
    for kind in ["DepthMapStack", "PyramidTilesStack", "PyramidAutoStack"] {
        let text = format!("{base}type = \"FocusStack\"\nstacker = {{ type = \"{kind}\" }}\n");
        let job = parse_job_toml(&text, Path::new("."), Path::new("j.toml")).unwrap();
        assert_eq!(job.actions[0].stacker().unwrap().name(), kind);
    }
}

#[test]
fn white_balance_and_dng_output_are_job_keys() {
    let base =
        "name = \"j\"\ninput_path = \"src\"\n[[action]]\nname = \"s\"\ntype = \"FocusStack\"\n";
    let parse = |extra: &str| {
        parse_job_toml(&format!("{base}{extra}"), Path::new("."), Path::new("j.toml"))
    };
    let job = parse("white_balance = \"2,1,1.5\"\noutput_format = \"dng\"\n").unwrap();
    let o = job.actions[0].options();
    assert_eq!(o.white_balance, fs_core::WhiteBalance::Gains([2.0, 1.0, 1.5]));
    assert_eq!(o.output_format, Some(fs_core::FileFormat::Dng));
    let job = parse("white_balance = \"auto\"\n").unwrap();
    assert_eq!(job.actions[0].options().white_balance, fs_core::WhiteBalance::Auto);
    assert_eq!(
        parse("white_balance = \"warm\"\n").unwrap_err().to_string(),
        "action `s`: invalid option `white_balance`: `warm` is not as-shot, auto or three gains \
         R,G,B (e.g. 2.1,1,1.6)"
    );
}

#[test]
fn noise_guard_reaches_every_pyramid_stacker_and_is_checked() {
    let base =
        "name = \"j\"\ninput_path = \"src\"\n[[action]]\nname = \"s\"\ntype = \"FocusStack\"\n";
    let parse = |stacker: &str| {
        parse_job_toml(&format!("{base}stacker = {stacker}\n"), Path::new("."), Path::new("j.toml"))
    };
    // Not set: the default 3; set: it reaches the options of all three stackers.
    let job = parse("\"PyramidStack\"").unwrap();
    assert_eq!(pyramid(&job.actions[0]).noise_guard, 2.0);
    let job = parse("{ type = \"PyramidStack\", noise_guard = 0 }").unwrap();
    assert_eq!(pyramid(&job.actions[0]).noise_guard, 0.0);
    let job = parse("{ type = \"PyramidTilesStack\", noise_guard = 1.5 }").unwrap();
    let Stacker::Tiles(t) = job.actions[0].stacker().unwrap() else { panic!("not tiles") };
    assert_eq!(t.pyramid.noise_guard, 1.5);
    let job = parse("{ type = \"PyramidAutoStack\", noise_guard = 0.0 }").unwrap();
    let Stacker::Auto(a) = job.actions[0].stacker().unwrap() else { panic!("not auto") };
    assert_eq!(a.tiles.pyramid.noise_guard, 0.0);
    // Not an option of the depth-map stacker.
    let msg = parse("{ type = \"DepthMapStack\", noise_guard = 0 }").unwrap_err().to_string();
    assert!(
        msg.starts_with(
            "action `s`: invalid option `noise_guard`: is not an option of DepthMapStack"
        ),
        "{msg}"
    );
    // Out of range: the validate error naming the option, and the file when loaded.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("guard.toml");
    std::fs::write(
        &file,
        format!("{base}[action.stacker]\ntype = \"PyramidStack\"\nnoise_guard = -1\n"),
    )
    .unwrap();
    let msg = load_job_file(&file, ProjectOptions::default()).unwrap_err().to_string();
    assert_eq!(
        msg,
        format!(
            "{}: action `s`: invalid option `noise_guard`: must be 0 (off) to 100, got -1",
            file.display()
        )
    );
    let msg = parse("{ type = \"PyramidAutoStack\", noise_guard = 101 }").unwrap_err().to_string();
    assert!(msg.contains("`noise_guard`") && msg.contains("got 101"), "{msg}");
}

#[test]
fn a_toml_job_file_runs_with_paths_inside_its_folder() {
    let (_tmp, work) = workspace(5);
    let file = work.join("job.toml");
    std::fs::write(
        &file,
        "name = \"from-file\"\ninput_path = \"src\"\n\n[[action]]\ntype = \"FocusStackBunch\"\n\
         name = \"bunches\"\nframes = 3\noverlap = 1\n\n[[action]]\ntype = \"FocusStack\"\n\
         name = \"stack\"\nprefix = \"f_\"\n",
    )
    .unwrap();
    let loaded = load_job_file(&file, ProjectOptions::default()).unwrap();
    assert!(loaded.warnings.is_empty());
    let summary = loaded.jobs[0].run(&NoProgress).unwrap();
    assert_eq!(summary.actions[0].outputs.len(), 2);
    assert_eq!(summary.outputs().last().unwrap(), work.join("stack/f_img0.png"));
    assert!(work.join("stack/f_img0.png").is_file());

    // Errors found after parsing still name the file.
    let bad = work.join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"b\"\n[[action]]\ntype = \"FocusStackBunch\"\nname = \"x\"\nframes = 0\n",
    )
    .unwrap();
    let msg = load_job_file(&bad, ProjectOptions::default()).unwrap_err().to_string();
    assert_eq!(
        msg,
        format!(
            "{}: action `x`: invalid option `frames`: must be at least 1, got 0",
            bad.display()
        )
    );
    let msg = load_job_file(&work.join("job.yaml"), ProjectOptions::default()).unwrap_err();
    assert!(msg.to_string().contains("job.yaml"), "{msg}");
}

#[test]
fn a_shinestacker_project_maps_its_parameters() {
    let text = std::fs::read_to_string(corpus_dir().join("ok-project.fsp")).unwrap();
    let loaded =
        parse_project(&text, Path::new("/p"), Path::new("ok.fsp"), ProjectOptions::default())
            .unwrap();
    assert_eq!(loaded.jobs.len(), 1);
    let job = &loaded.jobs[0];
    assert_eq!(job.name, "focus-stack");
    assert_eq!(job.working_path, Path::new("/p/."));
    assert_eq!(job.input_path.as_deref(), Some(Path::new("input/img-tif")));
    let Action::FocusStackBunch(b) = &job.actions[0] else { panic!("not a bunch") };
    assert_eq!((b.frames, b.overlap), (4, 1));
    assert_eq!(b.options.input_path, None, "\"\" is not set");
    assert_eq!(b.options.output_path, None);
    assert_eq!(pyramid(&job.actions[0]).pyramid_min_size, 16);
    assert_eq!(pyramid(&job.actions[0]).float_type, FloatType::F64);
    // ShineStacker has no noise guard: imported projects keep fstack's default.
    assert_eq!(pyramid(&job.actions[0]).noise_guard, 2.0);
    let Action::FocusStack(s) = &job.actions[1] else { panic!("not a stack") };
    assert_eq!(s.options.prefix, "stack_");
    assert_eq!(s.options.exif_path, None);
    assert_eq!(s.options.sharpen_amount_percent, 50.0);
    assert!(!job.actions[2].options().enabled, "disabled depth-map action kept, skipped");
    assert!(
        loaded.warnings.iter().any(|w| w.contains("`depth` is disabled")),
        "{:?}",
        loaded.warnings
    );
    // GUI-only keys are not warned about; unknown ones are.
    assert!(!loaded.warnings.iter().any(|w| w.contains("plot_stack")));
    let text = text.replace("\"plot_stack\": false", "\"plot_stak\": false");
    let loaded =
        parse_project(&text, Path::new("/p"), Path::new("ok.fsp"), ProjectOptions::default())
            .unwrap();
    assert!(loaded.warnings.iter().any(|w| w.contains("`plot_stak`")), "{:?}", loaded.warnings);
}

#[test]
fn unsupported_project_actions_are_listed_in_one_error_or_skipped() {
    let text = std::fs::read_to_string(corpus_dir().join("bad-unsupported.fsp")).unwrap();
    let origin = Path::new("full.fsp");
    let err = parse_project(&text, Path::new("."), origin, ProjectOptions::default()).unwrap_err();
    let JobError::UnsupportedActions { actions, .. } = &err else { panic!("{err}") };
    assert_eq!(
        actions,
        &[
            "`align-and-register` (CombinedActions: MaskNoise, AlignFrames, BalanceFrames) in job `full`",
            "`multi` (MultiLayer) in job `full`",
            "`detect-noise` (NoiseDetection) in job `noise`",
        ]
    );
    assert!(!err.to_string().contains('\n'));
    assert!(
        err.to_string().ends_with(
            "remove or disable them, or skip them with `fstack run --skip-unsupported` \
             (ProjectOptions::skip_unsupported)"
        ),
        "{err}"
    );

    let loaded =
        parse_project(&text, Path::new("."), origin, ProjectOptions { skip_unsupported: true })
            .unwrap();
    assert_eq!(loaded.jobs.len(), 1, "the noise job has nothing left to run");
    assert_eq!(loaded.jobs[0].actions.len(), 2);
    assert_eq!(loaded.warnings.iter().filter(|w| w.starts_with("skipped")).count(), 3);
    assert!(loaded.warnings.contains(&"job `noise` has no action fstack can run: skipped".into()));

    let text = std::fs::read_to_string(corpus_dir().join("bad-depthmap-option.fsp")).unwrap();
    let err = parse_project(&text, Path::new("."), origin, ProjectOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "action `stack-dm`: invalid option `temperature`: must be a finite number >= 0, got -1"
    );
}

/// An action's name is its default output folder inside the working folder and the
/// start of its plots' names: a name that would leave the folder is refused, in job
/// files and projects alike, before anything is written.
#[test]
fn action_names_that_leave_the_working_folder_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("jobs");
    std::fs::create_dir_all(base.join("src")).unwrap();
    for name in ["../../escape", "/tmp/abs", "a\\b", "..", "."] {
        let toml = format!(
            "name = \"j\"\ninput_path = \"src\"\n[[action]]\ntype = \"FocusStack\"\nname = {name:?}\n"
        );
        let fsp = format!(
            r#"{{"project": [{{"type_name": "Job", "params": {{"name": "j", "working_path": ".", "input_path": "src"}}, "sub_actions": [{{"type_name": "FocusStack", "params": {{"name": {name:?}}}}}]}}], "version": 1}}"#
        );
        // Refused when the file is read or at the latest when the job is planned.
        let errors = [
            parse_job_toml(&toml, &base, Path::new("j.toml")).and_then(|j| j.plan().map(|_| ())),
            parse_project(&fsp, &base, Path::new("p.fsp"), ProjectOptions::default())
                .and_then(|l| l.jobs[0].plan().map(|_| ())),
        ];
        for e in errors {
            assert_eq!(
                e.unwrap_err().to_string(),
                format!(
                    "action `{name}`: invalid option `name`: must be a plain name, without / or \\ \
                     and not . or .. (it names the default output folder, inside the working \
                     folder, and the plots), got {name:?}"
                )
            );
        }
    }
    let mut left: Vec<_> = walk(tmp.path());
    left.sort();
    assert_eq!(left, [tmp.path().join("jobs"), tmp.path().join("jobs/src")], "nothing written");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all.extend(walk(&p));
        }
        all.push(p);
    }
    all
}

#[test]
fn project_syntax_and_type_errors_have_positions_and_names() {
    let msg = |name: &str| {
        let text = std::fs::read_to_string(corpus_dir().join(name)).unwrap();
        parse_any(&text, true).unwrap_err().to_string()
    };
    assert!(
        msg("bad-truncated.fsp").starts_with("p.fsp: line 2, column 0: EOF"),
        "{}",
        msg("bad-truncated.fsp")
    );
    assert_eq!(msg("bad-version.fsp"), "p.fsp: project version 2 is not supported (only 1)");
    assert_eq!(
        msg("bad-types.fsp"),
        "action `b`: invalid option `frames`: expected a whole number, 0 or more, got -3"
    );
}

#[test]
fn the_seed_corpus_parses_as_its_names_say() {
    let corpus = corpus();
    assert!(corpus.len() >= 10);
    for (path, text) in corpus {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let result = parse_any(&text, name.ends_with(".fsp"));
        if name.starts_with("ok-") {
            assert!(result.is_ok(), "{name}: {}", result.unwrap_err());
        } else {
            assert!(result.is_err(), "{name} should be refused");
        }
    }
}

/// One random edit of a corpus file.
fn mutate(text: &str, edit: (u8, usize, String)) -> String {
    let (kind, at, insert) = edit;
    let mut chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    match kind % 4 {
        0 => chars.truncate(at),
        1 => {
            if at < chars.len() {
                chars.remove(at);
            }
        }
        2 => {
            for (i, c) in insert.chars().enumerate() {
                chars.insert(at + i, c);
            }
        }
        _ => {
            if at < chars.len() {
                chars[at] = insert.chars().next().unwrap_or('"');
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Mutated corpus files never panic either parser, and their errors name the file.
    #[test]
    fn mutated_job_files_never_panic(
        index in 0usize..64,
        edits in proptest::collection::vec((0u8..4, 0usize..4096, "[ -~\n]{0,8}"), 1..4),
    ) {
        let corpus = corpus();
        let (path, mut text) = corpus[index % corpus.len()].clone();
        for edit in edits {
            text = mutate(&text, edit);
        }
        let fsp = path.extension().is_some_and(|e| e == "fsp");
        let dir = tempfile::tempdir().unwrap();
        for as_fsp in [fsp, !fsp] {
            let _ = parse_any(&text, as_fsp);
            // Loaded as `fstack run` loads it, an error names the file it is about.
            let file = dir.path().join(if as_fsp { "mutated.fsp" } else { "mutated.toml" });
            std::fs::write(&file, &text).unwrap();
            if let Err(e) = load_job_file(&file, ProjectOptions::default()) {
                let msg = e.to_string();
                prop_assert!(msg.contains(&file.display().to_string()), "{msg}");
            }
        }
    }

    /// Text that is neither TOML nor JSON is an error, never a panic or a job.
    #[test]
    fn garbage_is_an_error(tail in "[ -~\n]{0,200}") {
        let garbage = format!("@{tail}");
        prop_assert!(parse_any(&garbage, false).is_err());
        prop_assert!(parse_any(&garbage, true).is_err());
    }
}

fn focus_map(action: &Action) -> &fs_job::FocusMapOptions {
    match action.stacker().unwrap() {
        Stacker::FocusMap(o) => o,
        other => panic!("not the focus-map stacker: {other:?}"),
    }
}

#[test]
fn a_job_file_that_names_no_stacker_gets_focus_map_stack() {
    assert_eq!(Stacker::default().name(), "FocusMapStack");
    let text = std::fs::read_to_string(corpus_dir().join("ok-minimal.toml")).unwrap();
    let job = parse_job_toml(&text, Path::new("."), Path::new("j.toml")).unwrap();
    assert_eq!(*focus_map(&job.actions[0]), fs_job::FocusMapOptions::default());
    // So does a stacker table without `type`; the name works too.
    let base = "name = \"j\"\ninput_path = \"src\"\n[[action]]\nname = \"s\"\n\
                type = \"FocusStackBunch\"\n";
    for stacker in ["stacker = { consistency = 0 }", "stacker = \"FocusMapStack\""] {
        let text = format!("{base}{stacker}\n");
        let job = parse_job_toml(&text, Path::new("."), Path::new("j.toml")).unwrap();
        assert_eq!(job.actions[0].stacker().unwrap().name(), "FocusMapStack", "{stacker}");
    }
    // The documented example's disabled action names none.
    let job =
        parse_job_toml(&documented_example(), Path::new("/jobs"), Path::new("doc.toml")).unwrap();
    assert_eq!(job.actions[3].stacker().unwrap().name(), "FocusMapStack");
}

#[test]
fn focus_map_keys_reach_the_options_and_bad_values_name_the_option() {
    let text = r#"
name = "j"
input_path = "src"

[[action]]
type = "FocusStack"
name = "fm"
[action.stacker]
type = "FocusMapStack"
focus_sigma = 3.5
consistency = 4
confidence_ratio = 10.0
flat_average = 5
decision_channel = 1
linear_blend = true
depth_map = true
confidence_map = true
memory_limit = "1G"
"#;
    let job = parse_job_toml(text, Path::new("/w"), Path::new("j.toml")).unwrap();
    assert_eq!(
        *focus_map(&job.actions[0]),
        fs_job::FocusMapOptions {
            focus_sigma: 3.5,
            consistency: 4,
            confidence_ratio: 10.0,
            flat_average: 5,
            decision_channel: Some(1),
            linear_blend: true,
            depth_map: true,
            confidence_map: true,
            memory_limit: 1 << 30,
        }
    );
    let base =
        "name = \"j\"\ninput_path = \"src\"\n[[action]]\nname = \"fm\"\ntype = \"FocusStack\"\n";
    let parse = |stacker: &str| {
        parse_job_toml(&format!("{base}stacker = {stacker}\n"), Path::new("."), Path::new("j.toml"))
            .unwrap_err()
            .to_string()
    };
    for (key, value) in [
        ("focus_sigma", "0.25"),
        ("consistency", "9"),
        ("confidence_ratio", "1"),
        ("flat_average", "17"),
    ] {
        let msg = parse(&format!("{{ type = \"FocusMapStack\", {key} = {value} }}"));
        assert!(
            msg.starts_with(&format!("action `fm`: invalid option `{key}`: must be "))
                && msg.ends_with(&format!("got {value}")),
            "{key}: {msg}"
        );
    }
    // Also when the table has no type (the default stacker).
    assert!(parse("{ focus_sigma = 20 }").contains("`focus_sigma`"));
    let msg = parse("{ type = \"FocusMapStack\", depth_map = \"yes\" }");
    assert!(msg.contains("line 6") && msg.contains("bool"), "{msg}");
}

#[test]
fn focus_map_keys_and_other_stackers_keys_are_refused_across() {
    let base =
        "name = \"j\"\ninput_path = \"src\"\n[[action]]\nname = \"s\"\ntype = \"FocusStack\"\n";
    let parse = |stacker: &str| {
        parse_job_toml(&format!("{base}stacker = {stacker}\n"), Path::new("."), Path::new("j.toml"))
            .unwrap_err()
            .to_string()
    };
    for key in
        ["noise_guard = 0", "pyramid_min_size = 16", "float_type = \"f64\"", "tile_size = 64"]
    {
        for table in [format!("{{ type = \"FocusMapStack\", {key} }}"), format!("{{ {key} }}")] {
            let msg = parse(&table);
            let name = key.split(' ').next().unwrap();
            assert_eq!(
                msg,
                format!(
                    "action `s`: invalid option `{name}`: is not an option of FocusMapStack (its \
                     options: focus_sigma, consistency, confidence_ratio, flat_average, \
                     decision_channel, linear_blend, depth_map, confidence_map, memory_limit)"
                ),
                "{table}"
            );
        }
    }
    for (kind, key) in [
        ("PyramidStack", "focus_sigma = 2.0"),
        ("PyramidTilesStack", "consistency = 1"),
        ("PyramidAutoStack", "confidence_map = true"),
        ("DepthMapStack", "depth_map = true"),
        ("DepthMapStack", "linear_blend = false"),
    ] {
        let msg = parse(&format!("{{ type = \"{kind}\", {key} }}"));
        let name = key.split(' ').next().unwrap();
        assert!(
            msg.starts_with(&format!(
                "action `s`: invalid option `{name}`: is not an option of {kind}"
            )),
            "{msg}"
        );
    }
}

#[test]
fn a_shinestacker_project_keeps_shinestackers_stacker() {
    // No `stacker`: ShineStacker's default, PyramidStack, not fstack's.
    let project = r#"{"version": 1, "project": [{"type_name": "Job", "params": {"name": "j",
        "input_path": "src"}, "sub_actions": [{"type_name": "FocusStack", "params":
        {"name": "s"}}]}]}"#;
    let loaded =
        parse_project(project, Path::new("/p"), Path::new("p.fsp"), ProjectOptions::default())
            .unwrap();
    assert_eq!(loaded.jobs[0].actions[0].stacker().unwrap().name(), "PyramidStack");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    // fstack's own stacker is not a ShineStacker stacker.
    let err = parse_project(
        &project.replace("{\"name\": \"s\"}", "{\"name\": \"s\", \"stacker\": \"Focus map\"}"),
        Path::new("/p"),
        Path::new("p.fsp"),
        ProjectOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("unknown stacker \"Focus map\""), "{err}");
    // Focus-map keys in a project are not known to fstack there: warned about, ignored.
    let loaded = parse_project(
        &project.replace("{\"name\": \"s\"}", "{\"name\": \"s\", \"focus_sigma\": 4}"),
        Path::new("/p"),
        Path::new("p.fsp"),
        ProjectOptions::default(),
    )
    .unwrap();
    assert!(loaded.warnings.iter().any(|w| w.contains("`focus_sigma`")), "{:?}", loaded.warnings);
    assert_eq!(loaded.jobs[0].actions[0].stacker().unwrap().name(), "PyramidStack");
}

/// A project of many disabled actions loads and plans in linear time: 50 000 took
/// minutes when each action searched the earlier ones and resolved its folders on
/// disk, and takes well under a few seconds in a debug build now (no timing is
/// asserted: a slow machine must not fail the suite).
#[test]
fn a_project_of_many_disabled_actions_loads_and_plans_quickly() {
    const DISABLED: usize = 50_000;
    let (_tmp, work) = workspace(2);
    let mut actions = vec![
        r#"{"type_name": "FocusStack", "params": {"name": "s", "output_path": "out"}}"#.to_string(),
    ];
    actions.extend((0..DISABLED).map(|k| {
        format!(
            r#"{{"type_name": "FocusStack", "params": {{"name": "off{k}", "enabled": false, "output_path": "o{k}/../x{k}"}}}}"#
        )
    }));
    let text = format!(
        r#"{{"version": 1, "project": [{{"type_name": "Job", "params": {{"name": "j", "input_path": "src"}}, "sub_actions": [{}]}}]}}"#,
        actions.join(",")
    );
    let started = std::time::Instant::now();
    let loaded =
        parse_project(&text, &work, Path::new("big.fsp"), ProjectOptions::default()).unwrap();
    let plan = loaded.jobs[0].plan().unwrap();
    eprintln!("{DISABLED} disabled actions loaded and planned in {:?}", started.elapsed());
    assert_eq!(plan.actions.len(), DISABLED + 1);
    assert_eq!(plan.actions.iter().filter(|a| a.enabled).count(), 1);
    // A disabled action's folders are reported, resolved without the disk.
    assert_eq!(plan.actions[DISABLED].output_dir, work.join(format!("x{}", DISABLED - 1)));
    assert_eq!(plan.actions[1].input_dir, work.join("out"), "reads the enabled action's output");
    let summary = loaded.jobs[0].run(&NoProgress).unwrap();
    assert_eq!(summary.actions.iter().filter(|a| a.enabled).count(), 1);
    assert_eq!(names(&work.join("out")), [fs_job::MARKER, "img0.png"]);
}
