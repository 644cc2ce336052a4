//! What a user runs: the command line (`cli`) and the WPT runner (`wpt`).

pub mod cli;
pub mod wpt;
