//! The enumerations of the schema (stored values convert through `remote`).

use async_graphql::Enum;

/// A company's industry.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Industry")]
pub enum Industry {
    /// Software, hardware, internet.
    Technology,
    /// Care providers, pharma, medical devices.
    Healthcare,
    /// Banking, insurance, investment.
    Finance,
    /// Shops and e-commerce.
    Retail,
    /// Making physical goods.
    Manufacturing,
    /// Anything else.
    Other,
}

/// Head count bracket of a company.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::CompanySize")]
pub enum CompanySize {
    /// 1–10 people.
    #[graphql(name = "SIZE_1_10")]
    S1To10,
    /// 11–50 people.
    #[graphql(name = "SIZE_11_50")]
    S11To50,
    /// 51–200 people.
    #[graphql(name = "SIZE_51_200")]
    S51To200,
    /// 201–1000 people.
    #[graphql(name = "SIZE_201_1000")]
    S201To1000,
    /// More than 1000 people.
    #[graphql(name = "SIZE_1000_PLUS")]
    S1000Plus,
}

/// A contact's department.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Department")]
pub enum Department {
    /// Sales.
    Sales,
    /// Marketing.
    Marketing,
    /// Engineering.
    Engineering,
    /// Human resources.
    #[graphql(name = "HR")]
    Hr,
    /// Anything else.
    Other,
}

/// What kind of activity.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::ActivityType")]
pub enum ActivityType {
    /// A phone call.
    Call,
    /// An email.
    Email,
    /// A meeting.
    Meeting,
    /// A note.
    Note,
    /// A to-do.
    Task,
}

/// What a user may do with a deal shared with them.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::SharePermission")]
pub enum SharePermission {
    /// Read it.
    View,
    /// Read and edit it (including the amount, per the default policy).
    Edit,
}

/// Where a deal stands in the pipeline; the probability follows from it.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::DealStage")]
pub enum DealStage {
    /// First contact (10 %).
    Prospecting,
    /// Need and budget confirmed (25 %).
    Qualification,
    /// Proposal sent (50 %).
    Proposal,
    /// Terms under negotiation (75 %).
    Negotiation,
    /// Won (100 %).
    ClosedWon,
    /// Lost (0 %).
    ClosedLost,
}

/// Where a deal came from.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::DealSource")]
pub enum DealSource {
    /// The website.
    Website,
    /// A referral.
    Referral,
    /// A cold call.
    ColdCall,
    /// An event.
    Event,
    /// Anything else.
    Other,
}

/// How urgent a deal is.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Priority")]
pub enum Priority {
    /// Low.
    Low,
    /// Medium (the default).
    Medium,
    /// High.
    High,
}

/// A user's role; what each role may do is decided by the policy files.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Role")]
pub enum Role {
    /// Works their own accounts and deals.
    SalesRep,
    /// Manages one or more teams of sales reps.
    Manager,
    /// Administers users, teams and everything else.
    Admin,
}
