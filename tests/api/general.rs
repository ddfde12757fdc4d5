//! Every workspace starts with a public #general, and everyone who joins the workspace is in it
//! (as Slack and Mattermost do), with the events other channels' creation and joins write.

use colink::db::entity::outbox;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp, spawn_app};

/// #general of the caller's workspace (or of `workspace`), as `GET /channels` shows it.
async fn general(app: &TestApp, who: &Session, workspace: Option<&str>) -> Value {
    let query = workspace
        .map(|w| format!("?workspace_id={w}"))
        .unwrap_or_default();
    let list = app
        .get(&format!("/channels{query}"), &who.access)
        .await
        .expect(200);
    let found: Vec<&Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "general")
        .collect();
    assert_eq!(found.len(), 1, "{list}");
    found[0].clone()
}

async fn member_names(app: &TestApp, who: &Session, channel: &str) -> Vec<String> {
    let members = app
        .get(&format!("/channels/{channel}/members"), &who.access)
        .await
        .expect(200);
    members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}:{}",
                m["username"].as_str().unwrap(),
                m["role"].as_str().unwrap()
            )
        })
        .collect()
}

/// The outbox events about `channel`, in order, as (type, user_id of the payload).
async fn events(app: &TestApp, channel: &str) -> Vec<(String, Value)> {
    let id: uuid::Uuid = channel.parse().unwrap();
    outbox::Entity::find()
        .filter(outbox::Column::ChannelId.eq(id))
        .order_by_asc(outbox::Column::Position)
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            let payload: Value = serde_json::from_str(&row.payload).unwrap();
            (row.event_type, payload["data"]["user_id"].clone())
        })
        .collect()
}

#[tokio::test]
async fn setup_registration_and_invites_put_everyone_in_general() {
    let app = spawn_app().await;
    let (owner, ws) = app.setup_owner().await;
    let channel = general(&app, &owner, None).await;
    assert_eq!(channel["is_private"], false, "{channel}");
    assert_eq!(channel["is_member"], true, "{channel}");
    let id = channel["id"].as_str().unwrap().to_string();
    assert_eq!(member_names(&app, &owner, &id).await, ["owner:owner"]);

    // Registering with an invite joins the workspace and its #general.
    let alice = app.member(&owner, &ws, "alice").await;
    assert_eq!(general(&app, &alice, None).await["is_member"], true);
    assert_eq!(
        member_names(&app, &owner, &id).await,
        ["alice:member", "owner:owner"]
    );
    let alice_id = Value::String(alice.user_id.clone());
    let owner_id = Value::String(owner.user_id.clone());
    assert_eq!(
        events(&app, &id).await,
        [
            ("channel.created".to_string(), Value::Null),
            ("member.joined".to_string(), owner_id.clone()),
            ("member.joined".to_string(), alice_id.clone()),
        ]
    );

    // A second workspace has its own #general; accepting an invite joins it.
    let second = app
        .post(
            "/workspaces",
            Some(&owner.access),
            json!({"name": "Second"}),
        )
        .await
        .expect(201);
    let second = second["id"].as_str().unwrap();
    let second_general = general(&app, &owner, Some(second)).await;
    let second_id = second_general["id"].as_str().unwrap().to_string();
    assert_ne!(second_id, id);
    let token = app.invite_into(&owner, second, &alice).await;
    assert_eq!(
        member_names(&app, &owner, &second_id).await,
        ["alice:member", "owner:owner"]
    );
    // Accepting again changes nothing and announces nothing.
    app.post(
        &format!("/invites/{token}/accept"),
        Some(&alice.access),
        json!({}),
    )
    .await
    .expect(200);
    assert_eq!(events(&app, &second_id).await.len(), 3);
    // Messages to #general reach everyone: it is a channel like any other.
    app.send(&alice, &id, "hello @channel").await;
}

#[tokio::test]
async fn open_registration_joins_general_and_bots_do_not() {
    let app = crate::helpers::spawn_with(|c| {
        c.auth.registration = colink::config::Registration::Open;
    })
    .await;
    let (owner, _) = app.setup_owner().await;
    app.post(
        "/auth/register",
        None,
        json!({"email": "bob@example.com", "username": "bob", "password": PASSWORD}),
    )
    .await
    .expect(201);
    let bob = app.login("bob", PASSWORD).await;
    let id = general(&app, &bob, None).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        "/admin/clients",
        Some(&owner.access),
        json!({"name": "CI Bot", "username": "cibot"}),
    )
    .await
    .expect(201);
    assert_eq!(
        member_names(&app, &owner, &id).await,
        ["bob:member", "owner:owner"]
    );
}

/// `colink admin create-user` puts a member in #general, and a guest not (a guest sees only the
/// conversations they are added to).
#[tokio::test]
async fn cli_created_members_join_general_and_guests_do_not() {
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    let id = general(&app, &owner, None).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = app.config.data_dir.to_str().unwrap().to_string();
    let db_url = app.config.database_url();
    let env = [
        ("COLINK_DATA_DIR", dir.as_str()),
        ("COLINK_DATABASE__URL", db_url.as_str()),
    ];
    for (name, role) in [("mia", "member"), ("gus", "guest")] {
        let email = format!("{name}@example.com");
        let args = [
            "admin",
            "create-user",
            "--username",
            name,
            "--email",
            &email,
            "--role",
            role,
            "--password-stdin",
        ];
        let out = crate::cli::colink(&args, &env, Some(PASSWORD));
        assert!(out.status.success(), "{}", crate::cli::text(&out.stderr));
    }
    assert_eq!(
        member_names(&app, &owner, &id).await,
        ["mia:member", "owner:owner"]
    );
    // A guest sees only what they were added to: not even #general.
    let gus = app.login("gus", PASSWORD).await;
    let listed = app.get("/channels", &gus.access).await.expect(200);
    assert_eq!(listed["items"], json!([]), "{listed}");
}
