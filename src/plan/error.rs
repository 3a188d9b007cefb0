//! Located plan errors: every problem names the file, line and column and says what is wrong.

use std::fmt;
use std::path::PathBuf;

/// One problem in a plan folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError {
    /// The file the problem is in.
    pub file: PathBuf,
    /// 1-based line, 0 when the problem is about the whole file.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub column: usize,
    /// What is wrong, as a sentence fragment without a trailing period.
    pub message: String,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if self.column > 0 {
                write!(f, ":{}", self.column)?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for PlanError {}

/// All the problems found in one plan (a plan is checked whole, not stopped at the first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanErrors(pub Vec<PlanError>);

impl fmt::Display for PlanErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PlanErrors {}
