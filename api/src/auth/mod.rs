//! Who the actor is: passwords, tokens, sessions.

pub mod password;
