//! Unit tests for the QR core (filled in next).
