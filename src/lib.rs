//! cairn: YAML stacks compiled into a dependency graph of AWS resources,
//! planned purely and applied with a journaled state.

pub mod aws;
pub mod canonical;
pub mod cli;
pub mod drift;
pub mod engine;
pub mod graph;
pub mod import;
pub mod model;
pub mod output;
pub mod package;
pub mod plan;
pub mod schema;
pub mod spec;
pub mod stack;
pub mod state;
pub mod store;
pub mod types;

#[cfg(test)]
mod layers;
