//! natsbridge core
