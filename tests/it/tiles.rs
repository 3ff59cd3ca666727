//! Facility tile tests (written with the sample data).
