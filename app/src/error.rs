//! The application layer's error: what went wrong, and whether the request or the work is at fault
//! (the CLI's exit status 2 or 1; the server's 4xx or 5xx).

/// A use case's failure.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is wrong: a flag, the configuration, a store that is not there. Exit status 2.
    #[error("{0}")]
    Usage(String),
    /// The work failed (a database, a catalogue, a store). Exit status 1.
    #[error("{0}")]
    Failed(String),
    /// The configuration file cannot be used. Exit status 2.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

impl AppError {
    /// The CLI's exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Usage(_) | AppError::Config(_) => 2,
            AppError::Failed(_) => 1,
        }
    }

    /// A usage error from anything displayable.
    pub fn usage(e: impl std::fmt::Display) -> Self {
        AppError::Usage(e.to_string())
    }

    /// A failure from anything displayable.
    pub fn failed(e: impl std::fmt::Display) -> Self {
        AppError::Failed(e.to_string())
    }
}

/// A use case's result.
pub type AppResult<T> = Result<T, AppError>;
