//! The top-level list field of every record kind and its connection types, in schema
//! order: one entry each, declared by [`record_list!`]. A new kind adds an entry here.

use crate::graphql::activity::{Activity, ActivityFilter, ActivityOrder};
use crate::graphql::company::{Company, CompanyFilter, CompanyOrder};
use crate::graphql::contact::{Contact, ContactFilter, ContactOrder};
use crate::graphql::deal::{Deal, DealFilter, DealOrder};
use crate::graphql::record::record_list;
use crate::graphql::team::{TeamFilter, TeamOrder};
use crate::graphql::user::{UserFilter, UserOrder};
use crate::graphql::{Team, User};

record_list! {
    UserListQuery for entity::user::Entity => UserConnection, UserEdge of User {
        connection: "A page of the user directory, with the total over all pages.",
        edge: "A user in a page, with its cursor.",
        /// The user directory as the viewer may see it (per the policy: active users for sales
        /// reps), a page at a time (25 by default, at most 100); by name by default.
        users(
            filter: UserFilter = "Conditions the users must meet.",
            search = "Text to look for in the name or email (case-insensitive).",
            order_by: UserOrder = "Ordering keys (default: name); ties break by ID.",
        )
    }
}

record_list! {
    TeamListQuery for entity::team::Entity => TeamConnection, TeamEdge of Team {
        connection: "A page of teams, with the total over all pages.",
        edge: "A team in a page, with its cursor.",
        /// Teams, a page at a time (25 by default, at most 100); by name by default.
        teams(
            filter: TeamFilter = "Conditions the teams must meet.",
            order_by: TeamOrder = "Ordering keys (default: name); ties break by ID.",
        )
    }
}

record_list! {
    DealQuery for entity::deal::Entity => DealConnection, DealEdge of Deal {
        connection: "A page of deals, with the total over all pages.",
        edge: "A deal in a page, with its cursor.",
        /// Deals the viewer may read, a page at a time (25 by default, at most 100).
        deals(
            filter: DealFilter = "Conditions the deals must meet.",
            search = "Text to look for in the title (case-insensitive).",
            order_by: DealOrder = "Ordering keys (default: newest first); ties break by ID.",
        )
        /// A deal by ID; `null` when it does not exist or the viewer may not read it.
        deal(id = "The deal's ID.")
    }
}

record_list! {
    ActivityQuery for entity::activity::Entity => ActivityConnection, ActivityEdge of Activity {
        connection: "A page of activities, with the total over all pages.",
        edge: "An activity in a page, with its cursor.",
        /// Activities the viewer may read, a page at a time (25 by default, at most 100); by
        /// default soonest due first, activities without a due time last. For "my open tasks"
        /// see `ActivityFilter`.
        activities(
            filter: ActivityFilter = "Conditions the activities must meet.",
            order_by: ActivityOrder = "Ordering keys (default: due time ascending, none last); ties break by ID.",
        )
        /// An activity by ID; `null` when it does not exist or the viewer may not read it.
        activity(id = "The activity's ID.")
    }
}

record_list! {
    CompanyQuery for entity::company::Entity => CompanyConnection, CompanyEdge of Company {
        connection: "A page of companies, with the total over all pages.",
        edge: "A company in a page, with its cursor.",
        /// Companies the viewer may read, a page at a time (25 by default, at most 100).
        companies(
            filter: CompanyFilter = "Conditions the companies must meet.",
            search = "Text to look for in the name or domain (case-insensitive).",
            order_by: CompanyOrder = "Ordering keys (default: name ascending); ties break by ID.",
        )
        /// A company by ID; `null` when it does not exist or the viewer may not read it.
        company(id = "The company's ID.")
    }
}

record_list! {
    ContactQuery for entity::contact::Entity => ContactConnection, ContactEdge of Contact {
        connection: "A page of contacts, with the total over all pages.",
        edge: "A contact in a page, with its cursor.",
        /// Contacts the viewer may read, a page at a time (25 by default, at most 100).
        contacts(
            filter: ContactFilter = "Conditions the contacts must meet.",
            search = "Text to look for in the full name or email (case-insensitive).",
            order_by: ContactOrder = "Ordering keys (default: full name ascending); ties break by ID.",
        )
        /// A contact by ID; `null` when it does not exist or the viewer may not read it.
        contact(id = "The contact's ID.")
    }
}
