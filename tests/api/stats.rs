//! `GET /admin/stats` against a seeded workspace: every number exactly, and the rollups rebuilt
//! by their migrations from what is already stored.

use serde_json::{Value, json};

use crate::{
    cli::{colink, text},
    files::{png, upload},
    helpers::{TestApp, spawn_app},
};

async fn stats(app: &TestApp, token: &str) -> Value {
    app.get("/admin/stats", token).await.expect(200)
}

#[tokio::test]
async fn stats_count_a_seeded_workspace_exactly() {
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    let carol = app.member(&owner, &ws, "carol").await;
    // Neither a bot nor a deactivated account is counted.
    app.post(
        "/admin/clients",
        Some(&owner.access),
        json!({"name": "Bot", "username": "helper-bot"}),
    )
    .await
    .expect(201);
    app.delete(&format!("/admin/users/{}", carol.user_id), &owner.access)
        .await
        .expect(204);
    let before = stats(&app, &owner.access).await;

    let busy = app.channel(&alice, "busy", false).await;
    let quiet = app.channel(&bob, "quiet", true).await;
    app.join(&bob, &busy).await;
    let mut first = Value::Null;
    for n in 0..5 {
        let m = app.send(&alice, &busy, &format!("busy {n}")).await;
        if n == 0 {
            first = m;
        }
    }
    let first_id = first["id"].as_str().unwrap();
    app.post(
        &format!("/messages/{first_id}/threads"),
        Some(&bob.access),
        json!({"content": "a reply"}),
    )
    .await
    .expect(201);
    // Deleted messages were still sent.
    app.delete(&format!("/messages/{first_id}"), &alice.access)
        .await
        .expect(204);
    for n in 0..2 {
        app.send(&bob, &quiet, &format!("quiet {n}")).await;
    }
    let dm = app
        .post(
            "/dms",
            Some(&alice.access),
            json!({"participant_ids": [bob.user_id]}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    for n in 0..3 {
        app.send(&alice, &dm, &format!("dm {n}")).await;
    }
    let second = app.send(&alice, &busy, "report me").await;
    app.post(
        &format!("/messages/{}/report", second["id"].as_str().unwrap()),
        Some(&bob.access),
        json!({"reason": "spam"}),
    )
    .await
    .expect(201);
    let bytes = png(40, 30);
    app.api_as(&alice)
        .upload(&upload("cat.png", "image/png", &bytes), bytes.clone())
        .await
        .unwrap();
    app.state.activity.flush(&app.state).await.unwrap();

    let after = stats(&app, &owner.access).await;
    let sent = 5 + 1 + 1 + 2 + 3;
    let delta = |f: &str| after[f].as_i64().unwrap() - before[f].as_i64().unwrap();
    assert_eq!(delta("messages_today"), sent, "{after}");
    assert_eq!(after["users"]["total"], 3, "owner, alice, bob: {after}");
    assert_eq!(after["users"]["active_today"], 3, "{after}");
    assert_eq!(after["users"]["active_30_days"], 3, "{after}");
    assert_eq!(delta("files"), 1);
    assert_eq!(delta("storage_bytes"), bytes.len() as i64);
    assert_eq!(after["open_reports"], 1, "{after}");

    let days = after["messages_per_day"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    let today = colink::service::stats::day_of(colink::domain::clock::now());
    assert_eq!(days[29]["day"], today.as_str());
    assert_eq!(days[29]["messages"], after["messages_today"]);
    assert!(days[..29].iter().all(|d| d["messages"] == 0), "{after}");
    assert!(days[0]["day"].as_str().unwrap() < days[1]["day"].as_str().unwrap());
    // People active per day: the three counted people today, nobody before.
    let active = after["active_users_per_day"].as_array().unwrap();
    assert_eq!(active.len(), 30);
    assert_eq!(active[29]["day"], today.as_str());
    assert_eq!(active[29]["users"], 3, "{after}");
    assert!(active[..29].iter().all(|d| d["users"] == 0), "{after}");

    let top: Vec<(String, i64)> = after["top_channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["messages"].as_i64().unwrap(),
            )
        })
        .collect();
    // DMs are not listed; #general may be, below the others, with what team() posted there.
    assert_eq!(
        top[..2],
        [("busy".into(), 7), ("quiet".into(), 2)],
        "{top:?}"
    );
    assert!(top.iter().all(|(name, _)| !name.is_empty()));

    // Members cannot read them (the admin route table checks guests too).
    app.get("/admin/stats", &alice.access)
        .await
        .problem(403, "forbidden");

    // The migrations that made the rollups count what is already stored: roll them back
    // (active days, then message counts) and apply them again, the numbers stay.
    let dir = app.config.data_dir.to_str().unwrap().to_string();
    let db_url = app.config.database_url();
    let env = [
        ("COLINK_DATA_DIR", dir.as_str()),
        ("COLINK_DATABASE__URL", db_url.as_str()),
    ];
    for command in ["down", "down", "up"] {
        let out = colink(&["migrate", command], &env, None);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let rebuilt = stats(&app, &owner.access).await;
    assert_eq!(rebuilt["messages_per_day"], after["messages_per_day"]);
    assert_eq!(rebuilt["top_channels"], after["top_channels"]);
    assert_eq!(
        rebuilt["active_users_per_day"],
        after["active_users_per_day"]
    );
}
