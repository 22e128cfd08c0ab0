//! The engine over a real coordinator (SQLite) and an in-memory bucket.
