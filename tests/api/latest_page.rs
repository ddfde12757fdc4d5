//! The newest page of a conversation is served from memory (`service::latest_page`); after every
//! kind of change it must equal what the database holds. Each step of a seeded random sequence
//! (post, reply, edit, delete, react, unreact, pin, unpin, by three people) compares, for every
//! member, the cached answer (`?limit=L`) with the same page read past the cache
//! (`?before=<max>&limit=L`, which always queries the database): items (reactions with `me`,
//! reply counts, pins, deletions) and cursor alike, and the conversation's last message in
//! `GET /conversations`.

use serde_json::{Value, json};

use crate::{
    drive::Lcg,
    helpers::{Session, TestApp, spawn_app},
};

const EMOJI: [&str; 3] = ["thumbsup", "tada", "eyes"];

struct Seen {
    id: String,
    top_level: bool,
    deleted: bool,
}

async fn compare(app: &TestApp, users: &[Session], channel: &str, rng: &mut Lcg, step: usize) {
    let limit = 1 + rng.below(50);
    for (user, session) in users.iter().enumerate() {
        let cached = app
            .get(
                &format!("/channels/{channel}/messages?limit={limit}"),
                &session.access,
            )
            .await
            .expect(200);
        let fresh = app
            .get(
                &format!(
                    "/channels/{channel}/messages?before={}&limit={limit}",
                    i64::MAX
                ),
                &session.access,
            )
            .await
            .expect(200);
        assert_eq!(
            cached, fresh,
            "step {step}: user {user}'s newest {limit} differ from the database's"
        );
        // The conversations list shows the newest one, from the same pages.
        let conversation = app
            .listed("/conversations?limit=50", session, channel)
            .await;
        assert_eq!(
            conversation["last_message"],
            fresh["items"].get(0).cloned().unwrap_or(Value::Null),
            "step {step}: user {user}'s last message in the conversations list"
        );
    }
}

#[tokio::test]
async fn the_cached_newest_page_equals_the_database_after_every_kind_of_change() {
    let app = spawn_app().await;
    let (owner, ws) = app.setup_owner().await;
    let ana = app.member(&owner, &ws, "ana").await;
    let ben = app.member(&owner, &ws, "ben").await;
    let channel = app.channel(&owner, "cached", false).await;
    app.join(&ana, &channel).await;
    app.join(&ben, &channel).await;
    let users = [owner, ana, ben];
    let mut seen: Vec<Seen> = Vec::new();
    let mut rng = Lcg(9);
    for step in 0..160 {
        let session = &users[rng.below(users.len())];
        let token = session.access.clone();
        let live = |seen: &[Seen], top: bool| -> Vec<String> {
            seen.iter()
                .filter(|m| !m.deleted && (m.top_level || !top))
                .map(|m| m.id.clone())
                .collect()
        };
        let pick = |rng: &mut Lcg, ids: Vec<String>| -> Option<String> {
            (!ids.is_empty()).then(|| ids[rng.below(ids.len())].clone())
        };
        match rng.below(10) {
            0..=2 => {
                let sent = app.send(session, &channel, &format!("m{step}")).await;
                seen.push(Seen {
                    id: sent["id"].as_str().unwrap().to_string(),
                    top_level: true,
                    deleted: false,
                });
            }
            3 => {
                if let Some(root) = pick(&mut rng, live(&seen, true)) {
                    let reply = app
                        .post(
                            &format!("/messages/{root}/threads"),
                            Some(&token),
                            json!({ "content": format!("r{step}") }),
                        )
                        .await
                        .expect(201);
                    seen.push(Seen {
                        id: reply["id"].as_str().unwrap().to_string(),
                        top_level: false,
                        deleted: false,
                    });
                }
            }
            4 => {
                // Anyone may try; only the author's edit succeeds (403 otherwise).
                if let Some(id) = pick(&mut rng, live(&seen, false)) {
                    let reply = app
                        .put(
                            &format!("/messages/{id}"),
                            &token,
                            json!({ "content": format!("edited {step}") }),
                        )
                        .await;
                    assert!(matches!(reply.status.as_u16(), 200 | 403), "{}", reply.body);
                }
            }
            5 => {
                if let Some(id) = pick(&mut rng, live(&seen, false)) {
                    let reply = app.delete(&format!("/messages/{id}"), &token).await;
                    assert!(matches!(reply.status.as_u16(), 204 | 403), "{}", reply.body);
                    if reply.status.as_u16() == 204
                        && let Some(m) = seen.iter_mut().find(|m| m.id == id)
                    {
                        m.deleted = true;
                    }
                }
            }
            6 => {
                if let Some(id) = pick(&mut rng, live(&seen, true)) {
                    let emoji = EMOJI[rng.below(EMOJI.len())];
                    let reply = app
                        .post(
                            &format!("/messages/{id}/reactions"),
                            Some(&token),
                            json!({ "emoji": emoji }),
                        )
                        .await;
                    assert!(matches!(reply.status.as_u16(), 201 | 409), "{}", reply.body);
                }
            }
            7 => {
                if let Some(id) = pick(&mut rng, live(&seen, true)) {
                    let emoji = EMOJI[rng.below(EMOJI.len())];
                    let reply = app
                        .delete(&format!("/messages/{id}/reactions/{emoji}"), &token)
                        .await;
                    assert!(matches!(reply.status.as_u16(), 204 | 404), "{}", reply.body);
                }
            }
            _ => {
                if let Some(id) = pick(&mut rng, live(&seen, true)) {
                    let path = format!("/messages/{id}/pin");
                    let reply = if rng.below(2) == 0 {
                        app.post(&path, Some(&token), json!({})).await
                    } else {
                        app.delete(&path, &token).await
                    };
                    assert!(reply.status.is_success(), "{}", reply.body);
                }
            }
        }
        compare(&app, &users, &channel, &mut rng, step).await;
    }
    let (pages, bytes) = app.state.latest_pages.usage();
    assert_eq!(pages, 1, "the channel's newest page is cached");
    assert!(bytes > 0);
    let last: Value = app
        .get(
            &format!("/channels/{channel}/messages?limit=50"),
            &users[0].access,
        )
        .await
        .expect(200);
    assert!(!last["items"].as_array().unwrap().is_empty());
}
