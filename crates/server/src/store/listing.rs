//! The repositories a caller may see, for listings such as the web view's: one page at a
//! time, in GUN order, optionally filtered, never the whole table at once.

/// The most repositories one [`RepositoryQuery`] returns.
pub const MAX_REPOSITORY_PAGE: u32 = 500;

/// Which repositories to list: those with stored metadata whose GUN contains
/// [`contains`](Self::contains), sorts after [`after`](Self::after), is one of
/// [`only`](Self::only) (when given) and starts with one of [`prefixes`](Self::prefixes)
/// (when any), in GUN order, at most [`limit`](Self::limit) of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepositoryQuery {
    /// A substring every listed GUN contains (case-sensitive); empty matches every GUN.
    pub contains: String,
    /// The last GUN of the previous page; `None` starts at the first GUN.
    pub after: Option<String>,
    /// When given, only these GUNs (those the caller may read).
    pub only: Option<Vec<String>>,
    /// When not empty, only GUNs starting with one of these prefixes.
    pub prefixes: Vec<String>,
    /// The most GUNs to return, capped at [`MAX_REPOSITORY_PAGE`].
    pub limit: u32,
}

impl RepositoryQuery {
    /// The limit as the query binds it: between 0 and [`MAX_REPOSITORY_PAGE`].
    pub(crate) fn bound_limit(&self) -> i64 {
        i64::from(self.limit.min(MAX_REPOSITORY_PAGE))
    }

    /// The lower bound of the page (exclusive): the empty string sorts before every GUN.
    pub(crate) fn after_bound(&self) -> &str {
        self.after.as_deref().unwrap_or("")
    }
}
