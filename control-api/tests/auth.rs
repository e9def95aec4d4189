//! Users, roles, sign-in and API keys over HTTP, on SQLite and on PostgreSQL.

mod common;

use marquee_control_api::on_both_engines;

use common::{call, post_json, send, Engine, TestApi, TestDatabase};
use marquee_control_api::auth::tokens::AccessTokens;
use marquee_control_api::auth::{first_admin, now_ms, Role};
use serde_json::json;

on_both_engines!(first_admin_creates_creators_and_viewers_sign_up, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let (email, password) = first_admin(&api.db).await.unwrap().expect("an empty database gets an admin");
    assert!(first_admin(&api.db).await.unwrap().is_none(), "only once");
    let admin = api.login(&email, &password).await["access_token"].as_str().unwrap().to_owned();

    let made = call(
        "POST",
        &api.url("/v1/users"),
        &admin,
        Some(&json!({"email": "Cora@Example.com", "password": "creator password", "role": "creator"})),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    assert_eq!(made.json()["email"], "cora@example.com", "emails are kept in lower case");
    let creator = api.login("cora@example.com", "creator password").await["access_token"].as_str().unwrap().to_owned();
    let me = call("GET", &api.url("/v1/me"), &creator, None).await;
    assert_eq!((me.status, me.json()["role"].as_str()), (200, Some("creator")));

    // A creator cannot make users or list them.
    let refused = call(
        "POST",
        &api.url("/v1/users"),
        &creator,
        Some(&json!({"email": "x@example.com", "password": "whatever password", "role": "admin"})),
    )
    .await;
    assert_eq!((refused.status, refused.json()["error"]["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(call("GET", &api.url("/v1/users"), &creator, None).await.status, 403);

    // Anyone may sign up, as a viewer; an email is taken once.
    let signup = post_json(
        &api.url("/v1/auth/register"),
        &[],
        &json!({"email": "vic@example.com", "password": "viewer password"}),
    )
    .await;
    assert_eq!((signup.status, signup.json()["role"].as_str()), (201, Some("viewer")));
    let again = post_json(
        &api.url("/v1/auth/register"),
        &[],
        &json!({"email": "VIC@example.com", "password": "viewer password"}),
    )
    .await;
    assert_eq!((again.status, again.json()["error"]["code"].as_str()), (409, Some("email_taken")));
    let weak =
        post_json(&api.url("/v1/auth/register"), &[], &json!({"email": "w@example.com", "password": "short"})).await;
    assert_eq!((weak.status, weak.json()["error"]["code"].as_str()), (400, Some("weak_password")));

    // The admin lists everyone, a page at a time, and promotes the viewer; it counts at the next request.
    let page = call("GET", &api.url("/v1/users?limit=2"), &admin, None).await.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let rest =
        call("GET", &api.url(&format!("/v1/users?after={}", page["next_cursor"].as_str().unwrap())), &admin, None)
            .await
            .json();
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest.get("next_cursor").is_none());
    let viewer = api.login("vic@example.com", "viewer password").await["access_token"].as_str().unwrap().to_owned();
    let id = signup.json()["id"].as_str().unwrap().to_owned();
    let promoted = call("PATCH", &api.url(&format!("/v1/users/{id}")), &admin, Some(&json!({"role": "creator"}))).await;
    assert_eq!(promoted.status, 200, "{}", promoted.text());
    assert_eq!(call("GET", &api.url("/v1/me"), &viewer, None).await.json()["role"], "creator");

    // Found by a part of the email, whatever its case; LIKE's wildcards are plain characters.
    let found = call("GET", &api.url("/v1/users?email=VIC%40EXAMPLE"), &admin, None).await.json();
    let emails: Vec<_> = found["items"].as_array().unwrap().iter().map(|u| u["email"].clone()).collect();
    assert_eq!(emails, [json!("vic@example.com")]);
    let wildcard = call("GET", &api.url("/v1/users?email=%25"), &admin, None).await.json();
    assert_eq!(wildcard["items"].as_array().unwrap().len(), 0, "{wildcard}");

    // Disabled: every token and sign-in refused; enabled again: signs in.
    let patch = |id: String, body: serde_json::Value| {
        let url = api.url(&format!("/v1/users/{id}"));
        let admin = admin.clone();
        async move { call("PATCH", &url, &admin, Some(&body)).await }
    };
    let disabled = patch(id.clone(), json!({"disabled": true})).await;
    assert_eq!(disabled.status, 200, "{}", disabled.text());
    assert!(disabled.json()["disabled_at"].is_i64());
    assert_eq!(call("GET", &api.url("/v1/me"), &viewer, None).await.status, 401);
    let refused =
        post_json(&api.url("/v1/auth/login"), &[], &json!({"email": "vic@example.com", "password": "viewer password"}))
            .await;
    assert!(refused.status == 401 || refused.status == 403, "{}", refused.text());
    let enabled = patch(id.clone(), json!({"disabled": false})).await;
    assert!(enabled.json()["disabled_at"].is_null(), "{}", enabled.text());
    api.login("vic@example.com", "viewer password").await;
    assert_eq!(patch(id.clone(), json!({})).await.status, 400);

    // The last enabled admin can be neither demoted nor disabled; with a second admin, either can.
    let me = call("GET", &api.url("/v1/me"), &admin, None).await.json()["id"].as_str().unwrap().to_owned();
    for body in [json!({"role": "creator"}), json!({"disabled": true})] {
        let refused = patch(me.clone(), body).await;
        assert_eq!((refused.status, refused.json()["error"]["code"].as_str()), (409, Some("last_admin")));
    }
    assert_eq!(patch(id.clone(), json!({"role": "admin"})).await.status, 200);
    assert_eq!(patch(me.clone(), json!({"role": "creator"})).await.status, 200);
    assert_eq!(call("GET", &api.url("/v1/users"), &admin, None).await.status, 403, "no longer an admin");
    api.stop().await;
});

on_both_engines!(refresh_tokens_rotate_and_a_reused_one_ends_the_login, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    api.user("ada@example.com", "a good long password", Role::Creator).await;
    let first = api.login("ada@example.com", "a good long password").await;
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["expires_in"], 900);
    let refresh = |token: &str| {
        let url = api.url("/v1/auth/refresh");
        let body = json!({"refresh_token": token});
        async move { post_json(&url, &[], &body).await }
    };
    let second = refresh(first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(second.status, 200, "{}", second.text());
    let second = second.json();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let access = second["access_token"].as_str().unwrap();
    assert_eq!(call("GET", &api.url("/v1/me"), access, None).await.status, 200);

    // The first refresh token again: someone else has a copy, so the whole login ends.
    let reused = refresh(first["refresh_token"].as_str().unwrap()).await;
    assert_eq!((reused.status, reused.json()["error"]["code"].as_str()), (401, Some("refresh_token_reused")));
    let after = refresh(second["refresh_token"].as_str().unwrap()).await;
    assert_eq!((after.status, after.json()["error"]["code"].as_str()), (401, Some("invalid_refresh_token")));
    assert_eq!(call("GET", &api.url("/v1/me"), access, None).await.status, 401, "its access tokens stop too");

    // Another login of the same user is not affected.
    let other = api.login("ada@example.com", "a good long password").await;
    assert_eq!(call("GET", &api.url("/v1/me"), other["access_token"].as_str().unwrap(), None).await.status, 200);
    api.stop().await;
});

on_both_engines!(logout_ends_the_login, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    api.user("ada@example.com", "a good long password", Role::Viewer).await;
    let pair = api.login("ada@example.com", "a good long password").await;
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(call("POST", &api.url("/v1/auth/logout"), access, None).await.status, 204);
    let me = call("GET", &api.url("/v1/me"), access, None).await;
    assert_eq!(me.status, 401);
    assert!(me.json()["error"]["message"].as_str().unwrap().contains("sign in again"));
    let refreshed =
        post_json(&api.url("/v1/auth/refresh"), &[], &json!({"refresh_token": pair["refresh_token"]})).await;
    assert_eq!(refreshed.status, 401);
    api.stop().await;
});

on_both_engines!(expired_forged_and_malformed_tokens_are_refused, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let user = api.user("ada@example.com", "a good long password", Role::Admin).await;
    let pair = api.login("ada@example.com", "a good long password").await;
    let access = pair["access_token"].as_str().unwrap();
    let session = AccessTokens::new(b"x").issue("u", Role::Viewer, "s", 0, 1); // shape only
    let secret = marquee_control_api::auth::store::jwt_secret(&api.db, now_ms()).await.unwrap();
    let tokens = AccessTokens::new(&secret);
    let claims = tokens.verify(access, u64::try_from(now_ms() / 1000).unwrap()).unwrap();
    let now = u64::try_from(now_ms() / 1000).unwrap();
    let expired = tokens.issue(&user, Role::Admin, &claims.sid, now - 3600, 60);
    let forged = AccessTokens::new(b"someone else's secret").issue(&user, Role::Admin, &claims.sid, now, 900);
    let cases = [
        (expired.as_str(), "token_expired"),
        (forged.as_str(), "unauthorized"),
        (session.as_str(), "unauthorized"),
        ("not-a-jwt", "unauthorized"),
        ("mqk_unknown-key", "unauthorized"),
    ];
    for (token, code) in cases {
        let answer = call("GET", &api.url("/v1/me"), token, None).await;
        assert_eq!((answer.status, answer.json()["error"]["code"].as_str()), (401, Some(code)), "{token}");
    }
    let none = send("GET", &api.url("/v1/me"), &[], Vec::new()).await;
    assert_eq!(none.status, 401);
    let basic = send("GET", &api.url("/v1/me"), &[("authorization", "Basic YWRhOnB3")], Vec::new()).await;
    assert_eq!(basic.status, 401);
    assert!(basic.json()["error"]["message"].as_str().unwrap().contains("Bearer"));
    assert_eq!(call("GET", &api.url("/v1/me"), access, None).await.status, 200, "the real one still works");
    api.stop().await;
});

on_both_engines!(api_keys_act_as_their_user_with_at_most_its_role, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let creator = api.signed_in("cora@example.com", Role::Creator).await;
    let other = api.signed_in("olga@example.com", Role::Creator).await;

    let made = call("POST", &api.url("/v1/api-keys"), &creator, Some(&json!({"name": "ingest"}))).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let made = made.json();
    let key = made["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("mqk_"));
    assert_eq!(made["api_key"]["role"], "creator");
    assert_eq!(made["api_key"]["prefix"].as_str().unwrap(), &key[..8]);
    let me = call("GET", &api.url("/v1/me"), &key, None).await;
    assert_eq!((me.status, me.json()["email"].as_str()), (200, Some("cora@example.com")));

    // Scoped lower, never higher.
    let viewer_key =
        call("POST", &api.url("/v1/api-keys"), &creator, Some(&json!({"name": "player", "role": "viewer"})))
            .await
            .json();
    let viewer_key = viewer_key["key"].as_str().unwrap();
    assert_eq!(
        call("POST", &api.url("/v1/api-keys"), viewer_key, Some(&json!({"name": "escalate", "role": "creator"})))
            .await
            .status,
        403
    );
    assert_eq!(
        call("POST", &api.url("/v1/api-keys"), &creator, Some(&json!({"name": "x", "role": "admin"}))).await.status,
        403
    );

    // Listed without the key itself, with its last use.
    let list = call("GET", &api.url("/v1/api-keys"), &creator, None).await;
    assert!(!list.text().contains(&key), "the key is shown once only");
    let items = list.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    assert!(items[0]["last_used_at"].as_i64().is_some(), "{items:?}");
    assert!(call("GET", &api.url("/v1/api-keys"), &other, None).await.json()["items"].as_array().unwrap().is_empty());

    // Another creator cannot revoke it (nor learn it exists); its owner can, and it stops at once.
    let id = made["api_key"]["id"].as_str().unwrap();
    assert_eq!(call("DELETE", &api.url(&format!("/v1/api-keys/{id}")), &other, None).await.status, 404);
    assert_eq!(call("DELETE", &api.url(&format!("/v1/api-keys/{id}")), &creator, None).await.status, 204);
    let revoked = call("GET", &api.url("/v1/me"), &key, None).await;
    assert_eq!(revoked.status, 401);
    assert!(revoked.json()["error"]["message"].as_str().unwrap().contains("revoked"));
    assert_eq!(call("POST", &api.url("/v1/auth/logout"), viewer_key, None).await.status, 400, "a key is not a login");
    api.stop().await;
});

on_both_engines!(sign_in_attempts_are_rate_limited, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    api.user("ada@example.com", "a good long password", Role::Viewer).await;
    let attempt = |password: &str| {
        let url = api.url("/v1/auth/login");
        let body = json!({"email": "ada@example.com", "password": password});
        async move { post_json(&url, &[], &body).await }
    };
    for _ in 0..marquee_control_api::auth::limiter::ACCOUNT_BURST {
        let wrong = attempt("wrong password!").await;
        assert_eq!((wrong.status, wrong.json()["error"]["code"].as_str()), (401, Some("invalid_credentials")));
    }
    let limited = attempt("a good long password").await;
    assert_eq!((limited.status, limited.json()["error"]["code"].as_str()), (429, Some("rate_limited")));
    let wait: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=12).contains(&wait), "{wait}");
    // An unknown account answers exactly like a wrong password.
    let unknown = post_json(
        &api.url("/v1/auth/login"),
        &[],
        &json!({"email": "nobody@example.com", "password": "whatever it is"}),
    )
    .await;
    assert_eq!((unknown.status, unknown.json()["error"]["code"].as_str()), (401, Some("invalid_credentials")));
    api.stop().await;
});

on_both_engines!(bad_input_gets_a_clear_4xx, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let login = api.url("/v1/auth/login");
    let json_header = [("content-type", "application/json")];
    let cases: Vec<(Vec<u8>, u16, &str, &str)> = vec![
        (b"{\"email\": ".to_vec(), 400, "invalid_json", "EOF"),
        (
            br#"{"email": "a@b.c", "password": "x", "colour": 1}"#.to_vec(),
            400,
            "invalid_body",
            "unknown field `colour`",
        ),
        (br#"{"email": 42, "password": "x"}"#.to_vec(), 400, "invalid_body", "invalid type"),
        (br#"{"password": "x"}"#.to_vec(), 400, "invalid_body", "missing field `email`"),
        (
            br#"{"email": "' OR 1=1; DROP TABLE users; --", "password": "' OR '1'='1"}"#.to_vec(),
            401,
            "invalid_credentials",
            "wrong",
        ),
        (
            format!(r#"{{"email": "a@b.c", "password": "{}"}}"#, "x".repeat(2 * 1024 * 1024)).into_bytes(),
            413,
            "payload_too_large",
            "too large",
        ),
    ];
    for (body, status, code, words) in cases {
        let answer = send("POST", &login, &json_header, body).await;
        let json = answer.json();
        assert_eq!((answer.status, json["error"]["code"].as_str()), (status, Some(code)), "{json}");
        assert!(json["error"]["message"].as_str().unwrap().contains(words), "{json}");
    }
    let no_type = send("POST", &login, &[], br#"{"email": "a@b.c", "password": "x"}"#.to_vec()).await;
    assert_eq!(no_type.status, 415);
    // The users table survived the SQL-looking input.
    assert_eq!(marquee_control_api::auth::store::user_count(&api.db).await.unwrap(), 0);
    api.stop().await;
});

on_both_engines!(sign_up_can_be_switched_off, |engine: Engine| async move {
    let api = TestApi::start_with(TestDatabase::new(engine), |settings| settings.no_registration = true).await;
    let answer = post_json(
        &api.url("/v1/auth/register"),
        &[],
        &json!({"email": "vic@example.com", "password": "viewer password"}),
    )
    .await;
    assert_eq!((answer.status, answer.json()["error"]["code"].as_str()), (403, Some("registration_closed")));
    api.stop().await;
});

on_both_engines!(a_changed_password_ends_every_login, |engine: Engine| async move {
    let api = TestApi::start(engine).await;
    let token = api.signed_in("ada@example.com", Role::Creator).await;
    let other = api.login("ada@example.com", "a good long password").await["access_token"].as_str().unwrap().to_owned();
    let wrong = call(
        "PUT",
        &api.url("/v1/me/password"),
        &token,
        Some(&json!({"current_password": "not it at all", "new_password": "a new long password"})),
    )
    .await;
    assert_eq!(wrong.status, 401);
    let changed = call(
        "PUT",
        &api.url("/v1/me/password"),
        &token,
        Some(&json!({"current_password": "a good long password", "new_password": "a new long password"})),
    )
    .await;
    assert_eq!(changed.status, 204, "{}", changed.text());
    assert_eq!(call("GET", &api.url("/v1/me"), &other, None).await.status, 401);
    api.login("ada@example.com", "a new long password").await;
    api.stop().await;
});
