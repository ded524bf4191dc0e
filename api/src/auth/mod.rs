//! Who the actor is: passwords, tokens, sessions, sign-in throttling.

pub mod actor;
pub mod password;
pub mod throttle;
pub mod token;

pub use actor::{Actor, ClientAddr};
