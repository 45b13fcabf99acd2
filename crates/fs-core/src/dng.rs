//! DNG writing through rawler's DNG writer (placeholder; see the helper's work).
