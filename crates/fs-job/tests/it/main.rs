//! fs-job integration tests: end-to-end jobs on small generated stacks, the safety
//! refusals, job files and ShineStacker projects (with a seed corpus).

mod align;
mod batch;
mod common;
mod end_to_end;
mod focusmap;
mod job_files;
mod raw;
mod safety;
mod single;
mod stack_run;
mod stackers;
