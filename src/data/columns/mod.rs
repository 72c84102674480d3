//! Column plans: how the raw columns of a table — a CSV file, or a 2-D `.npy` array — become a
//! network's input features. A plan is fitted when data is read for training, saved in the
//! model, and applied unchanged when data is read for `predict` and `evaluate`.
//!
//! A [`ColumnPlan`] has one [`Column`] per raw column, in file order:
//!
//! - **Numeric**: one feature. A missing value — an empty field, `NA`, `N/A`, `NaN` or `?` (any
//!   case), or a NaN in an npy array — is an error with [`Impute::Error`] (the library's
//!   default), or is filled with the column's median ([`Impute::Median`], the command line's
//!   default) or mean ([`Impute::Mean`]).
//! - **Categorical**: text, one-hot encoded: one feature per category, the categories in sorted
//!   (byte) order, named `column=category` (`colour=blue`, `colour=red`). When imputing, a
//!   missing value gets the most frequent level (a model saved before fill levels: a row of
//!   zeros); otherwise it is an error. A category that training never saw is a row of zeros,
//!   counted ([`Unknown::Zeros`](crate::data::Unknown)), or an error naming the known ones.
//! - **Date**: ISO dates and date-times, one feature: the fractional year, filled like a number.
//! - **Dropped**: never read — `--drop`, or a text column found to be an identifier or free
//!   text ([`DropReason`]; `--keep` makes it a category instead). **Target**: a target column.
//!
//! When fitting, a column is numeric if every value that is not missing is a number, a date if
//! every one is an ISO date, and otherwise text; a column mixing numbers and text is an error at
//! the first value of the other kind, and so is a number written with a decimal comma (`1,5`).
//! A text column is then a category unless [`DropReason`]'s rules make it an identifier or free
//! text; more than [`MAX_CATEGORIES`] levels in a category is an error. The categories and fill
//! values are fitted on **all the rows given to training** — the whole file, before the
//! validation and test parts are split off. They use no labels; a held-out median differs from a
//! training-part median only slightly. The plan's [`PlanStats`] say what the file held (rows,
//! rows without a target, missing values, levels, ranges) for `backprop inspect`.
//!
//! Targets are names ([`class_labels`]): integer labels are classes by value, like strings.
//!
//! The code is in three files, one per step: [`ColumnPlan`] and its columns (`plan.rs`, what a
//! model saves and validates on load), fitting a plan on training rows (`fit.rs`: each
//! column's kind, categories and fill value), and applying a plan to rows (`apply.rs`: a
//! field's features). A new kind of column (a role such as a date read as a number, or an
//! identifier left out) is a [`Column`] variant in `plan.rs`, the rule that picks it in
//! `fit.rs` and its features in `apply.rs`. This file only re-exports: code in `data/` imports
//! from the three files, so the readers that use a plan and the plan never import each other.

pub(crate) mod apply;
pub(crate) mod fit;
pub(crate) mod plan;

pub use self::plan::{
    Column, ColumnPlan, DropReason, Impute, PlanStats, LONG_MIN_DISTINCT, MAX_CATEGORIES,
    ROLE_MIN_VALUES, TEXT_MIN_DISTINCT, TEXT_MIN_LENGTH,
};
pub use super::cell::is_missing;
pub use super::labels::{canonical_integer, class_labels};
pub use super::npy_table::{read_npy_features, read_npy_table};
