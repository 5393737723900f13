//! chaton: describe a small ethical hoster in one YAML file, then plan and apply it to
//! Debian servers and publish the charter pages from the same description.
//!
//! The library is a one-way pipeline; each stage reads the values of the stages before it
//! and returns a new value (see `docs/ARCHITECTURE.md`):
//!
//! ```text
//! description::load ─▶ validate ─▶ resolve ─▶ plan ─▶ (apply) ─▶ (verify)
//!        recipe::Catalogue ──────────┘              facts ──┘
//! ```
//!
//! Only the transport touches hosts and only apply changes anything; everything in this
//! crate up to the plan is pure. The CLI (`cli`) is the only place that prints.

// Diagnostics are large (a snippet's source, span, field path and hints) and travel only on
// the cold error path of a one-shot command: boxing them everywhere buys nothing.
#![allow(clippy::result_large_err)]
// What no test of behaviour and not the binary use stays inside the crate.
#![warn(unreachable_pub)]

pub mod apply;
pub(crate) mod backup;
pub mod cli;
pub mod command;
pub mod description;
pub mod diagnostic;
pub mod engine;
pub(crate) mod error;
pub mod facts;
pub mod http;
pub(crate) mod i18n;
pub(crate) mod keys;
pub mod lab;
pub mod moving;
pub mod pipeline;
pub mod plan;
pub mod recipe;
pub mod resolve;
pub mod resource;
pub mod shell;
pub mod site;
pub(crate) mod source;
#[cfg(test)]
pub(crate) mod stand_ins;
pub mod transport;
pub(crate) mod validate;
pub mod vocab;
pub(crate) mod yaml;
