#![warn(missing_docs)]
//! The schema of a PostgreSQL database as plain data, read with a handful of bulk catalog
//! queries, and the dependency-ordered SQL that turns one schema into another.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use retort_catalog::{diff, introspect, Filter};
//! let mut from = retort_pg::connect(&retort_pg::ConnConfig::parse("postgres:///app_prod")?)?;
//! let mut to = retort_pg::connect(&retort_pg::ConnConfig::parse("postgres:///app_dev")?)?;
//! let a = introspect(&mut from, &Filter::default())?;
//! let b = introspect(&mut to, &Filter::default())?;
//! let change = diff(&a, &b);
//! print!("{}", change.to_sql());   // applied to app_prod, gives app_dev's schema
//! # Ok(()) }
//! ```

mod casts;
mod catalog;
pub mod closed;
mod collations;
mod common;
mod constraints;
mod conversions;
pub mod datachange;
mod defaults;
mod deparse;
mod depends;
mod diff;
mod error;
mod eventtriggers;
mod expr;
mod extensions;
mod foreign;
mod functions;
mod indexes;
mod inherited;
mod languages;
mod load;
mod name;
mod online;
mod opclasses;
mod operators;
mod partindexes;
mod policies;
mod publications;
mod rules;
mod schemas;
mod sequences;
mod settle;
mod statistics;
mod tables;
mod textsearch;
mod transforms;
mod triggers;
mod typechange;
mod types;
mod unsupported;
mod views;

pub(crate) use catalog::Params;

pub use casts::{Cast, CastMethod};
pub use catalog::{introspect, introspect_parallel, Catalog, Snapshot};
pub use collations::Collation;
pub use common::{Acl, Filter};
pub use constraints::Constraint;
pub use conversions::Conversion;
pub use defaults::DefaultPrivileges;
pub use depends::Dependencies;
pub use diff::{diff, Action, Change, SchemaDiff};
pub use error::CatalogError;
pub use eventtriggers::EventTrigger;
pub use extensions::Extension;
pub use foreign::{ForeignDataWrapper, ForeignServer, ForeignTable, UserMapping};
pub use functions::Function;
pub use indexes::Index;
pub use inherited::InheritedColumn;
pub use languages::Language;
pub use load::{load_sql, load_sql_texts, sql_files};
pub use name::{ObjKey, QName};
pub use online::{plan_online, OnlinePlan};
pub use opclasses::{OpClass, OpFamily, OpMember, ProcMember};
pub use operators::Operator;
pub use partindexes::AttachedIndex;
pub use policies::Policy;
pub use publications::{Publication, PublishedTable};
pub use rules::Rule;
pub use schemas::Schema;
pub use sequences::Sequence;
pub use settle::settle;
pub use statistics::Statistics;
pub use tables::{Column, Table};
pub use textsearch::{TsConfiguration, TsDictionary};
pub use transforms::Transform;
pub use triggers::Trigger;
pub use typechange::{cast_cannot_fail, rewrite_free, TypeSpec};
pub use types::{TypeDef, TypeKind};
pub use views::View;
