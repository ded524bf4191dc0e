//! Direct Oso queries on real data: the reference the compiled fast path is tested against.
//!
//! Here every fact is computed by the Polar classes (with the Rust checks of the fact tables)
//! from real data (owner ids, teams, the actor's share) and every decision is an
//! `Oso::is_allowed` call. Facts that are themselves decisions
//! (`linked_to_readable_deal`, `on_readable_record`) are answered by asking Oso whether the
//! related record is readable. This is slow (hundreds of microseconds per question) and is
//! only for tests and benchmarks.

use std::collections::HashMap;

use oso::{Oso, OsoError};
use uuid::Uuid;

use api::authz::{
    Action, ActivityFacts, Authorizer, CompanyAction, CompanyFacts, ContactAction, ContactFacts,
    DealAction, DealFacts, Kind, PolarActivity, PolarCompany, PolarContact, PolarDeal,
    PolarResource, PolarUser, RealUser,
};

use crate::Org;

/// `oso.is_allowed(actor, action, resource)` with real data.
pub fn is_allowed(
    oso: &Oso,
    actor: &RealUser,
    action: &str,
    resource: &PolarResource,
) -> Result<bool, Box<OsoError>> {
    resource.is_allowed(oso, &PolarUser::real(actor.clone()), action)
}

/// Answers policy questions about one user and the records of an [`Org`] with direct Oso
/// queries, memoising the `read` answers that other records' facts depend on.
pub struct Oracle<'a> {
    oso: &'a Oso,
    org: &'a Org,
    actor: RealUser,
    polar_actor: PolarUser,
    readable: HashMap<(Kind, Uuid), bool>,
}

impl<'a> Oracle<'a> {
    /// The oracle for user `user_id` of `org`, asking `authz`'s Oso instance.
    pub fn new(authz: &'a Authorizer, org: &'a Org, user_id: Uuid) -> Self {
        let user = org.find_user(user_id);
        let actor = RealUser {
            id: user_id,
            role: user.map_or(entity::enums::Role::SalesRep, |u| u.role),
            team_id: user.and_then(|u| u.team_id),
            team_ids: org.teams_of(user_id),
            active: true,
        };
        Oracle {
            oso: authz.oso(),
            org,
            polar_actor: PolarUser::real(actor.clone()),
            actor,
            readable: HashMap::new(),
        }
    }

    /// The actor as Polar sees it.
    pub fn actor(&self) -> &RealUser {
        &self.actor
    }

    /// `is_allowed(actor, action, <record id of the action's kind>)`, on real data. A record
    /// that does not exist in the organisation is an error.
    pub fn is_allowed(
        &mut self,
        id: Uuid,
        action: impl Into<Action>,
    ) -> Result<bool, Box<OsoError>> {
        let action = action.into();
        let resource = self.resource(action.kind(), id)?;
        resource.is_allowed(self.oso, &self.polar_actor, action.polar())
    }

    /// Whether the record `id` allows `read` (the action `read` of its kind).
    fn readable(&mut self, read: impl Into<Action>, id: Uuid) -> Result<bool, Box<OsoError>> {
        let read = read.into();
        if let Some(&known) = self.readable.get(&(read.kind(), id)) {
            return Ok(known);
        }
        let answer = self.is_allowed(id, read)?;
        self.readable.insert((read.kind(), id), answer);
        Ok(answer)
    }

    /// The record as a Polar instance with real data (facts relative to this oracle's actor).
    pub fn resource(&mut self, kind: Kind, id: Uuid) -> Result<PolarResource, Box<OsoError>> {
        let org = self.org;
        let missing = || {
            Box::new(OsoError::Custom {
                message: format!("no {kind} {id} in the organisation"),
            })
        };
        Ok(match kind {
            Kind::Deal => {
                let d = org.deals.iter().find(|d| d.id == id).ok_or_else(missing)?;
                PolarResource::Deal(PolarDeal::real(DealFacts {
                    owner_id: d.owner_id,
                    owner_team_id: org.team_of(d.owner_id),
                    share: org
                        .shares
                        .iter()
                        .find(|s| s.deal_id == id && s.user_id == self.actor.id)
                        .map(|s| s.permission),
                }))
            }
            Kind::Company => {
                let c = org
                    .companies
                    .iter()
                    .find(|c| c.id == id)
                    .ok_or_else(missing)?;
                let linked = self.any_readable_deal(|d| d.company_id == id)?;
                PolarResource::Company(PolarCompany::real(CompanyFacts {
                    owner_id: c.owner_id,
                    owner_team_id: org.team_of(c.owner_id),
                    linked_to_readable_deal: linked,
                }))
            }
            Kind::Contact => {
                let c = org
                    .contacts
                    .iter()
                    .find(|c| c.id == id)
                    .ok_or_else(missing)?;
                let linked = self.any_readable_deal(|d| d.contact_id == Some(id))?;
                PolarResource::Contact(PolarContact::real(ContactFacts {
                    owner_id: c.owner_id,
                    owner_team_id: org.team_of(c.owner_id),
                    linked_to_readable_deal: linked,
                }))
            }
            Kind::Activity => {
                let a = org
                    .activities
                    .iter()
                    .find(|a| a.id == id)
                    .ok_or_else(missing)?;
                let mut on_readable = false;
                for (read, related) in [
                    (Action::from(DealAction::Read), a.deal_id),
                    (CompanyAction::Read.into(), a.company_id),
                    (ContactAction::Read.into(), a.contact_id),
                ] {
                    if let Some(related) = related
                        && self.readable(read, related)?
                    {
                        on_readable = true;
                        break;
                    }
                }
                PolarResource::Activity(PolarActivity::real(ActivityFacts {
                    created_by: a.created_by,
                    creator_team_id: org.team_of(a.created_by),
                    assigned_to: a.assigned_to,
                    assignee_team_id: a.assigned_to.and_then(|u| org.team_of(u)),
                    on_readable_record: on_readable,
                }))
            }
            Kind::User => {
                let u = org.find_user(id).ok_or_else(missing)?;
                PolarResource::User(PolarUser::real(RealUser {
                    id: u.id,
                    role: u.role,
                    team_id: u.team_id,
                    team_ids: Vec::new(),
                    active: u.active,
                }))
            }
            Kind::Team => PolarResource::Team,
            Kind::AuditLog => PolarResource::AuditLog,
            Kind::Export => PolarResource::Export,
            Kind::Automation => PolarResource::Automation,
        })
    }

    fn any_readable_deal(
        &mut self,
        linked: impl Fn(&entity::deal::Model) -> bool,
    ) -> Result<bool, Box<OsoError>> {
        let ids: Vec<Uuid> = self
            .org
            .deals
            .iter()
            .filter(|d| linked(d))
            .map(|d| d.id)
            .collect();
        for id in ids {
            if self.readable(DealAction::Read, id)? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
