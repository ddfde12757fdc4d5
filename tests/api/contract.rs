//! The OpenAPI document is the rule: what it refuses the server refuses (400 naming the field),
//! what it allows the server takes, every error a route answers is documented, and a 405 says
//! which methods the path takes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn bodies_that_break_the_schema_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let (_, _, alice, _) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    let cases: Vec<(String, Value, &str)> = vec![
        // A number where the schema says string (poem-openapi alone would take it as text).
        ("/workspaces".into(), json!({"name": 12345}), "name"),
        ("/channels".into(), json!({"name": "has space"}), "name"),
        ("/channels".into(), json!({"name": "x".repeat(81)}), "name"),
        (
            format!("/channels/{ch}/messages"),
            json!({"content": " \n\t "}),
            "content",
        ),
        (
            format!("/channels/{ch}/messages"),
            json!({"content": "a\u{7}b"}),
            "content",
        ),
        (
            format!("/channels/{ch}/messages"),
            json!({"content": "x".repeat(40_001)}),
            "content",
        ),
        (
            format!("/channels/{ch}/messages"),
            json!({"content": "hi", "client_id": "has space"}),
            "client_id",
        ),
        (
            format!("/channels/{ch}/messages"),
            json!({"content": true}),
            "content",
        ),
    ];
    for (path, body, field) in cases {
        let problem = app
            .post(&path, Some(&alice.access), body.clone())
            .await
            .problem(400, "validation_failed");
        assert_eq!(
            problem["errors"][0]["field"], field,
            "{path} {body}: {problem}"
        );
    }
    // What the schema allows is taken, normalised by the domain type.
    let created = app
        .post(
            "/channels",
            Some(&alice.access),
            json!({"name": "#Release-Notes"}),
        )
        .await
        .expect(201);
    assert_eq!(created["name"], "release-notes");
}

#[tokio::test]
async fn a_reserved_username_is_taken_not_malformed() {
    let app = spawn_app().await;
    let (owner, workspace) = app.setup_owner().await;
    let invite = app
        .post(
            &format!("/workspaces/{workspace}/invites"),
            Some(&owner.access),
            json!({}),
        )
        .await
        .expect(201);
    let problem = app
        .post(
            "/auth/register",
            None,
            json!({"email": "c@example.com", "username": "Channel",
                   "password": "a long passphrase you like", "invite_token": invite["token"]}),
        )
        .await
        .problem(409, "conflict");
    assert!(
        problem["detail"].as_str().unwrap().contains("reserved"),
        "{problem}"
    );
}

#[tokio::test]
async fn before_and_after_together_read_the_window_between_them() {
    let app = spawn_app().await;
    let (_, _, alice, _) = app.team().await;
    let ch = app.channel(&alice, "dev", false).await;
    let mut seqs = Vec::new();
    for i in 0..6 {
        seqs.push(
            app.send(&alice, &ch, &format!("m{i}")).await["seq"]
                .as_i64()
                .unwrap(),
        );
    }
    let page = app
        .get(
            &format!(
                "/channels/{ch}/messages?after={}&before={}",
                seqs[1], seqs[4]
            ),
            &alice.access,
        )
        .await
        .expect(200);
    let got: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(got, [seqs[2], seqs[3]]);
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow() {
    let app = spawn_app().await;
    let (_, _, alice, _) = app.team().await;
    let reply = app
        .call(Method::PATCH, "/channels", Some(&alice.access), None)
        .await;
    let allow = reply
        .headers
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    reply.problem(405, "method_not_allowed");
    assert_eq!(allow, "GET, POST, HEAD");
}

#[tokio::test]
async fn every_operation_documents_its_errors_as_problems() {
    let app = spawn_app().await;
    let spec: Value = app
        .client
        .get(format!("{}/api/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut checked = 0;
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, op) in operations.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let authed = op.get("security").is_some();
            let has_body = op.get("requestBody").is_some();
            let name = format!("{method} {path}");
            if authed {
                assert!(responses.contains_key("401"), "{name}: 401");
                assert!(responses.contains_key("403"), "{name}: 403");
            }
            if has_body {
                // Raw bodies (file content) take any type: no 415 there.
                let json_body = op["requestBody"]["content"]
                    .as_object()
                    .is_some_and(|c| c.contains_key("application/json"));
                let statuses: &[&str] = if json_body {
                    &["400", "408", "413", "415"]
                } else {
                    &["400", "408", "413"]
                };
                for status in statuses {
                    assert!(responses.contains_key(*status), "{name}: {status}");
                }
            }
            if path.contains('{') {
                assert!(responses.contains_key("400"), "{name}: 400");
            }
            for (status, response) in responses {
                // Errors are problems; a redirect (the sign-in navigations) is no error.
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/problem+json"]["schema"]["$ref"],
                        "#/components/schemas/Problem",
                        "{name} {status}"
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "{checked} operations");
}
