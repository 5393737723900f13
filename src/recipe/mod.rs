//! Recipes: the data that says how to build a service (see `model` for the format), and the
//! catalogue of built-in and local recipes with their templates.

pub mod catalogue;
pub mod check;
pub mod model;
pub mod proof;
pub mod verification;

pub use catalogue::{Catalogue, LoadedRecipe};
pub use model::Recipe;
