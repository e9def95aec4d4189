//! Who is calling: a user's role and how they proved who they are. Values only.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

/// What a user may do; each role may do everything the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Requests playback.
    Viewer,
    /// Uploads and manages their own assets.
    Creator,
    /// Everything, everyone's.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Creator => "creator",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "viewer" => Some(Self::Viewer),
            "creator" => Some(Self::Creator),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// How a caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An access token of this login (session).
    Session(String),
    /// This API key (its id).
    ApiKey(String),
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    /// The role this request acts with: the user's, or less for an API key scoped lower.
    pub role: Role,
    pub credential: Credential,
}

impl Caller {
    /// `Ok` when the caller has at least `role`, else 403 saying which role is needed.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {} role; you act as {}",
                role.as_str(),
                self.role.as_str()
            )))
        }
    }

    /// Whether the caller may see and change what `owner_id` owns: their own things, or anything for admins.
    pub fn may_manage(&self, owner_id: &str) -> bool {
        self.role == Role::Admin || self.user_id == owner_id
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_named() {
        assert!(Role::Admin > Role::Creator && Role::Creator > Role::Viewer);
        for role in [Role::Viewer, Role::Creator, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn callers_manage_their_own_things_and_admins_everything() {
        let creator = Caller { user_id: "u1".into(), role: Role::Creator, credential: Credential::Session("s".into()) };
        assert!(creator.may_manage("u1") && !creator.may_manage("u2"));
        assert!(creator.require(Role::Creator).is_ok());
        assert_eq!(creator.require(Role::Admin).unwrap_err().status, http::StatusCode::FORBIDDEN);
        let admin = Caller { role: Role::Admin, ..creator };
        assert!(admin.may_manage("u2"));
    }
}
