//! `/v1/people`: the cast and crew titles credit. Anyone reads them (with the titles they may see); creators
//! make them and change their own, admins any. A credited person cannot be deleted.

use axum::extract::State;
use axum::http::StatusCode;
use marquee_control_api::auth::{Caller, MaybeCaller, Role};
use marquee_control_api::db::begin_write;
use marquee_control_api::error::extract::{Json, Path, Query};
use marquee_control_api::error::ErrorBody;
use marquee_control_api::ApiError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{invalid, new_id, page_size, require_manager, visible_title, CatalogState};
use crate::indexing;
use crate::listing::Position;
use crate::model::{self, Problems};
use crate::store::{self, Person};

/// A new person.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPerson {
    /// 1 to 300 characters.
    #[schema(min_length = 1, max_length = 300)]
    pub name: String,
    /// Other spellings, birth names (at most 20).
    #[serde(default)]
    pub other_names: Vec<String>,
    #[serde(default)]
    pub biography: Option<String>,
}

/// Changes to a person: absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonPatch {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 300)]
    pub name: Option<String>,
    #[serde(default)]
    pub other_names: Option<Vec<String>>,
    #[serde(default)]
    pub biography: Option<String>,
}

/// A person with the titles they are credited in (those the caller may see).
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonDetail {
    #[serde(flatten)]
    pub person: Person,
    pub titles: Vec<CreditedTitle>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreditedTitle {
    pub id: String,
    pub title: String,
}

/// One page of people.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonPage {
    pub items: Vec<Person>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PersonQuery {
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// How many at most (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

const PEOPLE_QUERY: &str = "people";

fn check_fields(
    person: &mut Person,
    problems: &mut Problems,
    name: Option<&str>,
    other_names: Option<&[String]>,
    biography: Option<&str>,
) {
    if let Some(name) = name {
        if let Some(name) = problems.check("name", model::name(name)) {
            person.name = name;
        }
    }
    if let Some(list) = other_names {
        if list.len() > model::MAX_OTHER_NAMES {
            problems.add("other_names", format!("{} names; the most is {}", list.len(), model::MAX_OTHER_NAMES));
        } else {
            let mut names = Vec::with_capacity(list.len());
            for (i, name) in list.iter().enumerate() {
                if let Some(name) = problems.check(&format!("other_names[{i}]"), model::name(name)) {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
            }
            person.other_names = names;
        }
    }
    if let Some(text) = biography {
        if let Some(text) = problems.check("biography", model::short_text(text, model::MAX_TEXT_CHARS)) {
            person.biography = text;
        }
    }
}

/// Adds a person.
#[utoipa::path(post, path = "/v1/people", tag = "catalog", security(("bearer" = [])), request_body = NewPerson,
    responses((status = 201, body = PersonDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn create(
    State(state): State<CatalogState>,
    caller: Caller,
    Json(input): Json<NewPerson>,
) -> Result<(StatusCode, Json<PersonDetail>), ApiError> {
    caller.require(Role::Creator)?;
    let now = state.now();
    let mut person = Person {
        id: new_id(),
        name: String::new(),
        other_names: Vec::new(),
        biography: String::new(),
        owner_id: caller.user_id.clone(),
        created_at: now,
        updated_at: now,
    };
    let mut problems = Problems::new();
    check_fields(
        &mut person,
        &mut problems,
        Some(&input.name),
        Some(&input.other_names),
        Some(input.biography.as_deref().unwrap_or("")),
    );
    invalid(problems)?;
    let mut tx = begin_write(state.app.db.pool()).await?;
    store::insert_person(&mut tx, &person).await?;
    indexing::people(&mut tx, state.index.as_ref(), std::slice::from_ref(&person.id)).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(PersonDetail { person, titles: Vec::new() })))
}

/// People in the order they were added.
#[utoipa::path(get, path = "/v1/people", tag = "catalog", params(PersonQuery),
    responses((status = 200, body = PersonPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<CatalogState>,
    MaybeCaller(_caller): MaybeCaller,
    Query(query): Query<PersonQuery>,
) -> Result<Json<PersonPage>, ApiError> {
    let limit = page_size(query.limit)?;
    let after = state.decode_cursor(query.after.as_deref(), PEOPLE_QUERY).await?;
    let mut conn = state.connection().await?;
    let mut items = store::people(&mut conn, after.as_ref().map(|p| p.id.as_str()), limit + 1).await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        let last = items.last().expect("a full page has a last item");
        Some(state.encode_cursor(&Position { number: None, id: last.id.clone() }, PEOPLE_QUERY).await?)
    } else {
        None
    };
    Ok(Json(PersonPage { items, next_cursor }))
}

async fn person_detail(
    state: &CatalogState,
    caller: Option<&Caller>,
    person: Person,
) -> Result<PersonDetail, ApiError> {
    let mut conn = state.connection().await?;
    let mut titles = Vec::new();
    for (id, title) in store::credited_titles(&mut conn, &person.id).await? {
        match visible_title(state, &mut conn, caller, &id, None).await {
            Ok(_) => titles.push(CreditedTitle { id, title }),
            Err(e) if e.status == StatusCode::NOT_FOUND => {}
            Err(e) => return Err(e),
        }
    }
    Ok(PersonDetail { person, titles })
}

/// One person, with the titles they are credited in.
#[utoipa::path(get, path = "/v1/people/{id}", tag = "catalog",
    params(("id" = String, Path, description = "the person's id")),
    responses((status = 200, body = PersonDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<CatalogState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
) -> Result<Json<PersonDetail>, ApiError> {
    let mut conn = state.connection().await?;
    let person = store::person(&mut conn, &id).await?.ok_or_else(|| ApiError::not_found("person"))?;
    drop(conn);
    Ok(Json(person_detail(&state, caller.as_ref(), person).await?))
}

/// The person `id` if the caller may change them: 404 when there is none, 403 when not theirs.
async fn editable(conn: &mut sqlx::AnyConnection, caller: &Caller, id: &str) -> Result<Person, ApiError> {
    caller.require(Role::Creator)?;
    let person = store::person(conn, id).await?.ok_or_else(|| ApiError::not_found("person"))?;
    let refusal = "this person was added by someone else: only they and admins may change them";
    require_manager(caller, &person.owner_id, refusal)?;
    Ok(person)
}

/// Changes a person; the titles that credit them are found by the new name at once.
#[utoipa::path(patch, path = "/v1/people/{id}", tag = "catalog", security(("bearer" = [])),
    params(("id" = String, Path, description = "the person's id")), request_body = PersonPatch,
    responses((status = 200, body = PersonDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<CatalogState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(patch): Json<PersonPatch>,
) -> Result<Json<PersonDetail>, ApiError> {
    caller.require(Role::Creator)?;
    let mut tx = begin_write(state.app.db.pool()).await?;
    let mut person = editable(&mut tx, &caller, &id).await?;
    let mut problems = Problems::new();
    check_fields(
        &mut person,
        &mut problems,
        patch.name.as_deref(),
        patch.other_names.as_deref(),
        patch.biography.as_deref(),
    );
    invalid(problems)?;
    person.updated_at = state.now();
    store::update_person(&mut tx, &person).await?;
    indexing::people(&mut tx, state.index.as_ref(), std::slice::from_ref(&person.id)).await?;
    for (title_id, _) in store::credited_titles(&mut tx, &person.id).await? {
        indexing::title(&mut tx, state.index.as_ref(), &title_id).await?;
    }
    tx.commit().await?;
    Ok(Json(person_detail(&state, Some(&caller), person).await?))
}

/// Deletes a person no title credits.
#[utoipa::path(delete, path = "/v1/people/{id}", tag = "catalog", security(("bearer" = [])),
    params(("id" = String, Path, description = "the person's id")),
    responses((status = 204, description = "deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<CatalogState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let mut tx = begin_write(state.app.db.pool()).await?;
    let person = editable(&mut tx, &caller, &id).await?;
    if !store::credited_titles(&mut tx, &person.id).await?.is_empty() {
        return Err(ApiError::conflict("person_credited", "titles credit this person: change their credits first"));
    }
    store::delete_person(&mut tx, &person.id).await?;
    state.index.remove(&mut tx, &person.id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
