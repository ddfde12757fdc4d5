//! Mentions: who can be mentioned, and how mentions and replies count.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn only_people_of_the_channels_workspace_can_be_mentioned() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let other = app
        .post("/workspaces", Some(&owner.access), json!({"name": "Other"}))
        .await
        .expect(201);
    let other = other["id"].as_str().unwrap().to_string();
    // zed exists, but only in the other workspace.
    let zed = app.member(&owner, &other, "zed").await;
    let ch = app.channel(&alice, "dev", false).await;
    app.join(&bob, &ch).await;

    let sent = app.send(&alice, &ch, "@zed @bob @nobody hello").await;
    assert_eq!(sent["mentions"]["user_ids"], json!([bob.user_id]));
    let id = sent["id"].as_str().unwrap();
    let edited = app
        .put(
            &format!("/messages/{id}"),
            &alice.access,
            json!({"content": "@zed again"}),
        )
        .await
        .expect(200);
    assert_eq!(edited["mentions"]["user_ids"], json!([]));
    let reply = app
        .post(
            &format!("/messages/{id}/threads"),
            Some(&alice.access),
            json!({"content": "@zed @bob in a thread"}),
        )
        .await
        .expect(201);
    assert_eq!(reply["mentions"]["user_ids"], json!([bob.user_id]));
    // Stored mentions follow: the list shows the same, and zed has nothing to count.
    let listed = app
        .get(&format!("/channels/{ch}/messages"), &alice.access)
        .await
        .expect(200);
    assert_eq!(listed["items"][0]["mentions"]["user_ids"], json!([]));
    use colink::db::entity::mention;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let zed_id: uuid::Uuid = zed.user_id.parse().unwrap();
    let stored = mention::Entity::find()
        .filter(mention::Column::UserId.eq(zed_id))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}
