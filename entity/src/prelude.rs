//! Entities under their table's singular name, plus the shared enums.

pub use crate::activity::Entity as Activity;
pub use crate::company::Entity as Company;
pub use crate::contact::Entity as Contact;
pub use crate::deal::Entity as Deal;
pub use crate::deal_share::Entity as DealShare;
pub use crate::enums::{
    ActivityType, AuditAction, CompanySize, DealSource, DealStage, Department, Industry, Priority,
    RecordKind, Role, SharePermission,
};
pub use crate::event::Entity as Event;
pub use crate::login_throttle::Entity as LoginThrottle;
pub use crate::notification::Entity as Notification;
pub use crate::refresh_token::Entity as RefreshToken;
pub use crate::session::Entity as Session;
pub use crate::team::Entity as Team;
pub use crate::user::Entity as User;
