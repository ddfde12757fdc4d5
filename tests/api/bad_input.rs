//! Bad input on the conversation routes — unknown ids, malformed ids, wrong JSON types, values out
//! of range — is a 4xx problem+json, never a 500.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn reactions_pins_reads_members_and_threads_refuse_bad_input_with_4xx() {
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    app.join(&bob, &ch).await;
    let m = app.send(&alice, &ch, "root").await;
    let m = m["id"].as_str().unwrap().to_string();
    let gone = app.send(&alice, &ch, "to be deleted").await;
    let gone = gone["id"].as_str().unwrap().to_string();
    app.delete(&format!("/messages/{gone}"), &alice.access)
        .await
        .expect(204);
    let unknown = uuid::Uuid::now_v7().to_string();

    let cases: Vec<(Method, String, Option<Value>, u16, &str)> = vec![
        // Reactions.
        (
            Method::POST,
            format!("/messages/{unknown}/reactions"),
            Some(json!({"emoji": "wave"})),
            404,
            "not_found",
        ),
        (
            Method::POST,
            "/messages/not-a-uuid/reactions".into(),
            Some(json!({"emoji": "wave"})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/messages/{m}/reactions"),
            Some(json!({})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/messages/{m}/reactions"),
            Some(json!({"emoji": ["wave"]})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/messages/{m}/reactions"),
            Some(json!({"emoji": {"name": "wave"}})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/messages/{m}/reactions"),
            Some(json!({"emoji": "x".repeat(65)})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/messages/{m}/reactions"),
            Some(json!({"emoji": "日本"})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/messages/{gone}/reactions"),
            Some(json!({"emoji": "wave"})),
            409,
            "conflict",
        ),
        (
            Method::DELETE,
            format!("/reactions/{unknown}"),
            None,
            404,
            "not_found",
        ),
        (
            Method::DELETE,
            "/reactions/42".into(),
            None,
            400,
            "validation_failed",
        ),
        // Pins.
        (
            Method::POST,
            format!("/messages/{unknown}/pin"),
            Some(json!({})),
            404,
            "not_found",
        ),
        (
            Method::DELETE,
            format!("/messages/{unknown}/pin"),
            None,
            404,
            "not_found",
        ),
        (
            Method::POST,
            "/messages/nope/pin".into(),
            Some(json!({})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/messages/{gone}/pin"),
            Some(json!({})),
            409,
            "conflict",
        ),
        (
            Method::GET,
            format!("/channels/{unknown}/pins"),
            None,
            404,
            "not_found",
        ),
        // Read markers.
        (
            Method::POST,
            format!("/channels/{ch}/read"),
            Some(json!({})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/channels/{ch}/read"),
            Some(json!({"seq": "three"})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/channels/{ch}/read"),
            Some(json!({"seq": 1.5})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/channels/{ch}/read"),
            Some(json!({"seq": 9_223_372_036_854_775_808u64})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/channels/{ch}/read"),
            Some(json!({"seq": -1})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/channels/{unknown}/read"),
            Some(json!({"seq": 1})),
            404,
            "not_found",
        ),
        // Members.
        (
            Method::GET,
            format!("/channels/{unknown}/members"),
            None,
            404,
            "not_found",
        ),
        (
            Method::POST,
            format!("/channels/{ch}/members"),
            Some(json!({})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/channels/{ch}/members"),
            Some(json!({"user_id": "bob"})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/channels/{ch}/members"),
            Some(json!({"user_id": 7})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/channels/{ch}/members"),
            Some(json!({"user_id": unknown})),
            404,
            "not_found",
        ),
        (
            Method::POST,
            format!("/channels/{unknown}/members"),
            Some(json!({"user_id": bob.user_id})),
            404,
            "not_found",
        ),
        (
            Method::DELETE,
            format!("/channels/{ch}/members/not-a-uuid"),
            None,
            400,
            "validation_failed",
        ),
        // Threads.
        (
            Method::POST,
            format!("/messages/{unknown}/threads"),
            Some(json!({"content": "x"})),
            404,
            "not_found",
        ),
        (
            Method::POST,
            format!("/messages/{m}/threads"),
            Some(json!({"content": ""})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/messages/{m}/threads"),
            Some(json!({"content": "x".repeat(40_001)})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/messages/{m}/threads"),
            Some(json!({"content": ["x"]})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/messages/{m}/threads"),
            Some(json!({"content": "x", "client_id": ""})),
            400,
            "validation_failed",
        ),
        (
            Method::POST,
            format!("/messages/{gone}/threads"),
            Some(json!({"content": "x"})),
            409,
            "conflict",
        ),
        (
            Method::GET,
            format!("/messages/{unknown}/thread"),
            None,
            404,
            "not_found",
        ),
        (
            Method::GET,
            "/messages/zzz/thread".into(),
            None,
            400,
            "validation_failed",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let reply = app
            .call(method.clone(), &path, Some(&bob.access), body)
            .await;
        let ct = reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert_eq!(
            (reply.status.as_u16(), reply.body["code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {}",
            reply.body
        );
        assert_eq!(ct, "application/problem+json", "{method} {path}");
    }
    // Removing someone who is not there (as the channel's owner).
    app.delete(&format!("/channels/{ch}/members/{unknown}"), &alice.access)
        .await
        .problem(404, "not_found");
    // Nothing was written along the way.
    let t = app
        .get(&format!("/messages/{m}/thread"), &bob.access)
        .await
        .expect(200);
    assert_eq!(t["items"].as_array().unwrap().len(), 1);
    assert_eq!(t["items"][0]["reactions"], json!([]));
    assert_eq!(t["items"][0]["pinned"], false);
}

/// A body that does not parse names the field at fault, in `detail` and under `errors`
/// (SPEC §4), on the routes a newcomer tries first.
#[tokio::test]
async fn parse_errors_name_the_missing_or_mistyped_field() {
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    let ch = app.channel(&owner, "dev", false).await;
    let cases: Vec<(String, Value, Option<&str>, &str)> = vec![
        (
            "/auth/login".into(),
            json!({"username": "owner", "password": "x"}),
            Some("login"),
            "is required",
        ),
        (
            "/auth/login".into(),
            json!({"login": "owner", "password": ["x"]}),
            Some("password"),
            "must be a string",
        ),
        (
            format!("/channels/{ch}/messages"),
            json!({"text": "hello"}),
            Some("content"),
            "is required",
        ),
        (
            format!("/channels/{ch}/messages"),
            json!({"content": "hi", "thread_root_id": "not-a-uuid"}),
            Some("thread_root_id"),
            "must be a UUID",
        ),
        (
            "/channels".into(),
            json!({"name": "x", "is_private": "yes"}),
            Some("is_private"),
            "must be true or false",
        ),
        (
            "/dms".into(),
            json!({"participant_ids": [owner.user_id, 7]}),
            Some("participant_ids[1]"),
            "must be a string",
        ),
        (
            "/channels".into(),
            json!(["general"]),
            None,
            "the request body must be a JSON object",
        ),
    ];
    for (path, body, field, message) in cases {
        let problem = app
            .post(&path, Some(&owner.access), body.clone())
            .await
            .problem(400, "validation_failed");
        let detail = problem["detail"].as_str().unwrap();
        match field {
            Some(field) => {
                assert_eq!(detail, format!("{field}: {message}"), "{path} {body}");
                assert_eq!(
                    problem["errors"],
                    json!([{"field": field, "message": message}]),
                    "{path} {body}"
                );
            }
            None => {
                assert_eq!(detail, message, "{path} {body}");
                assert!(problem.get("errors").is_none(), "{problem}");
            }
        }
    }
    // Not JSON at all: said so, with serde's position.
    let reply = app
        .client
        .post(format!("{}/api/v1/auth/login", app.base))
        .header("content-type", "application/json")
        .body("{\"login\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 400);
    let problem: Value = reply.json().await.unwrap();
    assert_eq!(problem["code"], "validation_failed", "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("the request body is not valid JSON: EOF"),
        "{problem}"
    );
    // A query parameter names itself; a path parameter says it is the path.
    let problem = app
        .get(&format!("/channels/{ch}/messages?limit=0"), &owner.access)
        .await
        .problem(400, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "limit", "{problem}");
    let problem = app
        .get("/channels/not-a-uuid", &owner.access)
        .await
        .problem(400, "validation_failed");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("invalid path parameter: ") && !detail.contains("param0"),
        "{problem}"
    );
    // A domain rule names its field as well.
    let problem = app
        .post(
            "/channels",
            Some(&owner.access),
            json!({"name": "Has Spaces", "is_private": false}),
        )
        .await
        .problem(400, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "name", "{problem}");
}
