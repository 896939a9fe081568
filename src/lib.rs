//! cairn: YAML stacks compiled into a dependency graph of AWS resources,
//! planned purely and applied with a journaled state.

pub mod canonical;
pub mod graph;
pub mod plan;
pub mod schema;
pub mod stack;
pub mod state;
pub mod aws;
pub mod engine;
pub mod output;
pub mod cli;
