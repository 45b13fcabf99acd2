//! fs-job: StackJob, FocusStack, FocusStackBunch, path chaining and job files. Not yet implemented.
#![deny(missing_docs)]
