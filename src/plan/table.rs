//! CSV lookup tables and their indexes.

/// A loaded table.
#[derive(Clone, Debug)]
pub struct Table {
    /// The table's name.
    pub name: Box<str>,
}

/// A table's index.
#[derive(Clone, Debug)]
pub enum Lookup {}
