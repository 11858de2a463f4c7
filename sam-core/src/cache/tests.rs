//! Cache tests against the in-process backend and a real Redis.
