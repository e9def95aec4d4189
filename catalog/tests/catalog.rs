//! The catalog over HTTP, on SQLite and PostgreSQL: building a catalog, what each role sees and may change,
//! availability over (controlled) time, lists and cursors, bad input, and the index calls of every change.

mod common;

use common::*;
use marquee_catalog::model::{AssetRole, TitleKind};
use marquee_control_api::on_both_engines;

const HOUR: i64 = 60 * 60 * 1000;

on_both_engines!(an_admin_builds_a_series_and_a_film, |engine: Engine| async move {
    let w = World::start(engine).await;
    let admin = w.api.signed_in("ada@example.com", Role::Admin).await;

    // A series with two seasons, made out of order, and their episodes.
    let series = w
        .title(&admin, json!({"kind": "series", "title": "Northern Lights", "genres": ["Drama", " drama ", "Mystery"]}))
        .await;
    assert_eq!(series["genres"], json!(["drama", "mystery"]));
    let series_id = id(&series);
    let season2 =
        w.title(&admin, json!({"kind": "season", "title": "Season 2", "parent_id": series_id, "number": 2})).await;
    let season1 =
        w.title(&admin, json!({"kind": "season", "title": "Season 1", "parent_id": series_id, "number": 1})).await;
    let taken = w
        .expect(
            409,
            "POST",
            "/v1/titles",
            &admin,
            Some(json!({"kind": "season", "title": "Again", "parent_id": series_id, "number": 1})),
        )
        .await;
    assert_eq!(code(&taken), "number_taken");
    let misplaced = w
        .expect(
            400,
            "POST",
            "/v1/titles",
            &admin,
            Some(json!({"kind": "episode", "title": "Pilot", "parent_id": series_id, "number": 1})),
        )
        .await;
    assert!(misplaced["error"]["message"].as_str().unwrap().contains("sits under a season"), "{misplaced}");
    let mut episodes = Vec::new();
    for (season, number, name) in [(&season1, 2, "The Thaw"), (&season1, 1, "Pilot"), (&season2, 1, "Return")] {
        let episode = w
            .title(
                &admin,
                json!({"kind": "episode", "title": name, "parent_id": id(season), "number": number,
                "runtime_minutes": 52}),
            )
            .await;
        episodes.push(id(&episode));
    }

    // Anyone reads the series with its seasons and episodes in number order.
    let read = w.expect(200, "GET", &format!("/v1/titles/{series_id}"), "", None).await;
    let seasons = read["seasons"].as_array().unwrap();
    assert_eq!(seasons.iter().map(|s| s["number"].as_i64().unwrap()).collect::<Vec<_>>(), vec![1, 2]);
    let titles: Vec<&str> =
        seasons[0]["episodes"].as_array().unwrap().iter().map(|e| e["title"].as_str().unwrap()).collect();
    assert_eq!(titles, vec!["Pilot", "The Thaw"]);
    assert_eq!(seasons[1]["episodes"][0]["title"], "Return");
    let season_read = w.expect(200, "GET", &format!("/v1/titles/{}", id(&season1)), "", None).await;
    assert_eq!(season_read["episodes"].as_array().unwrap().len(), 2);

    // A film with credits, a feature and a trailer.
    let film = w
        .title(
            &admin,
            json!({"kind": "movie", "title": "Inception", "release_year": 2010, "runtime_minutes": 148,
            "maturity_rating": "pg-13", "languages": ["EN", "ja"], "genres": ["Science Fiction"],
            "synopsis": "A thief who steals secrets through dreams."}),
        )
        .await;
    assert_eq!((film["maturity_rating"].as_str(), film["languages"].clone()), (Some("PG-13"), json!(["en", "ja"])));
    let film_id = id(&film);
    let leo = w.person(&admin, "Leonardo DiCaprio").await;
    let nolan = w.person(&admin, "Christopher Nolan").await;
    let credits = json!({"credits": [
        {"person_id": nolan, "kind": "crew", "role": "director"},
        {"person_id": leo, "kind": "cast", "character": "Cobb"},
    ]});
    let credited = w.expect(200, "PUT", &format!("/v1/titles/{film_id}/credits"), &admin, Some(credits)).await;
    assert_eq!(credited["credits"][0]["name"], "Christopher Nolan");
    assert_eq!(credited["credits"][1]["character"], "Cobb");
    let feature = w.api.uploaded(&admin).await;
    let trailer = w.api.uploaded(&admin).await;
    let linked = w
        .expect(
            200,
            "PUT",
            &format!("/v1/titles/{film_id}/assets"),
            &admin,
            Some(
                json!({"assets": [{"asset_id": feature, "role": "feature"}, {"asset_id": trailer, "role": "trailer"}]}),
            ),
        )
        .await;
    // Each with its playback policy: `signed` needs an entitlement, `public` is free to watch.
    assert_eq!(
        linked["assets"],
        json!([{"asset_id": feature, "role": "feature", "playback_policy": "signed"},
            {"asset_id": trailer, "role": "trailer", "playback_policy": "signed"}])
    );
    let read = w.expect(200, "GET", &format!("/v1/titles/{film_id}"), "", None).await;
    assert_eq!(read["credits"].as_array().unwrap().len(), 2);
    assert_eq!(read["assets"], linked["assets"]);

    // The index heard of every change, inside the transaction that made it.
    let film_entry = w.index.latest(&film_id).unwrap();
    assert_eq!(film_entry.related, vec!["Christopher Nolan", "Leonardo DiCaprio"]);
    assert_eq!((film_entry.genres.clone(), film_entry.release_year), (vec!["science fiction".to_string()], Some(2010)));
    assert_eq!(film_entry.title_kind.as_deref(), Some("movie"));
    assert_eq!(w.index.latest(&nolan).unwrap().related, vec!["Inception"]);
    let episode_entry = w.index.latest(&episodes[1]).unwrap();
    assert_eq!(episode_entry.other_names, vec!["Season 1", "Northern Lights"], "an episode is found by its series");
    for call in w.index.calls() {
        if let IndexCall::Upsert(entry, seen) = call {
            assert_eq!(seen.as_deref(), Some(entry.name.as_str()), "the index runs in the writing transaction");
        }
    }
    // A new name reaches the titles that credit the person, and a new series title its episodes.
    w.expect(200, "PATCH", &format!("/v1/people/{leo}"), &admin, Some(json!({"name": "Leo DiCaprio"}))).await;
    assert_eq!(w.index.latest(&film_id).unwrap().related, vec!["Christopher Nolan", "Leo DiCaprio"]);
    w.expect(200, "PATCH", &format!("/v1/titles/{series_id}"), &admin, Some(json!({"title": "Aurora"}))).await;
    assert_eq!(w.index.latest(&episodes[2]).unwrap().other_names, vec!["Season 2", "Aurora"]);
    let person = w.expect(200, "GET", &format!("/v1/people/{nolan}"), "", None).await;
    assert_eq!(person["titles"], json!([{"id": film_id, "title": "Inception"}]));
    assert_eq!(code(&w.expect(409, "DELETE", &format!("/v1/people/{nolan}"), &admin, None).await), "person_credited");

    // What commerce and playback will ask about an asset.
    let facts = marquee_catalog::titles_of_asset(&w.api.db, &feature).await.unwrap();
    assert_eq!(facts.len(), 1);
    assert_eq!(
        (facts[0].title_id.as_str(), facts[0].kind, facts[0].role),
        (film_id.as_str(), TitleKind::Movie, Some(AssetRole::Feature))
    );
    assert!(facts[0].availability(w.now(), Some("US")).is_available());
    let episode_video = w.api.uploaded(&admin).await;
    w.expect(
        200,
        "PUT",
        &format!("/v1/titles/{}/assets", episodes[0]),
        &admin,
        Some(json!({"assets": [{"asset_id": episode_video, "role": "episode"}]})),
    )
    .await;
    let facts = marquee_catalog::titles_of_asset(&w.api.db, &episode_video).await.unwrap();
    assert_eq!(facts[0].parent_ids(), vec![id(&season1).as_str(), series_id.as_str()]);

    // The home page: newest first, movies and series only; a row per genre.
    let home = w.expect(200, "GET", "/v1/home", "", None).await;
    let rows = home["rows"].as_array().unwrap();
    assert_eq!(rows[0]["key"], "newest");
    assert_eq!(ids(&rows[0]), vec![film_id.clone(), series_id.clone()]);
    assert!(rows.iter().all(|row| row["key"] != "most_watched_week"), "no viewing figures: no row");
    let drama = rows.iter().find(|row| row["key"] == "genre:drama").unwrap();
    assert_eq!(ids(drama), vec![series_id.clone()]);

    // Deleting: a series with seasons is kept; an episode goes, and the index hears of it.
    assert_eq!(code(&w.expect(409, "DELETE", &format!("/v1/titles/{series_id}"), &admin, None).await), "has_children");
    w.expect(204, "DELETE", &format!("/v1/titles/{}", episodes[2]), &admin, None).await;
    assert!(w.index.calls().contains(&IndexCall::Remove(episodes[2].clone())));
    w.expect(404, "GET", &format!("/v1/titles/{}", episodes[2]), &admin, None).await;

    // Artwork: stored by its bytes' format, the old image removed once replaced.
    let media = w.api.database.dir.path().join("media");
    let png = b"\x89PNG\r\n\x1a\n0000IHDR fake but well-started".to_vec();
    let auth = format!("Bearer {admin}");
    let put = send(
        "PUT",
        &w.url(&format!("/v1/titles/{film_id}/artwork/poster")),
        &[("authorization", auth.as_str()), ("content-type", "image/png")],
        png,
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let first = put.json()["artwork"]["poster"].as_str().unwrap().to_owned();
    assert!(first.starts_with(&format!("artwork/{film_id}/poster-")) && first.ends_with(".png"), "{first}");
    assert!(media.join(&first).is_file());
    let jpeg = b"\xFF\xD8\xFF\xE0 a jpeg, as far as its start goes".to_vec();
    let put =
        send("PUT", &w.url(&format!("/v1/titles/{film_id}/artwork/poster")), &[("authorization", auth.as_str())], jpeg)
            .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let second = put.json()["artwork"]["poster"].as_str().unwrap().to_owned();
    assert!(second.ends_with(".jpg") && media.join(&second).is_file());
    assert!(!media.join(&first).exists(), "the replaced poster is removed");
    let gif = send(
        "PUT",
        &w.url(&format!("/v1/titles/{film_id}/artwork/backdrop")),
        &[("authorization", auth.as_str())],
        b"GIF89a....".to_vec(),
    )
    .await;
    assert_eq!((gif.status, gif.json()["error"]["code"].as_str()), (415, Some("unsupported_image")));
    let banner = send(
        "PUT",
        &w.url(&format!("/v1/titles/{film_id}/artwork/banner")),
        &[("authorization", auth.as_str())],
        b"\xFF\xD8\xFF".to_vec(),
    )
    .await;
    assert_eq!(banner.status, 400);

    // Documented in the API's OpenAPI document.
    let document = get(&w.url("/openapi.json")).await.json();
    for path in ["/v1/titles", "/v1/titles/{id}", "/v1/titles/{id}/credits", "/v1/people", "/v1/home"] {
        assert!(document["paths"][path].is_object(), "{path}");
    }
    // Every schema the catalog's paths name is in the merged document.
    let text = document.to_string();
    let names: Vec<&str> =
        text.split("\"$ref\":\"#/components/schemas/").skip(1).map(|piece| piece.split('"').next().unwrap()).collect();
    assert!(names.contains(&"TitleDetail") && names.contains(&"Window"), "{names:?}");
    for name in names {
        assert!(document["components"]["schemas"][name].is_object(), "{name} is referred to but missing");
    }
});

on_both_engines!(lists_filter_and_paginate_with_signed_cursors, |engine: Engine| async move {
    let w = World::start(engine).await;
    let admin = w.api.signed_in("ada@example.com", Role::Admin).await;
    let mut films = Vec::new();
    for (i, genre) in ["drama", "comedy", "drama", "horror", "drama"].iter().enumerate() {
        let film = w
            .title(
                &admin,
                json!({"kind": "movie", "title": format!("Film {i}"), "genres": [genre], "release_year": 2000 + i}),
            )
            .await;
        films.push(id(&film));
    }
    let series = id(&w.title(&admin, json!({"kind": "series", "title": "Show"})).await);
    let mut seasons = Vec::new();
    for number in [3, 1, 2] {
        let season = w
            .title(
                &admin,
                json!({"kind": "season", "title": format!("S{number}"), "parent_id": series, "number": number}),
            )
            .await;
        seasons.push((number, id(&season)));
    }

    // Seasons numbered at once by concurrent requests: one wins, the others are told the number is taken.
    let racing: Vec<_> = (0..6)
        .map(|i| {
            let (url, token) = (w.url("/v1/titles"), admin.clone());
            let body = json!({"kind": "season", "title": format!("Race {i}"), "parent_id": series, "number": 9});
            tokio::spawn(async move { call("POST", &url, &token, Some(&body)).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for answer in racing {
        let answer = answer.await.unwrap();
        if answer.status == 409 {
            assert_eq!(code(&answer.json()), "number_taken");
        }
        statuses.push(answer.status);
    }
    statuses.sort();
    assert_eq!(statuses, vec![201, 409, 409, 409, 409, 409]);
    let read = w.expect(200, "GET", &format!("/v1/titles/{series}"), "", None).await;
    let numbers: Vec<i64> = read["seasons"].as_array().unwrap().iter().map(|s| s["number"].as_i64().unwrap()).collect();
    assert_eq!(numbers, vec![1, 2, 3, 9], "one season 9");
    let winner = id(&read["seasons"][3]);
    w.expect(204, "DELETE", &format!("/v1/titles/{winner}"), &admin, None).await;

    // Every page of two, newest first, through cursors: each title once.
    let mut seen = Vec::new();
    let mut path = "/v1/titles?kind=movie&limit=2".to_string();
    loop {
        let page = w.expect(200, "GET", &path, "", None).await;
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/titles?kind=movie&limit=2&after={cursor}"),
            None => break,
        }
    }
    let mut newest_first = films.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    // Filters.
    let dramas = w.expect(200, "GET", "/v1/titles?genre=Drama", "", None).await;
    assert_eq!(ids(&dramas), vec![films[4].clone(), films[2].clone(), films[0].clone()]);
    assert_eq!(ids(&w.expect(200, "GET", "/v1/titles?year=2003", "", None).await), vec![films[3].clone()]);
    assert_eq!(ids(&w.expect(200, "GET", "/v1/titles?kind=series", "", None).await), vec![series.clone()]);
    // A parent's seasons in number order, paginated too.
    let first = w.expect(200, "GET", &format!("/v1/titles?parent_id={series}&limit=2"), "", None).await;
    let numbers: Vec<i64> = first["items"].as_array().unwrap().iter().map(|t| t["number"].as_i64().unwrap()).collect();
    assert_eq!(numbers, vec![1, 2]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = w.expect(200, "GET", &format!("/v1/titles?parent_id={series}&limit=2&after={cursor}"), "", None).await;
    assert_eq!(rest["items"][0]["number"], 3);
    assert!(rest["next_cursor"].is_null());

    // A changed cursor, or one from another list, is refused, never followed.
    let page = w.expect(200, "GET", "/v1/titles?kind=movie&limit=2", "", None).await;
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let mut tampered: Vec<char> = cursor.chars().collect();
    tampered[3] = if tampered[3] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    for bad in [tampered.as_str(), "not-a-cursor", "eyJpZCI6IngifQ.AAAAAAAAAAAAAAAAAAAAAA"] {
        let refused = w.expect(400, "GET", &format!("/v1/titles?kind=movie&limit=2&after={bad}"), "", None).await;
        assert_eq!(code(&refused), "invalid_cursor", "{bad}");
    }
    let other = w.expect(400, "GET", &format!("/v1/titles?kind=series&limit=2&after={cursor}"), "", None).await;
    assert_eq!(code(&other), "invalid_cursor");

    // Bad queries.
    for query in ["kind=film", "limit=0", "limit=201", "year=1200", "available=soon", "colour=red", "year=abc"] {
        let refused = w.expect(400, "GET", &format!("/v1/titles?{query}"), "", None).await;
        assert!(code(&refused) == "invalid_query", "{query}: {refused}");
    }
    // People lists page the same way.
    for name in ["A", "B", "C"] {
        w.person(&admin, name).await;
    }
    let people = w.expect(200, "GET", "/v1/people?limit=2", "", None).await;
    let cursor = people["next_cursor"].as_str().unwrap();
    let rest = w.expect(200, "GET", &format!("/v1/people?limit=2&after={cursor}"), "", None).await;
    assert_eq!(rest["items"][0]["name"], "C");
    assert_eq!(code(&w.expect(400, "GET", &format!("/v1/people?after={tampered}"), "", None).await), "invalid_cursor");
});

on_both_engines!(creators_change_only_their_own, |engine: Engine| async move {
    let w = World::start(engine).await;
    let cora = w.api.signed_in("cora@example.com", Role::Creator).await;
    let olga = w.api.signed_in("olga@example.com", Role::Creator).await;
    let vic = w.api.signed_in("vic@example.com", Role::Viewer).await;
    let admin = w.api.signed_in("ada@example.com", Role::Admin).await;

    let series = id(&w.title(&cora, json!({"kind": "series", "title": "Cora's Show"})).await);
    let path = format!("/v1/titles/{series}");
    // Another creator sees it (it is available) but may not change it.
    w.expect(200, "GET", &path, &olga, None).await;
    assert_eq!(code(&w.expect(403, "PATCH", &path, &olga, Some(json!({"title": "Mine now"}))).await), "forbidden");
    w.expect(403, "DELETE", &path, &olga, None).await;
    w.expect(403, "PUT", &format!("{path}/availability"), &olga, Some(json!({"windows": []}))).await;
    let season = json!({"kind": "season", "title": "S1", "parent_id": series, "number": 1});
    w.expect(403, "POST", "/v1/titles", &olga, Some(season.clone())).await;
    // Viewers and anonymous callers make nothing.
    w.expect(403, "POST", "/v1/titles", &vic, Some(json!({"kind": "movie", "title": "X"}))).await;
    w.expect(401, "POST", "/v1/titles", "", Some(json!({"kind": "movie", "title": "X"}))).await;
    w.expect(403, "PATCH", &path, &vic, Some(json!({"title": "X"}))).await;
    // The owner and admins may.
    w.title(&cora, season).await;
    w.expect(200, "PATCH", &path, &admin, Some(json!({"synopsis": "Edited by an admin."}))).await;

    // A title not yet available is not shown to exist for other creators.
    let future = w.now() + HOUR;
    w.expect(200, "PUT", &format!("{path}/availability"), &cora, Some(json!({"windows": [{"starts_at": future}]})))
        .await;
    w.expect(404, "GET", &path, &olga, None).await;
    w.expect(404, "PATCH", &path, &olga, Some(json!({"title": "X"}))).await;
    w.expect(200, "GET", &path, &cora, None).await;
    // Creators list their own in any state, others' only when available; viewers may not ask for any state.
    assert_eq!(
        ids(&w.expect(200, "GET", "/v1/titles?available=any&kind=series", &cora, None).await),
        vec![series.clone()]
    );
    assert!(ids(&w.expect(200, "GET", "/v1/titles?available=any", &olga, None).await).is_empty());
    assert_eq!(ids(&w.expect(200, "GET", "/v1/titles?kind=series", &admin, None).await), vec![series.clone()]);
    assert!(ids(&w.expect(200, "GET", "/v1/titles?available=now", &admin, None).await).is_empty());
    w.expect(403, "GET", "/v1/titles?available=any", &vic, None).await;
    w.expect(401, "GET", "/v1/titles?available=any", "", None).await;

    // Assets: only one's own (admins any), and roles that fit the kind.
    let film = id(&w.title(&cora, json!({"kind": "movie", "title": "Cora's Film"})).await);
    let coras = w.api.uploaded(&cora).await;
    let olgas = w.api.uploaded(&olga).await;
    let assets = format!("/v1/titles/{film}/assets");
    let refused =
        w.expect(400, "PUT", &assets, &cora, Some(json!({"assets": [{"asset_id": olgas, "role": "trailer"}]}))).await;
    assert!(refused["error"]["message"].as_str().unwrap().contains("assets[0].asset_id"), "{refused}");
    w.expect(400, "PUT", &assets, &cora, Some(json!({"assets": [{"asset_id": coras, "role": "episode"}]}))).await;
    w.expect(400, "PUT", &assets, &cora, Some(json!({"assets": [{"asset_id": "nope", "role": "feature"}]}))).await;
    w.expect(200, "PUT", &assets, &cora, Some(json!({"assets": [{"asset_id": coras, "role": "feature"}]}))).await;
    w.expect(200, "PUT", &assets, &admin, Some(json!({"assets": [{"asset_id": olgas, "role": "feature"}]}))).await;
    // People: anyone adds, only the one who added (or an admin) changes.
    let person = w.person(&cora, "Someone").await;
    w.expect(403, "PATCH", &format!("/v1/people/{person}"), &olga, Some(json!({"name": "X"}))).await;
    w.expect(403, "POST", "/v1/people", &vic, Some(json!({"name": "X"}))).await;
    w.expect(204, "DELETE", &format!("/v1/people/{person}"), &admin, None).await;
    w.expect(404, "GET", &format!("/v1/people/{person}"), "", None).await;
});

on_both_engines!(viewers_see_titles_while_their_windows_are_open, |engine: Engine| async move {
    let popularity = std::sync::Arc::new(FixedPopularity::default());
    let w = World::start_with(engine, popularity.clone()).await;
    let admin = w.api.signed_in("ada@example.com", Role::Admin).await;
    let vic = w.api.signed_in("vic@example.com", Role::Viewer).await;
    let start = w.now();
    let opens = start + 2 * HOUR;
    let closes = start + 5 * HOUR;

    let film = id(&w.title(&admin, json!({"kind": "movie", "title": "Premiere"})).await);
    let windows = json!({"windows": [{"starts_at": opens, "ends_at": closes, "regions": ["us", "FR"]}]});
    let set = w.expect(200, "PUT", &format!("/v1/titles/{film}/availability"), &admin, Some(windows)).await;
    assert_eq!(set["availability"][0]["regions"], json!(["FR", "US"]));
    let entry = w.index.latest(&film).unwrap();
    assert_eq!((entry.visible_from, entry.visible_until), (Some(opens), Some(closes)));
    // A series released later hides its episodes, whatever their own windows.
    let series = id(&w.title(&admin, json!({"kind": "series", "title": "Later Show"})).await);
    w.expect(
        200,
        "PUT",
        &format!("/v1/titles/{series}/availability"),
        &admin,
        Some(json!({"windows": [{"starts_at": opens}]})),
    )
    .await;
    let season = id(&w.title(&admin, json!({"kind": "season", "title": "S1", "parent_id": series, "number": 1})).await);
    let episode =
        id(&w.title(&admin, json!({"kind": "episode", "title": "E1", "parent_id": season, "number": 1})).await);
    let always = id(&w.title(&admin, json!({"kind": "movie", "title": "Evergreen"})).await);

    // Before the window: the viewer and anonymous callers neither list nor read them.
    for token in [vic.as_str(), ""] {
        assert_eq!(ids(&w.expect(200, "GET", "/v1/titles", token, None).await), vec![always.clone()]);
        for hidden in [&film, &series, &season, &episode] {
            w.expect(404, "GET", &format!("/v1/titles/{hidden}"), token, None).await;
        }
    }
    assert_eq!(
        ids(&w.expect(200, "GET", &format!("/v1/titles?parent_id={season}"), &vic, None).await),
        Vec::<String>::new()
    );
    // The most watched this week, as analytics would say: only what may be seen, movies and series only.
    *popularity.0.lock().unwrap() = vec![film.clone(), episode.clone(), "gone".into(), always.clone()];
    let home = w.expect(200, "GET", "/v1/home", &vic, None).await;
    assert_eq!(ids(&home["rows"][0]), vec![always.clone()]);
    let watched =
        |home: &Value| home["rows"].as_array().unwrap().iter().find(|r| r["key"] == "most_watched_week").map(ids);
    assert_eq!(watched(&home), Some(vec![always.clone()]));

    // The clock passes the start: all of it shows.
    w.set_now(opens);
    let listed = ids(&w.expect(200, "GET", "/v1/titles", &vic, None).await);
    for shown in [&film, &series, &season, &episode, &always] {
        assert!(listed.contains(shown), "{shown} in {listed:?}");
        w.expect(200, "GET", &format!("/v1/titles/{shown}"), &vic, None).await;
    }
    let read = w.expect(200, "GET", &format!("/v1/titles/{series}"), "", None).await;
    assert_eq!(read["seasons"][0]["episodes"][0]["id"], episode.as_str());
    let home = w.expect(200, "GET", "/v1/home", "", None).await;
    assert_eq!(watched(&home), Some(vec![film.clone(), always.clone()]));

    // And passes the end: the film is gone again, the rest stays.
    w.set_now(closes);
    w.expect(404, "GET", &format!("/v1/titles/{film}"), &vic, None).await;
    let listed = ids(&w.expect(200, "GET", "/v1/titles", "", None).await);
    assert!(!listed.contains(&film) && listed.contains(&episode), "{listed:?}");
    // Its owner still sees it.
    w.expect(200, "GET", &format!("/v1/titles/{film}"), &admin, None).await;
    // What playback will ask, per region.
    let feature = w.api.uploaded(&admin).await;
    w.expect(
        200,
        "PUT",
        &format!("/v1/titles/{film}/assets"),
        &admin,
        Some(json!({"assets": [{"asset_id": feature, "role": "feature"}]})),
    )
    .await;
    let facts = marquee_catalog::titles_of_asset(&w.api.db, &feature).await.unwrap();
    use marquee_catalog::availability::Availability;
    assert_eq!(facts[0].availability(start, Some("US")), Availability::NotYetAvailable { from: opens });
    assert_eq!(facts[0].availability(opens, Some("JP")), Availability::NotInRegion);
    assert_eq!(facts[0].availability(opens, Some("FR")), Availability::Available);
    assert_eq!(facts[0].availability(closes, Some("FR")), Availability::Expired);
});

on_both_engines!(bad_input_is_refused_naming_the_field, |engine: Engine| async move {
    let w = World::start(engine).await;
    let admin = w.api.signed_in("ada@example.com", Role::Admin).await;
    let film = id(&w.title(&admin, json!({"kind": "movie", "title": "Fine"})).await);

    let message = |value: &Value| value["error"]["message"].as_str().unwrap_or_default().to_owned();
    let unknown = w
        .expect(400, "POST", "/v1/titles", &admin, Some(json!({"kind": "movie", "title": "X", "colour": "red"})))
        .await;
    assert!(message(&unknown).contains("colour"), "{unknown}");
    let unknown = w.expect(400, "PATCH", &format!("/v1/titles/{film}"), &admin, Some(json!({"kind": "series"}))).await;
    assert!(message(&unknown).contains("kind"), "{unknown}");
    let cases = [
        (json!({"kind": "movie", "title": "X", "release_year": 1500}), "release_year"),
        (json!({"kind": "movie", "title": "X", "runtime_minutes": 0}), "runtime_minutes"),
        (json!({"kind": "movie", "title": "x".repeat(10_000)}), "title"),
        (json!({"kind": "movie", "title": "   "}), "title"),
        (json!({"kind": "movie", "title": "X", "maturity_rating": "XXX"}), "maturity_rating"),
        (json!({"kind": "movie", "title": "X", "languages": ["english"]}), "languages"),
        (json!({"kind": "movie", "title": "X", "genres": ["g".repeat(41)]}), "genres"),
        (json!({"kind": "movie", "title": "X", "synopsis": "s".repeat(10_001)}), "synopsis"),
        (json!({"kind": "movie", "title": "X", "number": 3}), "number"),
        (json!({"kind": "season", "title": "X"}), "parent_id"),
    ];
    for (body, field) in cases {
        let refused = w.expect(400, "POST", "/v1/titles", &admin, Some(body.clone())).await;
        assert_eq!(code(&refused), "invalid_fields", "{body}");
        assert!(message(&refused).contains(field), "{field}: {refused}");
    }
    // Every problem at once.
    let both = w
        .expect(
            400,
            "POST",
            "/v1/titles",
            &admin,
            Some(json!({"kind": "movie", "title": "X", "release_year": 3000, "runtime_minutes": -1})),
        )
        .await;
    assert!(message(&both).contains("release_year") && message(&both).contains("runtime_minutes"), "{both}");
    for body in [
        json!({"kind": "film", "title": "X"}),
        json!({"kind": "movie"}),
        json!({"kind": "movie", "title": "X", "release_year": 1e12}),
    ] {
        assert_eq!(code(&w.expect(400, "POST", "/v1/titles", &admin, Some(body)).await), "invalid_body");
    }
    let person = w.expect(400, "POST", "/v1/people", &admin, Some(json!({"name": "n".repeat(10_000)}))).await;
    assert!(message(&person).contains("name"), "{person}");
    // Windows, credits.
    let windows = [
        json!({"windows": [{"starts_at": 10, "ends_at": 10}]}),
        json!({"windows": [{"regions": ["XX"]}]}),
        json!({"windows": [{"starts": 10}]}),
    ];
    for body in windows {
        w.expect(400, "PUT", &format!("/v1/titles/{film}/availability"), &admin, Some(body)).await;
    }
    let someone = w.person(&admin, "Someone").await;
    let credits = [
        json!({"credits": [{"person_id": someone, "kind": "crew"}]}),
        json!({"credits": [{"person_id": someone, "kind": "cast", "role": "director"}]}),
        json!({"credits": [{"person_id": "nobody", "kind": "cast"}]}),
        json!({"credits": [{"person_id": someone, "kind": "extra"}]}),
    ];
    for body in credits {
        w.expect(400, "PUT", &format!("/v1/titles/{film}/credits"), &admin, Some(body)).await;
    }
    // Unknown ids, of any length, are 404; a NUL is refused.
    w.expect(404, "GET", &format!("/v1/titles/{}", "z".repeat(5000)), "", None).await;
    w.expect(404, "PATCH", "/v1/titles/nope", &admin, Some(json!({"title": "X"}))).await;
    w.expect(404, "GET", "/v1/people/nope", "", None).await;
    w.expect(400, "GET", "/v1/titles/a%00b", "", None).await;
    // Nothing was half-written.
    let all = w.expect(200, "GET", "/v1/titles?available=any", &admin, None).await;
    assert_eq!(ids(&all), vec![film]);
});

/// Random windows (start before end, some regional), `base` milliseconds on.
fn windows_from(base: i64) -> impl proptest::strategy::Strategy<Value = Vec<marquee_catalog::availability::Window>> {
    use proptest::prelude::*;
    let window = (
        proptest::option::of(0i64..1_000),
        proptest::option::of(0i64..1_000),
        proptest::sample::subsequence(vec!["US", "FR"], 0..=2),
    )
        .prop_map(move |(start, end, regions)| {
            let (starts_at, ends_at) = match (start, end) {
                (Some(s), Some(e)) if s >= e => (Some(base + e), Some(base + s + 1)),
                (s, e) => (s.map(|s| base + s), e.map(|e| base + e)),
            };
            marquee_catalog::availability::Window {
                starts_at,
                ends_at,
                regions: regions.into_iter().map(String::from).collect(),
            }
        });
    proptest::collection::vec(window, 0..3)
}

on_both_engines!(lists_and_reads_agree_with_the_availability_rule, |engine: Engine| async move {
    use marquee_catalog::availability::{availability_of_chain, Window};
    use proptest::strategy::{Strategy, ValueTree};

    let w = World::start(engine).await;
    let admin = w.api.signed_in("ada@example.com", Role::Admin).await;
    let vic = w.api.signed_in("vic@example.com", Role::Viewer).await;
    let movie = id(&w.title(&admin, json!({"kind": "movie", "title": "Film"})).await);
    let series = id(&w.title(&admin, json!({"kind": "series", "title": "Show"})).await);
    let season = id(&w.title(&admin, json!({"kind": "season", "title": "S1", "parent_id": series, "number": 1})).await);
    let episode =
        id(&w.title(&admin, json!({"kind": "episode", "title": "E1", "parent_id": season, "number": 1})).await);
    // Each title with its ancestors, nearest first, as indexes into `titles`.
    let titles = [movie, series, season, episode];
    let chains: [&[usize]; 4] = [&[0], &[1], &[2, 1], &[3, 2, 1]];

    let base = w.now();
    let strategy = windows_from(base);
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for case in 0..12 {
        let windows: Vec<Vec<Window>> = (0..4).map(|_| strategy.new_tree(&mut runner).unwrap().current()).collect();
        for (title, windows) in titles.iter().zip(&windows) {
            w.expect(
                200,
                "PUT",
                &format!("/v1/titles/{title}/availability"),
                &admin,
                Some(json!({"windows": windows})),
            )
            .await;
        }
        // Each window's edges and the moment before them, where an off-by-one would show.
        let mut times: Vec<i64> = windows
            .iter()
            .flatten()
            .flat_map(|window| [window.starts_at, window.ends_at])
            .flatten()
            .flat_map(|edge| [edge - 1, edge])
            .chain([base, base + 1_500])
            .collect();
        times.sort();
        times.dedup();
        // Each moment asked about from anywhere and from one region after another.
        for (k, now) in times.into_iter().enumerate() {
            let offset = now - base;
            let region = [None, Some("US"), Some("FR"), Some("JP")][k % 4];
            let query = region.map(|r| format!("?region={}", r.to_lowercase())).unwrap_or_default();
            let in_region = region.map(|r| format!("&region={r}")).unwrap_or_default();
            w.set_now(now);
            let listed = ids(&w.expect(200, "GET", &format!("/v1/titles?limit=200{in_region}"), &vic, None).await);
            for (i, title) in titles.iter().enumerate() {
                let links: Vec<&[Window]> = chains[i].iter().map(|&j| windows[j].as_slice()).collect();
                let expected = availability_of_chain(&links, now, region).is_available();
                let context = format!("case {case}, title {i} at +{offset} in {region:?}: {windows:?}");
                assert_eq!(listed.contains(title), expected, "listed: {context}");
                let read = w.call("GET", &format!("/v1/titles/{title}{query}"), &vic, None).await;
                assert_eq!(read.status, if expected { 200 } else { 404 }, "read: {context}");
            }
        }
    }
});
