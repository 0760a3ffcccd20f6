//! End-to-end tests of `herald listen`: a real receiver on 127.0.0.1:0, real HTTP, real
//! commands and a real local app. One test binary, one module per behaviour.

mod bad_input;
mod dedup;
mod forward;
mod hooks;
mod interop;
mod output;
mod security;
mod shutdown;
mod support;
mod verification;
