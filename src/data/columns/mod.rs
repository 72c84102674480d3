//! Column plans: how the raw columns of a table — a CSV file, or a 2-D `.npy` array — become a
//! network's input features. A plan is fitted when data is read for training, saved in the
//! model, and applied unchanged when data is read for `predict` and `evaluate`.
//!
//! A [`ColumnPlan`] has one [`Column`] per raw column, in file order:
//!
//! - **Numeric**: one feature. A missing value — an empty field, `NA`, `N/A`, `NaN` or `?` (any
//!   case), or a NaN in an npy array — is an error with [`Impute::Error`] (the default), or is
//!   filled with the column's mean ([`Impute::Mean`]) or median ([`Impute::Median`]).
//! - **Categorical**: text, one-hot encoded: one feature per category, the categories in sorted
//!   (byte) order, named `column=category` (`colour=blue`, `colour=red`). When imputing, a
//!   missing value is a row of zeros (as pandas' `get_dummies`); otherwise it is an error. A
//!   category that training never saw is an error naming the known ones (the network has no
//!   input for it).
//! - **Dropped** (`--drop`): never read. **Target**: a target column.
//!
//! When fitting, a column is numeric if every value that is not missing is a number, and
//! categorical if none is; a column mixing numbers and text is an error at the first value of
//! the other kind, and so is a number written with a decimal comma (`1,5`). A text column of more than [`MAX_CATEGORIES`] distinct values, or of more
//! than 20 values all different, is an error (an identifier or free text: drop it). The categories and fill values are fitted on **all
//! the rows given to training** — the whole file, before the validation and test parts are split
//! off. They use no labels; a held-out mean differs from a training-part mean only slightly.
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
