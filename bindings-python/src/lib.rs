//! Python binding (in progress)
