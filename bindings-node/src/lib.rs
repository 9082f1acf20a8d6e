//! Node binding (in progress)
