//! `/v1/plans`: admins create, rename, archive; everyone signed in lists what is on sale.

use axum::extract::State;
use axum::http::StatusCode;
use marquee_control_api::auth::{Caller, MaybeCaller, Role};
use marquee_control_api::error::extract::{Json, Path};
use marquee_control_api::error::ErrorBody;
use marquee_control_api::ApiError;

use super::{check_name, invalid_price};
use crate::domain::entitlement::Unlocks;
use crate::domain::money::Money;
use crate::model::{NewPlan, Plan, PlanChange};
use crate::state::CommerceState;
use crate::store;

const MAX_TRIAL_DAYS: i64 = 365;

fn check_trial(days: i64) -> Result<i64, ApiError> {
    if (0..=MAX_TRIAL_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(ApiError::bad_request("invalid_trial_days", format!("trial_days must be 0 to {MAX_TRIAL_DAYS}")))
    }
}

fn check_unlocks(unlocks: Unlocks) -> Result<Unlocks, ApiError> {
    match &unlocks {
        Unlocks::Tag { tag } if tag.trim().is_empty() || tag.len() > 100 || tag.chars().any(char::is_control) => Err(
            ApiError::bad_request("invalid_unlocks", "a tag is 1 to 100 characters, none of them control characters"),
        ),
        _ => Ok(unlocks),
    }
}

/// Creates a plan (admins).
#[utoipa::path(post, path = "/v1/plans", tag = "commerce", security(("bearer" = [])), request_body = NewPlan,
    responses((status = 201, body = Plan), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn create(
    State(state): State<CommerceState>,
    caller: Caller,
    Json(new): Json<NewPlan>,
) -> Result<(StatusCode, Json<Plan>), ApiError> {
    caller.require(Role::Admin)?;
    let price = Money::new(new.price.amount_minor, &new.price.currency).map_err(invalid_price)?;
    let now = state.core.clock.now_ms();
    let plan = Plan {
        id: store::new_id(),
        name: check_name(&new.name)?,
        price,
        period: new.period,
        trial_days: check_trial(new.trial_days)?,
        unlocks: check_unlocks(new.unlocks)?,
        archived: false,
        created_at: now,
        updated_at: now,
    };
    store::insert_plan(state.app.db.pool(), &plan).await?;
    Ok((StatusCode::CREATED, Json(plan)))
}

/// The plans on sale, to anyone (a visitor compares prices before signing up); admins also see archived ones.
#[utoipa::path(get, path = "/v1/plans", tag = "commerce", security((), ("bearer" = [])),
    responses((status = 200, body = Vec<Plan>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<CommerceState>,
    MaybeCaller(caller): MaybeCaller,
) -> Result<Json<Vec<Plan>>, ApiError> {
    Ok(Json(store::plans(state.app.db.pool(), caller.is_some_and(|c| c.is_admin())).await?))
}

async fn found(state: &CommerceState, caller: Option<&Caller>, id: &str) -> Result<Plan, ApiError> {
    match store::plan(state.app.db.pool(), id).await? {
        Some(plan) if !plan.archived || caller.is_some_and(Caller::is_admin) => Ok(plan),
        _ => Err(ApiError::not_found("plan")),
    }
}

/// One plan (on sale: to anyone; archived: to admins).
#[utoipa::path(get, path = "/v1/plans/{id}", tag = "commerce", security((), ("bearer" = [])),
    params(("id" = String, Path, description = "the plan's id")),
    responses((status = 200, body = Plan), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<CommerceState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
) -> Result<Json<Plan>, ApiError> {
    Ok(Json(found(&state, caller.as_ref(), &id).await?))
}

/// Renames a plan or changes its trial for new subscribers (admins). A new price is a new plan.
#[utoipa::path(patch, path = "/v1/plans/{id}", tag = "commerce", security(("bearer" = [])), request_body = PlanChange,
    params(("id" = String, Path, description = "the plan's id")),
    responses((status = 200, body = Plan), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<CommerceState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(change): Json<PlanChange>,
) -> Result<Json<Plan>, ApiError> {
    caller.require(Role::Admin)?;
    let mut plan = found(&state, Some(&caller), &id).await?;
    if let Some(name) = change.name {
        plan.name = check_name(&name)?;
    }
    if let Some(days) = change.trial_days {
        plan.trial_days = check_trial(days)?;
    }
    plan.updated_at = state.core.clock.now_ms();
    store::update_plan(state.app.db.pool(), &plan, None).await?;
    Ok(Json(plan))
}

/// Archives a plan (admins): no longer sold; its subscriptions go on.
#[utoipa::path(delete, path = "/v1/plans/{id}", tag = "commerce", security(("bearer" = [])),
    params(("id" = String, Path, description = "the plan's id")),
    responses((status = 204, description = "archived"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn archive(
    State(state): State<CommerceState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let mut plan = found(&state, Some(&caller), &id).await?;
    let now = state.core.clock.now_ms();
    plan.updated_at = now;
    store::update_plan(state.app.db.pool(), &plan, Some(now)).await?;
    Ok(StatusCode::NO_CONTENT)
}
