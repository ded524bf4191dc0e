//! `login_throttle`: failed sign-in counters per account and per client address, shared by
//! all API instances.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_throttle")]
pub struct Model {
    /// `account:<email>` or `address:<ip>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub throttle_key: String,
    /// Failures since `window_started_at`.
    pub failures: i32,
    pub window_started_at: DateTimeUtc,
    /// Sign-ins for this key are refused until then.
    pub locked_until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
