//! `/v1/titles`: create, list (filters, signed cursors), read (with credits, availability, assets, seasons
//! and episodes), update, delete, and the replace-the-list endpoints for credits, availability windows and
//! asset links. Every change tells the index in its own transaction.

use axum::extract::State;
use axum::http::StatusCode;
use marquee_control_api::auth::{Caller, MaybeCaller, Role};
use marquee_control_api::db::begin_write;
use marquee_control_api::error::extract::{Json, Path, Query};
use marquee_control_api::error::ErrorBody;
use marquee_control_api::ApiError;
use serde::{Deserialize, Deserializer, Serialize};
use sqlx::AnyConnection;
use utoipa::{IntoParams, ToSchema};

use super::{
    audience, editable_title, invalid, manages, new_id, page_size, region_param, visible_title, window_chain,
    CatalogState,
};
use crate::availability::{self, availability_of_chain, Window};
use crate::indexing;
use crate::listing::Position;
use crate::listing::{self, Audience, Filter};
use crate::model::{self, AssetRole, CreditKind, Problems, TitleKind};
use crate::store::{self, Credit, Title, TitleAsset};

/// A new title.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTitle {
    pub kind: TitleKind,
    /// 1 to 300 characters.
    #[schema(min_length = 1, max_length = 300)]
    pub title: String,
    /// A season's series, an episode's season (required for those, refused for others).
    #[serde(default)]
    pub parent_id: Option<String>,
    /// A season's or an episode's number in its parent (0 for specials).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100_000)]
    pub number: Option<i32>,
    #[serde(default)]
    pub original_title: Option<String>,
    #[serde(default)]
    pub synopsis: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1870, maximum = 2100)]
    pub release_year: Option<i32>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10_080)]
    pub runtime_minutes: Option<i32>,
    /// One of G, PG, PG-13, R, NC-17, NR, TV-Y, TV-Y7, TV-G, TV-PG, TV-14, TV-MA.
    #[serde(default)]
    pub maturity_rating: Option<String>,
    /// BCP 47 tags (`en`, `pt-BR`).
    #[serde(default)]
    pub languages: Vec<String>,
    /// Stored lowercase, trimmed, without repeats.
    #[serde(default)]
    pub genres: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Changes to a title: absent fields stay as they are; `null` clears an optional one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TitlePatch {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 300)]
    pub title: Option<String>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100_000)]
    pub number: Option<i32>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub original_title: Option<Option<String>>,
    #[serde(default)]
    pub synopsis: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i32>, nullable, minimum = 1870, maximum = 2100)]
    pub release_year: Option<Option<i32>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i32>, nullable, minimum = 1, maximum = 10_080)]
    pub runtime_minutes: Option<Option<i32>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub maturity_rating: Option<Option<String>>,
    #[serde(default)]
    pub languages: Option<Vec<String>>,
    #[serde(default)]
    pub genres: Option<Vec<String>>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// A present field, `null` or not.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A title with what belongs to it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TitleDetail {
    #[serde(flatten)]
    pub title: Title,
    /// When and where it may be watched; empty: always, everywhere.
    pub availability: Vec<Window>,
    /// Cast and crew in billing order.
    pub credits: Vec<Credit>,
    pub assets: Vec<TitleAsset>,
    /// A series' seasons in number order, each with its episodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seasons: Option<Vec<SeasonDetail>>,
    /// A season's episodes in number order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub episodes: Option<Vec<Title>>,
}

/// A season and its episodes.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeasonDetail {
    #[serde(flatten)]
    pub season: Title,
    pub episodes: Vec<Title>,
}

/// One page of titles.
#[derive(Debug, Serialize, ToSchema)]
pub struct TitlePage {
    pub items: Vec<Title>,
    /// Pass as `after` (with the same filters) for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TitleQuery {
    /// Only titles of this kind.
    #[param(value_type = Option<TitleKind>)]
    pub kind: Option<String>,
    /// Only titles with this genre.
    pub genre: Option<String>,
    /// Only titles released this year.
    pub year: Option<i64>,
    /// Only the seasons or episodes of this title, in number order (other lists are newest first).
    pub parent_id: Option<String>,
    /// The viewer's region (ISO 3166-1 alpha-2): "available" means available there (default: anywhere).
    pub region: Option<String>,
    /// `now` (the default for viewers and anonymous callers, the only choice they have): only what is
    /// available now; `any`: also, for creators, their own titles in any state, and for admins everything
    /// (the default for both).
    pub available: Option<String>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// How many at most (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Replaces a title's credits.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditsInput {
    /// In billing order (at most 500).
    pub credits: Vec<CreditInput>,
}

/// One credit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditInput {
    pub person_id: String,
    pub kind: CreditKind,
    /// The character a cast member plays (cast only).
    #[serde(default)]
    pub character: Option<String>,
    /// A crew member's job: `director`, `writer`, … (required for crew, refused for cast).
    #[serde(default)]
    pub role: Option<String>,
}

/// Replaces a title's availability windows.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityInput {
    /// Empty: always available, everywhere.
    pub windows: Vec<Window>,
}

/// Replaces a title's assets.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetsInput {
    /// The control API's assets: a movie's one `feature`, an episode's one `episode` video, any title's
    /// `trailer`s. Creators may link only their own assets.
    pub assets: Vec<AssetInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetInput {
    pub asset_id: String,
    pub role: AssetRole,
}

/// The validated fields of a new or changed title, or every problem.
fn checked_fields(title: &mut Title, problems: &mut Problems, input: FieldsInput<'_>) {
    if let Some(text) = input.title {
        if let Some(name) = problems.check("title", model::name(text)) {
            title.title = name;
        }
    }
    if let Some(original) = input.original_title {
        title.original_title = match original {
            Some(text) => problems.check("original_title", model::short_text(text, model::MAX_NAME_CHARS)),
            None => None,
        }
        .filter(|text| !text.is_empty());
    }
    if let Some(text) = input.synopsis {
        if let Some(text) = problems.check("synopsis", model::short_text(text, model::MAX_TEXT_CHARS)) {
            title.synopsis = text;
        }
    }
    if let Some(year) = input.release_year {
        title.release_year = year.and_then(|y| problems.check("release_year", model::release_year(y))).map(i64::from);
    }
    if let Some(minutes) = input.runtime_minutes {
        title.runtime_minutes =
            minutes.and_then(|m| problems.check("runtime_minutes", model::runtime_minutes(m))).map(i64::from);
    }
    if let Some(rating) = input.maturity_rating {
        title.maturity_rating =
            rating.and_then(|r| problems.check("maturity_rating", model::maturity_rating(r))).map(str::to_owned);
    }
    if let Some(list) = input.languages {
        if let Some(list) = problems.check("languages", model::languages(list)) {
            title.languages = list;
        }
    }
    if let Some(list) = input.genres {
        if let Some(list) = problems.check("genres", model::labels(list, model::MAX_GENRES)) {
            title.genres = list;
        }
    }
    if let Some(list) = input.tags {
        if let Some(list) = problems.check("tags", model::labels(list, model::MAX_TAGS)) {
            title.tags = list;
        }
    }
}

/// Fields given in a request: `None` is absent; an inner `None` clears.
struct FieldsInput<'a> {
    title: Option<&'a str>,
    original_title: Option<Option<&'a str>>,
    synopsis: Option<&'a str>,
    release_year: Option<Option<i32>>,
    runtime_minutes: Option<Option<i32>>,
    maturity_rating: Option<Option<&'a str>>,
    languages: Option<&'a [String]>,
    genres: Option<&'a [String]>,
    tags: Option<&'a [String]>,
}

/// Makes a title. Seasons go under a series, episodes under a season, each with its number; the parent must be
/// the caller's (or any, for admins).
#[utoipa::path(post, path = "/v1/titles", tag = "catalog", security(("bearer" = [])), request_body = NewTitle,
    responses((status = 201, body = TitleDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<CatalogState>,
    caller: Caller,
    Json(input): Json<NewTitle>,
) -> Result<(StatusCode, Json<TitleDetail>), ApiError> {
    caller.require(Role::Creator)?;
    let now = state.now();
    let mut title = Title {
        id: new_id(),
        kind: input.kind,
        parent_id: None,
        number: None,
        title: String::new(),
        original_title: None,
        synopsis: String::new(),
        release_year: None,
        runtime_minutes: None,
        maturity_rating: None,
        languages: Vec::new(),
        genres: Vec::new(),
        tags: Vec::new(),
        artwork: store::Artwork::default(),
        owner_id: caller.user_id.clone(),
        created_at: now,
        updated_at: now,
    };
    let mut problems = Problems::new();
    checked_fields(
        &mut title,
        &mut problems,
        FieldsInput {
            title: Some(&input.title),
            original_title: Some(input.original_title.as_deref()),
            synopsis: Some(input.synopsis.as_deref().unwrap_or("")),
            release_year: Some(input.release_year),
            runtime_minutes: Some(input.runtime_minutes),
            maturity_rating: Some(input.maturity_rating.as_deref()),
            languages: Some(&input.languages),
            genres: Some(&input.genres),
            tags: Some(&input.tags),
        },
    );
    let mut tx = begin_write(state.app.db.pool()).await?;
    let parent = match &input.parent_id {
        Some(id) => Some(editable_title(&state, &mut tx, &caller, id).await.map_err(|e| parent_error(e, id))?),
        None => None,
    };
    let placement = model::placement(input.kind, parent.as_ref().map(|p| p.kind), input.number);
    problems.extend(placement);
    invalid(problems)?;
    title.parent_id = parent.map(|p| p.id);
    title.number = input.number.map(i64::from);
    if let (Some(parent), Some(number)) = (&title.parent_id, title.number) {
        if store::number_taken(&mut tx, parent, number, None).await? {
            return Err(number_conflict(input.kind, number));
        }
    }
    store::insert_title(&mut tx, &title).await.map_err(|e| unique_to_conflict(e, input.kind, title.number))?;
    indexing::title(&mut tx, state.index.as_ref(), &title.id).await?;
    tx.commit().await?;
    tracing::info!(title = %title.id, kind = title.kind.as_str(), "Title created.");
    let mut conn = state.connection().await?;
    let detail = detail(&state, &mut conn, Some(&caller), title, None).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// A parent the caller may not see or change is named as the parent.
fn parent_error(error: ApiError, id: &str) -> ApiError {
    match error.status {
        StatusCode::NOT_FOUND => ApiError::not_found(&format!("parent title {id}")),
        StatusCode::FORBIDDEN => ApiError::forbidden(format!("the parent title {id} is not yours")),
        _ => error,
    }
}

fn number_conflict(kind: TitleKind, number: i64) -> ApiError {
    ApiError::conflict("number_taken", format!("the parent already has {} numbered {number}", kind.with_article()))
}

fn unique_to_conflict(error: sqlx::Error, kind: TitleKind, number: Option<i64>) -> ApiError {
    if store::is_unique_violation(&error) {
        number_conflict(kind, number.unwrap_or_default())
    } else {
        error.into()
    }
}

/// Titles, newest first (or a parent's seasons or episodes in number order), filtered. Viewers and anonymous
/// callers see only what is available now.
#[utoipa::path(get, path = "/v1/titles", tag = "catalog", params(TitleQuery),
    responses((status = 200, body = TitlePage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<CatalogState>,
    MaybeCaller(caller): MaybeCaller,
    Query(query): Query<TitleQuery>,
) -> Result<Json<TitlePage>, ApiError> {
    let audience = audience(caller.as_ref());
    let limit = page_size(query.limit)?;
    let mut problems = Problems::new();
    let kinds = match query.kind.as_deref() {
        None => Vec::new(),
        Some(text) => problems
            .check(
                "kind",
                TitleKind::parse(text).ok_or_else(|| format!("{text:?} is not movie, series, season or episode")),
            )
            .into_iter()
            .collect(),
    };
    let genre = query.genre.as_deref().and_then(|text| problems.check("genre", model::label(text)));
    let available_now = match query.available.as_deref() {
        None => audience == Audience::Public,
        Some("now") => true,
        Some("any") => false,
        Some(other) => {
            problems.add("available", format!("{other:?} is not now or any"));
            true
        }
    };
    if let Some(year) = query.year {
        problems
            .check("year", i32::try_from(year).map_err(|_| "out of range".to_string()).and_then(model::release_year));
    }
    if let Some(parent) = &query.parent_id {
        if parent.len() > 100 {
            problems.add("parent_id", "is not a title id");
        }
    }
    problems.finish().map_err(|message| ApiError::bad_request("invalid_query", message))?;
    let region = region_param(query.region.as_deref())?;
    if !available_now && audience == Audience::Public {
        return Err(match caller {
            None => ApiError::unauthorized("sign in as a creator or admin to list titles that are not available"),
            Some(_) => ApiError::forbidden("only creators and admins list titles that are not available now"),
        });
    }
    let filter = Filter { kinds, genre, year: query.year, parent_id: query.parent_id.clone(), available_now, region };
    let fingerprint = filter.fingerprint(&audience);
    let after = state.decode_cursor(query.after.as_deref(), &fingerprint).await?;
    let mut conn = state.connection().await?;
    let mut items = listing::fetch(&mut conn, &filter, &audience, state.now(), after.as_ref(), limit + 1).await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        let last = items.last().expect("a full page has a last item");
        Some(state.encode_cursor(&Position { number: last.number, id: last.id.clone() }, &fingerprint).await?)
    } else {
        None
    };
    super::artwork::show_all(&state, &mut conn, &mut items).await?;
    Ok(Json(TitlePage { items, next_cursor }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReadQuery {
    /// The viewer's region (ISO 3166-1 alpha-2): a title not available there is not found (default: anywhere).
    pub region: Option<String>,
}

/// One title with its availability, credits, assets, and a series' seasons and episodes or a season's episodes,
/// in number order (those the caller may see).
#[utoipa::path(get, path = "/v1/titles/{id}", tag = "catalog",
    params(("id" = String, Path, description = "the title's id"), ReadQuery),
    responses((status = 200, body = TitleDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<CatalogState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
    Query(query): Query<ReadQuery>,
) -> Result<Json<TitleDetail>, ApiError> {
    let region = region_param(query.region.as_deref())?;
    let mut conn = state.connection().await?;
    let title = visible_title(&state, &mut conn, caller.as_ref(), &id, region.as_deref()).await?;
    Ok(Json(detail(&state, &mut conn, caller.as_ref(), title, region.as_deref()).await?))
}

/// The children of `parent` the caller may see (the parent is visible already).
async fn visible_children(
    state: &CatalogState,
    conn: &mut AnyConnection,
    caller: Option<&Caller>,
    parent: &Title,
    region: Option<&str>,
) -> Result<Vec<Title>, ApiError> {
    let now = state.now();
    let mut visible = Vec::new();
    for child in store::children(conn, &parent.id).await? {
        if manages(caller, &child.owner_id) {
            visible.push(child);
            continue;
        }
        let ancestors = store::ancestors(conn, &child).await?;
        let chain = window_chain(conn, &child, &ancestors).await?;
        let links: Vec<&[Window]> = chain.iter().map(Vec::as_slice).collect();
        if availability_of_chain(&links, now, region).is_available() {
            visible.push(child);
        }
    }
    Ok(visible)
}

pub async fn detail(
    state: &CatalogState,
    conn: &mut AnyConnection,
    caller: Option<&Caller>,
    mut title: Title,
    region: Option<&str>,
) -> Result<TitleDetail, ApiError> {
    super::artwork::show(state, conn, &mut title).await?;
    let availability = store::windows(conn, &title.id).await?;
    let credits = store::credits(conn, &title.id).await?;
    let assets = store::title_assets(conn, &title.id).await?;
    let (mut seasons, mut episodes) = (None, None);
    match title.kind {
        TitleKind::Series => {
            let mut list = Vec::new();
            for mut season in visible_children(state, conn, caller, &title, region).await? {
                let mut episodes = visible_children(state, conn, caller, &season, region).await?;
                super::artwork::show(state, conn, &mut season).await?;
                super::artwork::show_all(state, conn, &mut episodes).await?;
                list.push(SeasonDetail { season, episodes });
            }
            seasons = Some(list);
        }
        TitleKind::Season => {
            let mut list = visible_children(state, conn, caller, &title, region).await?;
            super::artwork::show_all(state, conn, &mut list).await?;
            episodes = Some(list);
        }
        TitleKind::Movie | TitleKind::Episode => {}
    }
    Ok(TitleDetail { title, availability, credits, assets, seasons, episodes })
}

/// Changes a title's fields (not its kind or parent).
#[utoipa::path(patch, path = "/v1/titles/{id}", tag = "catalog", security(("bearer" = [])),
    params(("id" = String, Path, description = "the title's id")), request_body = TitlePatch,
    responses((status = 200, body = TitleDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(state): State<CatalogState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(patch): Json<TitlePatch>,
) -> Result<Json<TitleDetail>, ApiError> {
    caller.require(Role::Creator)?;
    let mut tx = begin_write(state.app.db.pool()).await?;
    let mut title = editable_title(&state, &mut tx, &caller, &id).await?;
    let mut problems = Problems::new();
    checked_fields(
        &mut title,
        &mut problems,
        FieldsInput {
            title: patch.title.as_deref(),
            original_title: patch.original_title.as_ref().map(Option::as_deref),
            synopsis: patch.synopsis.as_deref(),
            release_year: patch.release_year,
            runtime_minutes: patch.runtime_minutes,
            maturity_rating: patch.maturity_rating.as_ref().map(Option::as_deref),
            languages: patch.languages.as_deref(),
            genres: patch.genres.as_deref(),
            tags: patch.tags.as_deref(),
        },
    );
    if let Some(number) = patch.number {
        if title.kind.is_numbered() {
            if let Some(number) = problems.check("number", model::number(number)) {
                title.number = Some(i64::from(number));
            }
        } else {
            problems.add("number", format!("{} is not numbered", title.kind.with_article()));
        }
    }
    invalid(problems)?;
    if let (Some(parent), Some(number)) = (&title.parent_id, title.number) {
        if store::number_taken(&mut tx, parent, number, Some(&title.id)).await? {
            return Err(number_conflict(title.kind, number));
        }
    }
    title.updated_at = state.now();
    store::update_title(&mut tx, &title).await.map_err(|e| unique_to_conflict(e, title.kind, title.number))?;
    // Seasons and episodes are found by their series' title too.
    indexing::title_and_descendants(&mut tx, state.index.as_ref(), &title.id).await?;
    // Credited people are found by the titles they are credited in.
    let people = store::credited_people(&mut tx, &title.id).await?;
    indexing::people(&mut tx, state.index.as_ref(), &people).await?;
    tx.commit().await?;
    let mut conn = state.connection().await?;
    Ok(Json(detail(&state, &mut conn, Some(&caller), title, None).await?))
}

/// Deletes a title with its credits, windows, asset links and artwork (not the assets). A series or season
/// with children is kept: delete its episodes and seasons first.
#[utoipa::path(delete, path = "/v1/titles/{id}", tag = "catalog", security(("bearer" = [])),
    params(("id" = String, Path, description = "the title's id")),
    responses((status = 204, description = "deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<CatalogState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let mut tx = begin_write(state.app.db.pool()).await?;
    let title = editable_title(&state, &mut tx, &caller, &id).await?;
    if store::has_children(&mut tx, &title.id).await? {
        return Err(ApiError::conflict(
            "has_children",
            format!("this {} has seasons or episodes: delete them first", title.kind.as_str()),
        ));
    }
    let people = store::credited_people(&mut tx, &title.id).await?;
    store::delete_title(&mut tx, &title.id).await?;
    state.index.remove(&mut tx, &title.id).await?;
    indexing::people(&mut tx, state.index.as_ref(), &people).await?;
    tx.commit().await?;
    // The row is gone before its images are, so nothing points at a missing object; a crash in between leaves
    // unreferenced images only.
    for key in [title.artwork.poster, title.artwork.backdrop].into_iter().flatten() {
        super::artwork::remove_object(&state, &key).await;
    }
    tracing::info!(title = %title.id, "Title deleted.");
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces a title's credits with the list given, in its order.
#[utoipa::path(put, path = "/v1/titles/{id}/credits", tag = "catalog", security(("bearer" = [])),
    params(("id" = String, Path, description = "the title's id")), request_body = CreditsInput,
    responses((status = 200, body = TitleDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put_credits(
    State(state): State<CatalogState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<CreditsInput>,
) -> Result<Json<TitleDetail>, ApiError> {
    caller.require(Role::Creator)?;
    let mut problems = Problems::new();
    if input.credits.len() > model::MAX_CREDITS {
        problems.add("credits", format!("{} credits; the most is {}", input.credits.len(), model::MAX_CREDITS));
    }
    let mut tx = begin_write(state.app.db.pool()).await?;
    let title = editable_title(&state, &mut tx, &caller, &id).await?;
    let mut credits = Vec::with_capacity(input.credits.len());
    for (i, credit) in input.credits.iter().enumerate().take(model::MAX_CREDITS) {
        let field = format!("credits[{i}]");
        let text = |text: &Option<String>, what: &str, problems: &mut Problems| {
            text.as_deref()
                .and_then(|t| problems.check(&format!("{field}.{what}"), model::short_text(t, model::MAX_CREDIT_CHARS)))
                .filter(|t| !t.is_empty())
        };
        let character = text(&credit.character, "character", &mut problems);
        let role = text(&credit.role, "role", &mut problems);
        match credit.kind {
            CreditKind::Cast if role.is_some() => problems.add(&field, "a cast credit has a character, not a role"),
            CreditKind::Crew if character.is_some() => {
                problems.add(&field, "a crew credit has a role, not a character")
            }
            CreditKind::Crew if role.is_none() => problems.add(&field, "a crew credit needs its role"),
            _ => {}
        }
        let person =
            if credit.person_id.len() <= 100 { store::person(&mut tx, &credit.person_id).await? } else { None };
        match person {
            Some(person) => {
                credits.push(Credit { person_id: person.id, name: person.name, kind: credit.kind, character, role })
            }
            None => problems.add(&format!("{field}.person_id"), "no such person"),
        }
    }
    invalid(problems)?;
    let before = store::credited_people(&mut tx, &title.id).await?;
    store::set_credits(&mut tx, &title.id, &credits).await?;
    store::touch_title(&mut tx, &title.id, state.now()).await?;
    indexing::title(&mut tx, state.index.as_ref(), &title.id).await?;
    let mut people = before;
    people.extend(credits.iter().map(|c| c.person_id.clone()));
    people.sort();
    people.dedup();
    indexing::people(&mut tx, state.index.as_ref(), &people).await?;
    tx.commit().await?;
    reread(&state, &caller, &title.id).await
}

/// Replaces a title's availability windows. A season or an episode is available only while its series (and
/// season) are too.
#[utoipa::path(put, path = "/v1/titles/{id}/availability", tag = "catalog", security(("bearer" = [])),
    params(("id" = String, Path, description = "the title's id")), request_body = AvailabilityInput,
    responses((status = 200, body = TitleDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put_availability(
    State(state): State<CatalogState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<AvailabilityInput>,
) -> Result<Json<TitleDetail>, ApiError> {
    caller.require(Role::Creator)?;
    let windows =
        availability::windows(input.windows).map_err(|message| ApiError::bad_request("invalid_fields", message))?;
    let mut tx = begin_write(state.app.db.pool()).await?;
    let title = editable_title(&state, &mut tx, &caller, &id).await?;
    store::set_windows(&mut tx, &title.id, &windows).await?;
    store::touch_title(&mut tx, &title.id, state.now()).await?;
    indexing::title(&mut tx, state.index.as_ref(), &title.id).await?;
    tx.commit().await?;
    reread(&state, &caller, &title.id).await
}

/// Replaces the assets a title plays. Each must exist (not deleted) and be the caller's (any, for admins).
#[utoipa::path(put, path = "/v1/titles/{id}/assets", tag = "catalog", security(("bearer" = [])),
    params(("id" = String, Path, description = "the title's id")), request_body = AssetsInput,
    responses((status = 200, body = TitleDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put_assets(
    State(state): State<CatalogState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<AssetsInput>,
) -> Result<Json<TitleDetail>, ApiError> {
    caller.require(Role::Creator)?;
    let mut tx = begin_write(state.app.db.pool()).await?;
    let title = editable_title(&state, &mut tx, &caller, &id).await?;
    let roles: Vec<AssetRole> = input.assets.iter().map(|a| a.role).collect();
    let mut problems = Problems::new();
    problems.check("assets", model::asset_roles(title.kind, &roles));
    if problems.is_empty() {
        for (i, asset) in input.assets.iter().enumerate() {
            if input.assets[..i].iter().any(|a| a.asset_id == asset.asset_id && a.role == asset.role) {
                problems.add(&format!("assets[{i}]"), "listed twice");
                continue;
            }
            let owner =
                if asset.asset_id.len() <= 100 { store::asset_owner(&mut tx, &asset.asset_id).await? } else { None };
            if !owner.is_some_and(|owner| caller.may_manage(&owner)) {
                problems.add(&format!("assets[{i}].asset_id"), "no such asset that you may use");
            }
        }
    }
    invalid(problems)?;
    let assets: Vec<TitleAsset> = input
        .assets
        .into_iter()
        .map(|a| TitleAsset { asset_id: a.asset_id, role: a.role, playback_policy: None })
        .collect();
    store::set_title_assets(&mut tx, &title.id, &assets).await?;
    store::touch_title(&mut tx, &title.id, state.now()).await?;
    indexing::title(&mut tx, state.index.as_ref(), &title.id).await?;
    tx.commit().await?;
    reread(&state, &caller, &title.id).await
}

/// The title's detail after a change the caller made.
async fn reread(state: &CatalogState, caller: &Caller, id: &str) -> Result<Json<TitleDetail>, ApiError> {
    let mut conn = state.connection().await?;
    let title = store::title(&mut conn, id).await?.ok_or_else(|| ApiError::not_found("title"))?;
    Ok(Json(detail(state, &mut conn, Some(caller), title, None).await?))
}
