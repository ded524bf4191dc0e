//! Test rows for the CRM, for the integration tests, the benchmarks and the differential
//! authorization test. Dev-only: nothing here is part of the server.
//!
//! One way to build rows: an [`Org`] hands out a builder per table, with unique, readable
//! defaults (names, emails) and timestamps that increase in the order rows are built. A
//! builder ends with [`insert`](rows::DealBuilder::insert) (written now and returned, as the
//! database stored it), [`try_insert`](rows::DealBuilder::try_insert) (the database's refusal
//! as an `Err`) or [`add`](rows::DealBuilder::add) (kept in the organisation and written,
//! in batches and in foreign-key order, by [`Org::insert`]). Either way the organisation
//! records the row, so it can answer questions about its data ([`Org::teams_of`],
//! [`Org::viewer`], the [`direct::Oracle`]).
//!
//! ```no_run
//! # async fn demo(db: &sea_orm::DatabaseConnection) {
//! use crm_testkit::Org;
//! use entity::enums::{DealStage, Role, SharePermission};
//!
//! let mut org = Org::new();
//! let boss = org.user().email("boss@example.com").role(Role::Manager).insert(db).await;
//! let east = org.team().name("East").manager(&boss).insert(db).await;
//! let rep = org.user().name("Rae").team(&east).insert(db).await; // rae@example.test
//! let acme = org.company().name("Acme").owner(&rep).insert(db).await;
//! let deal = org
//!     .deal()
//!     .owner(&rep)
//!     .company(&acme)
//!     .amount("10")
//!     .stage(DealStage::ClosedWon)
//!     .insert(db)
//!     .await;
//! org.share(&deal, &boss).permission(SharePermission::Edit).insert(db).await;
//! # }
//! ```
//!
//! Users get [`PASSWORD_HASH`], so every user built here signs in with [`PASSWORD`].
//! [`Org::random`] generates a whole organisation of a [`Shape`] from a seed, through the
//! same builders.

pub mod direct;
mod org;
mod random;
pub mod rows;

pub use org::Org;
pub use random::Shape;
pub use rows::{MaybeRowId, RowId};

/// The password of every user the factory builds.
pub const PASSWORD: &str = "correct horse battery staple";

/// An argon2id hash of [`PASSWORD`] with the server's parameters (19 MiB, 2 passes, 1 lane),
/// so building a user costs no hashing and users sign in as usual.
pub const PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$h6IgsaFvBiWwOygkyJB2uQ$N7bdJr893pnaD1DrMJZX4eOFzYrk3uKtWUDEl5DJXI4";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_user_signs_in_with_the_password() {
        let ok = api::auth::password::verify_password(
            PASSWORD.to_owned(),
            Some(PASSWORD_HASH.to_owned()),
        )
        .await
        .expect("verify");
        assert!(ok, "PASSWORD_HASH is not a hash of PASSWORD");
    }
}
