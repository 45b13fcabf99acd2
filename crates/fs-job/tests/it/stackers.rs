//! The tiled, auto and depth-map stackers inside jobs: results, depth-map plots,
//! job-file and project keys, option errors, and a cancellable denoise.

use std::path::{Path, PathBuf};

use fs_core::synth::{SynthOptions, SynthStack};
use fs_core::{
    BitDepth, ChannelLayout, FloatType, Image, NoProgress, WriteOptions, metrics::psnr, read_frame,
    write_frame,
};
use fs_job::{
    Action, DepthMapOptions, Energy, FocusStack, FocusStackBunch, MapType, ProjectOptions,
    PyramidAutoOptions, PyramidOptions, PyramidTilesOptions, StackJob, StackMode, Stacker,
    parse_job_toml, parse_project,
};

use crate::common::Recorder;

pub(crate) const FRAMES: usize = 6;

/// A working folder with a 128x96 synthetic stack in `src` (`frame0.png`...), and
/// the stack itself (for the truth).
pub(crate) fn synth_workspace() -> (tempfile::TempDir, PathBuf, SynthStack) {
    synth_workspace_of(128, 96, FRAMES)
}

pub(crate) fn synth_workspace_of(
    width: usize,
    height: usize,
    frames: usize,
) -> (tempfile::TempDir, PathBuf, SynthStack) {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().canonicalize().unwrap();
    let synth = SynthStack::new(SynthOptions {
        width,
        height,
        frames,
        noise_sigma: 0.0,
        ..SynthOptions::default()
    })
    .unwrap();
    std::fs::create_dir(work.join("src")).unwrap();
    for k in 0..frames {
        let path = work.join(format!("src/frame{k}.png"));
        write_frame(&path, &synth.frame(k), &WriteOptions::default()).unwrap();
    }
    (tmp, work, synth)
}

pub(crate) fn psnr_of(path: &Path, synth: &SynthStack) -> f64 {
    let truth: Image<f32> = synth.truth().to_image();
    let out: Image<f32> = read_frame(path).unwrap().to_image();
    psnr(&out, &truth, 255.0)
}

pub(crate) fn best_frame_psnr(synth: &SynthStack) -> f64 {
    let truth: Image<f32> = synth.truth().to_image();
    (0..FRAMES).map(|k| psnr(&synth.frame(k).to_image(), &truth, 255.0)).fold(0.0, f64::max)
}

#[test]
fn tiles_and_auto_give_the_pyramids_pixels_and_auto_says_what_it_chose() {
    let (_tmp, work, synth) = synth_workspace();
    let tiles = PyramidTilesOptions { tile_size: 16, max_threads: 2, ..Default::default() };
    let auto_tiled = PyramidAutoOptions {
        tiles: tiles.clone(),
        mode: StackMode::Tiled,
        ..PyramidAutoOptions::default()
    };
    // 16 MiB is below the fixed overhead the estimate counts: nothing fits, so it
    // tiles as much as it can.
    let auto_small = PyramidAutoOptions { memory_limit: 16 << 20, ..PyramidAutoOptions::default() };
    let summary = StackJob::new("all", &work)
        .input_path("src")
        .add_action(FocusStack::new("pyr", Stacker::pyramid()).input_path("src"))
        .add_action(
            FocusStack::new("tiles", Stacker::Tiles(tiles.clone()))
                .input_path("src")
                .output_path("out-tiles"),
        )
        .add_action(FocusStack::new("auto-tiled", Stacker::Auto(auto_tiled)).input_path("src"))
        .add_action(FocusStack::new("auto", Stacker::auto()).input_path("src"))
        .add_action(FocusStack::new("auto-small", Stacker::Auto(auto_small)).input_path("src"))
        .run(&NoProgress)
        .unwrap();
    let pyramid = read_frame(&work.join("pyr/frame0.png")).unwrap();
    for out in ["out-tiles", "auto-tiled", "auto", "auto-small"] {
        let frame = read_frame(&work.join(out).join("frame0.png")).unwrap();
        assert_eq!(frame.samples(), pyramid.samples(), "{out}");
    }
    let stacked = psnr_of(&work.join("out-tiles/frame0.png"), &synth);
    let best = best_frame_psnr(&synth);
    assert!(stacked > best + 6.0, "tiled {stacked:.2} dB, best frame {best:.2} dB");

    assert!(summary.actions[0].notes.is_empty() && summary.actions[1].notes.is_empty());
    let notes = &summary.actions[2].notes;
    assert_eq!(notes.len(), 1);
    assert!(notes[0].starts_with("PyramidAutoStack: tiled, ") && notes[0].contains("mode tiled"));
    let notes = &summary.actions[3].notes;
    assert!(
        notes[0].starts_with("PyramidAutoStack: in memory: estimated peak ")
            && notes[0].contains("fits memory_limit 8"),
        "{notes:?}"
    );
    let notes = &summary.actions[4].notes;
    assert!(notes[0].contains("nothing fits memory_limit 16"), "{notes:?}");
    // No temporary file is left in the working folder or the outputs.
    assert!(!walk(&work).iter().any(|p| p.to_string_lossy().contains(".partial")));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn depth_map_stack_is_sharper_than_every_frame_and_plots_its_depth_map() {
    let (_tmp, work, synth) = synth_workspace();
    let options = DepthMapOptions { plot_depth_map: true, ..DepthMapOptions::default() };
    let summary = StackJob::new("dm", &work)
        .input_path("src")
        .add_action(FocusStack::new("depth", Stacker::DepthMap(options)))
        .add_action(
            FocusStackBunch::new("dmb", Stacker::DepthMap(options))
                .input_path("src")
                .frames(3)
                .overlap(1)
                .plot_path("maps"),
        )
        .run(&NoProgress)
        .unwrap();

    let stacked = psnr_of(&work.join("depth/frame0.png"), &synth);
    let best = best_frame_psnr(&synth);
    // Measured: 19.1 dB stacked, 15.4 dB for the best frame.
    assert!(stacked > best + 3.0, "depth map {stacked:.2} dB, best frame {best:.2} dB");

    let map_path = work.join("plots/depth-depth-map.png");
    assert_eq!(summary.actions[0].plots, std::slice::from_ref(&map_path));
    let map = read_frame(&map_path).unwrap();
    assert_eq!((map.width(), map.height()), (128, 96));
    assert_eq!(map.format().layout, ChannelLayout::Gray);
    assert_eq!(map.format().depth, BitDepth::Eight);
    // Frame 0 is in focus somewhere and frame 5 somewhere else: the map spans the range.
    let fs_core::Samples::U8(v) = map.samples() else { panic!("8-bit") };
    let (lo, hi) = (v.iter().min().unwrap(), v.iter().max().unwrap());
    assert!(*lo < 64 && *hi > 191, "depth map range {lo}..={hi}");

    // Bunches 0..3, 2..5, 4..6: one map each, named after the bunch's first frame; the
    // last bunch of two frames still gets its map.
    let expected: Vec<PathBuf> =
        [0, 2, 4].iter().map(|k| work.join(format!("maps/dmb-frame{k}-depth-map.png"))).collect();
    assert_eq!(summary.actions[1].plots, expected);
    for p in &expected {
        let map = read_frame(p).unwrap();
        assert_eq!((map.width(), map.height(), map.format().depth), (128, 96, BitDepth::Eight));
    }
    assert_eq!(summary.actions[1].outputs.len(), 3);
}

#[test]
fn a_one_frame_bunch_still_gets_its_depth_map() {
    let (_tmp, work, _synth) = synth_workspace();
    let options = DepthMapOptions { plot_depth_map: true, ..DepthMapOptions::default() };
    let summary = StackJob::new("dm", &work)
        .input_path("src")
        .add_action(FocusStackBunch::new("one", Stacker::DepthMap(options)).frames(5))
        .run(&NoProgress)
        .unwrap();
    // Bunches 0..5 and 5..6.
    assert_eq!(summary.actions[0].plots.len(), 2);
    let map = read_frame(&work.join("plots/one-frame5-depth-map.png")).unwrap();
    let fs_core::Samples::U8(v) = map.samples() else { panic!("8-bit") };
    assert!(v.iter().all(|&d| d == 0), "one frame: every pixel is frame 0");
}

#[test]
fn a_depth_map_plot_folder_must_not_be_a_folder_the_job_reads_or_writes() {
    let (_tmp, work, _synth) = synth_workspace_of(32, 32, 2);
    let options = DepthMapOptions { plot_depth_map: true, ..DepthMapOptions::default() };
    let job = |plot: &str| {
        StackJob::new("dm", &work)
            .input_path("src")
            .add_action(FocusStack::new("depth", Stacker::DepthMap(options)).plot_path(plot))
            .run(&NoProgress)
    };
    let msg = job("src").unwrap_err().to_string();
    assert_eq!(
        msg,
        format!(
            "action `depth`: invalid option `plot_path`: the plot folder {} is the input \
             folder of `depth`; depth maps need a folder of their own",
            work.join("src").display()
        )
    );
    assert!(job("depth").unwrap_err().to_string().contains("is the output folder of `depth`"));
    assert_eq!(crate::common::names(&work.join("src")), ["frame0.png", "frame1.png"]);
    // Without plot_depth_map the plot folder is not used, so not checked.
    let plain = StackJob::new("dm", &work)
        .input_path("src")
        .add_action(FocusStack::new("depth", Stacker::depth_map()).plot_path("src"))
        .run(&NoProgress)
        .unwrap();
    assert!(plain.actions[0].plots.is_empty());
}

fn stacker_of(action: &Action) -> &Stacker {
    action.stacker().unwrap()
}

#[test]
fn toml_keys_of_every_stacker_are_read() {
    let text = r#"
name = "j"
input_path = "src"

[[action]]
type = "FocusStack"
name = "dm"
[action.stacker]
type = "DepthMapStack"
map_type = "DM_MAP_MAX"
energy = "DM_ENERGY_MOD_LAPLACIAN"
kernel_size = 7
blur_size = 3
weight_power = 2.5
energy_smooth_size = 5
energy_sigma_color = 0.5
energy_sigma_space = 3.0
pyramid_levels = 4
pyramid_smooth_size = 3
temperature = 0.25
plot_depth_map = true
float_type = "FLOAT_64"

[[action]]
type = "FocusStack"
name = "dm2"
stacker = { type = "DepthMapStack", map_type = "average", energy = "sobel" }

[[action]]
type = "FocusStack"
name = "tiles"
[action.stacker]
type = "PyramidTilesStack"
pyramid_min_size = 16
noise_guard = 0.5
tile_size = 64
n_tiled_layers = 3
max_threads = 2
chunk_submit = false
temp_dir = "scratch"

[[action]]
type = "FocusStackBunch"
name = "auto"
[action.stacker]
type = "PyramidAutoStack"
mode = "tiled"
memory_limit = "512M"
tile_size = 128
"#;
    let job = parse_job_toml(text, Path::new("/w"), Path::new("j.toml")).unwrap();
    let Stacker::DepthMap(dm) = stacker_of(&job.actions[0]) else { panic!("depth map") };
    assert_eq!(
        *dm,
        DepthMapOptions {
            map_type: MapType::Max,
            energy: Energy::ModLaplacian,
            kernel_size: 7,
            blur_size: 3,
            weight_power: 2.5,
            energy_smooth_size: 5,
            energy_sigma_color: 0.5,
            energy_sigma_space: 3.0,
            pyramid_levels: 4,
            pyramid_smooth_size: 3,
            temperature: 0.25,
            plot_depth_map: true,
            float_type: FloatType::F64,
        }
    );
    let Stacker::DepthMap(dm2) = stacker_of(&job.actions[1]) else { panic!("depth map") };
    assert_eq!((dm2.map_type, dm2.energy), (MapType::Average, Energy::Sobel));
    let Stacker::Tiles(t) = stacker_of(&job.actions[2]) else { panic!("tiles") };
    assert_eq!(
        *t,
        PyramidTilesOptions {
            pyramid: PyramidOptions {
                pyramid_min_size: 16,
                noise_guard: 0.5,
                ..Default::default()
            },
            tile_size: 64,
            n_tiled_layers: 3,
            max_threads: 2,
            chunk_submit: false,
            temp_dir: Some(PathBuf::from("scratch")),
        }
    );
    let Stacker::Auto(a) = stacker_of(&job.actions[3]) else { panic!("auto") };
    assert_eq!((a.mode, a.memory_limit, a.tiles.tile_size), (StackMode::Tiled, 512 << 20, 128));
}

#[test]
fn bad_stacker_options_in_a_job_file_name_the_action_and_the_option() {
    let base = "name = \"j\"\ninput_path = \"src\"\n[[action]]\ntype = \"FocusStack\"\n\
                name = \"depth\"\n";
    let parse = |stacker: &str| {
        parse_job_toml(&format!("{base}stacker = {stacker}\n"), Path::new("."), Path::new("j.toml"))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        parse("{ type = \"DepthMapStack\", kernel_size = 4 }"),
        "action `depth`: invalid option `kernel_size`: must be odd and in 1..=31, got 4"
    );
    assert_eq!(
        parse("{ type = \"DepthMapStack\", pyramid_levels = 0 }"),
        "action `depth`: invalid option `pyramid_levels`: must be in 1..=16, got 0"
    );
    let msg = parse("{ type = \"DepthMapStack\", energy = \"sharpness\" }");
    assert!(msg.starts_with("action `depth`: invalid option `energy`: must be tenengrad"), "{msg}");
    assert!(msg.contains("\"sharpness\""), "{msg}");
    let msg = parse("{ type = \"DepthMapStack\", map_type = \"DM_MAP_MIN\" }");
    assert!(msg.starts_with("action `depth`: invalid option `map_type`"), "{msg}");
    let msg = parse("{ type = \"DepthMapStack\", tile_size = 64 }");
    assert!(
        msg.starts_with(
            "action `depth`: invalid option `tile_size`: is not an option of DepthMapStack"
        ),
        "{msg}"
    );
    let msg = parse("{ type = \"PyramidTilesStack\", mode = \"auto\" }");
    assert!(msg.contains("`mode`: is not an option of PyramidTilesStack"), "{msg}");
    assert_eq!(
        parse("{ type = \"PyramidAutoStack\", mode = \"disk\" }"),
        "action `depth`: invalid option `mode`: must be auto, memory or tiled, got \"disk\""
    );
    assert_eq!(
        parse("{ type = \"PyramidAutoStack\", memory_limit = \"1M\" }"),
        "action `depth`: invalid option `memory_limit`: must be at least 16 MiB, got 1048576 bytes"
    );
    assert_eq!(
        parse("{ type = \"PyramidTilesStack\", noise_guard = -1 }"),
        "action `depth`: invalid option `noise_guard`: must be 0 (off) to 100, got -1"
    );
    assert_eq!(
        parse("{ type = \"PyramidTilesStack\", tile_size = 8 }"),
        "action `depth`: invalid option `tile_size`: must be 16 to 65536 rows, got 8"
    );
}

fn project(params: &str) -> String {
    format!(
        r#"{{"version": 1, "project": [{{"type_name": "Job", "params": {{"name": "j",
        "input_path": "src"}}, "sub_actions": [{{"type_name": "FocusStack", "params":
        {{"name": "s", {params}}}}}]}}]}}"#
    )
}

fn load(params: &str) -> fs_job::Result<fs_job::LoadedJobs> {
    parse_project(&project(params), Path::new("/p"), Path::new("p.fsp"), ProjectOptions::default())
}

#[test]
fn project_keys_of_the_depth_map_and_pyramid_modes_are_read() {
    let loaded = load(
        r#""stacker": "Depth map", "depthmap_energy": "laplacian", "depthmap_map_type": "max",
        "depthmap_kernel_size": 9, "depthmap_blur_size": 7, "depthmap_weight_power": 1.5,
        "depthmap_pyramid_levels": 6, "depthmap_energy_smooth_size": 3,
        "depthmap_energy_sigma_color": 0.4, "depthmap_energy_sigma_space": 4,
        "depthmap_pyramid_smooth_size": 5, "depthmap_temperature": 0.1,
        "depthmap_float_type": "float-64", "depthmap_mode": "auto",
        "depthmap_memory_limit": 8.0, "plot_depth_map": true,
        "pyramid_min_size": 8, "pyramid_mode": "tiled", "pyramid_tile_size": 256"#,
    )
    .unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let Stacker::DepthMap(dm) = loaded.jobs[0].actions[0].stacker().unwrap() else {
        panic!("depth map")
    };
    assert_eq!(
        *dm,
        DepthMapOptions {
            map_type: MapType::Max,
            energy: Energy::Laplacian,
            kernel_size: 9,
            blur_size: 7,
            weight_power: 1.5,
            energy_smooth_size: 3,
            energy_sigma_color: 0.4,
            energy_sigma_space: 4.0,
            pyramid_levels: 6,
            pyramid_smooth_size: 5,
            temperature: 0.1,
            plot_depth_map: true,
            float_type: FloatType::F64,
        }
    );

    let pyramid_keys = r#""depthmap_energy": "sobel", "pyramid_min_size": 16,
        "pyramid_tile_size": 256, "pyramid_n_tiled_layers": 3, "pyramid_max_threads": 2,
        "pyramid_memory_limit": 2.5"#;
    let stacker = |mode: &str| {
        let loaded = load(&format!("\"stacker\": \"Pyramid\", {mode}{pyramid_keys}")).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        loaded.jobs[0].actions[0].stacker().unwrap().clone()
    };
    let Stacker::Pyramid(p) = stacker("") else { panic!("no mode: PyramidStack") };
    assert_eq!(p.pyramid_min_size, 16);
    let Stacker::Pyramid(_) = stacker("\"pyramid_mode\": \"memory\", ") else { panic!("memory") };
    let Stacker::Tiles(t) = stacker("\"pyramid_mode\": \"tiled\", ") else { panic!("tiled") };
    assert_eq!((t.pyramid.pyramid_min_size, t.tile_size, t.n_tiled_layers), (16, 256, 3));
    assert_eq!(t.max_threads, 2);
    let Stacker::Auto(a) = stacker("\"pyramid_mode\": \"auto\", ") else { panic!("auto") };
    assert_eq!((a.mode, a.memory_limit, a.tiles.tile_size), (StackMode::Auto, 5 << 29, 256));
    let Stacker::Auto(a) = stacker("\"stacker\": \"Pyramid auto\", ").clone() else {
        panic!("auto by name")
    };
    assert_eq!(a.memory_limit, 5 << 29);

    let msg = |params: &str| load(params).unwrap_err().to_string();
    assert_eq!(
        msg(r#""stacker": "Depth map", "depthmap_kernel_size": 4"#),
        "action `s`: invalid option `kernel_size`: must be odd and in 1..=31, got 4"
    );
    assert_eq!(
        msg(r#""stacker": "Depth map", "depthmap_energy": "focus""#),
        "action `s`: invalid option `depthmap_energy`: unknown energy \"focus\""
    );
    assert_eq!(
        msg(r#""stacker": "Pyramid", "pyramid_mode": "disk""#),
        "action `s`: invalid option `pyramid_mode`: expected \"auto\", \"memory\" or \"tiled\", \
         got \"disk\""
    );
    assert!(
        msg(r#""stacker": "Pyramid", "pyramid_mode": "auto", "pyramid_memory_limit": -1"#)
            .starts_with("action `s`: invalid option `pyramid_memory_limit`: expected GBytes")
    );
}

#[test]
fn cancelling_during_denoise_stops_it_and_leaves_no_output() {
    // 640 rows: 10 bands of 64.
    let (_tmp, work, _synth) = synth_workspace_of(48, 640, 2);
    let progress =
        Recorder { cancel_at: Some(("s: denoise".to_string(), 1)), ..Recorder::default() };
    let err = StackJob::new("j", &work)
        .input_path("src")
        .add_action(FocusStack::new("s", Stacker::pyramid()).denoise_amount(10.0))
        .run(&progress)
        .unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    let events = progress.events.lock().unwrap();
    assert!(events.iter().any(|e| e.0 == "s: denoise" && e.1 == 10), "{events:?}");
    // Cancelled after the first band: only the bands already being worked on finish.
    let steps = events.iter().filter(|e| e.0 == "  step of s: denoise").count();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(steps >= 1 && steps <= threads.min(10), "{steps} bands done on {threads} threads");
    assert!(!work.join("s").exists(), "the output folder it created is removed");
}
