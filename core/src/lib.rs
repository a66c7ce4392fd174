//! placeholder
pub mod datadriven;
