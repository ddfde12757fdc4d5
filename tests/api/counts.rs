//! Unread and mention counts are exact after every kind of change, checked against a brute-force
//! count on seeded random sequences of operations (issue 9: whatever makes the counts cheap must
//! keep this test green).
//!
//! The model keeps every message the test wrote (conversation, seq, author, top level or reply,
//! deleted, whom it mentions) and applies the rule `read_state::counts` documents to the read
//! marker the server reports: unread = top-level messages by others after the marker, not
//! deleted; mentions = messages (replies too) by others after the marker, not deleted, that
//! mention the user, `@channel` or `@here`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::{
    drive::Lcg,
    helpers::{Session, TestApp, spawn_app},
};

struct Written {
    id: String,
    conversation: usize,
    seq: i64,
    author: usize,
    top_level: bool,
    deleted: bool,
    /// Users mentioned by name, and whether `@channel` / `@here` is in it.
    mentions: BTreeSet<usize>,
    broadcast: bool,
}

struct World {
    users: Vec<(String, Session)>,
    conversations: Vec<String>,
    members: Vec<BTreeSet<usize>>,
    messages: Vec<Written>,
}

impl World {
    fn content(&self, rng: &mut Lcg, author: usize) -> (String, BTreeSet<usize>, bool) {
        let mut text = format!("note {}", rng.next());
        let mut mentions = BTreeSet::new();
        let mut broadcast = false;
        match rng.below(6) {
            0 | 1 => {
                let who = rng.below(self.users.len());
                text.push_str(&format!(" @{}", self.users[who].0));
                if who != author {
                    mentions.insert(who);
                } else {
                    mentions.insert(author);
                }
            }
            2 => {
                text.push_str(if rng.below(2) == 0 {
                    " @channel"
                } else {
                    " @here"
                });
                broadcast = true;
            }
            _ => {}
        }
        (text, mentions, broadcast)
    }

    /// One of the messages `keep` accepts, at random.
    fn pick(&self, rng: &mut Lcg, keep: impl Fn(&Written) -> bool) -> Option<usize> {
        let found: Vec<usize> = (0..self.messages.len())
            .filter(|&i| keep(&self.messages[i]))
            .collect();
        (!found.is_empty()).then(|| found[rng.below(found.len())])
    }

    /// The expected (unread, mentions) of `user` in `conversation` after `marker`.
    fn expected(&self, user: usize, conversation: usize, marker: i64) -> (u64, u64) {
        let mut unread = 0;
        let mut mentions = 0;
        for m in &self.messages {
            if m.conversation != conversation || m.deleted || m.author == user || m.seq <= marker {
                continue;
            }
            if m.top_level {
                unread += 1;
            }
            if m.broadcast || m.mentions.contains(&user) {
                mentions += 1;
            }
        }
        (unread, mentions)
    }
}

async fn check(app: &TestApp, world: &World, step: usize) {
    for (user, (name, session)) in world.users.iter().enumerate() {
        let page = app
            .get("/channels?limit=200", &session.access)
            .await
            .expect(200);
        let listed: BTreeMap<String, &Value> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["id"].as_str().unwrap().to_string(), c))
            .collect();
        for (conversation, id) in world.conversations.iter().enumerate() {
            if !world.members[conversation].contains(&user) {
                continue;
            }
            let c = listed
                .get(id)
                .unwrap_or_else(|| panic!("step {step}: {name} does not list {id}"));
            assert_eq!(
                c["member_count"].as_u64(),
                Some(world.members[conversation].len() as u64),
                "step {step}: member count of conversation {conversation}"
            );
            let marker = c["last_read_seq"].as_i64().unwrap();
            let (unread, mentions) = world.expected(user, conversation, marker);
            assert_eq!(
                (c["unread_count"].as_u64(), c["mention_count"].as_u64()),
                (Some(unread), Some(mentions)),
                "step {step}: {name} in conversation {conversation} (marker {marker})"
            );
        }
    }
}

/// Each conversation's last message in `GET /conversations` is its last top-level message
/// (deleted or not), whatever replies came after it.
async fn check_last_messages(app: &TestApp, world: &World, step: usize) {
    for (name, session) in &world.users {
        check_last_messages_of(app, world, step, name, session).await;
    }
}

async fn check_last_messages_of(
    app: &TestApp,
    world: &World,
    step: usize,
    name: &str,
    session: &Session,
) {
    let page = app
        .get("/conversations?limit=200", &session.access)
        .await
        .expect(200);
    for item in page["items"].as_array().unwrap() {
        let id = item["id"].as_str().unwrap();
        let Some(conversation) = world.conversations.iter().position(|c| c == id) else {
            continue;
        };
        let expected = world
            .messages
            .iter()
            .filter(|m| m.conversation == conversation && m.top_level)
            .max_by_key(|m| m.seq)
            .map(|m| m.id.as_str());
        assert_eq!(
            item["last_message"]["id"].as_str(),
            expected,
            "step {step}: {name}'s last message of conversation {conversation}"
        );
    }
}

async fn run(seed: u64, steps: usize) {
    let app = spawn_app().await;
    let (owner, ws) = app.setup_owner().await;
    let mut users = vec![("owner".to_string(), owner)];
    for name in ["ana", "ben", "cy"] {
        let session = app.member(&users[0].1, &ws, name).await;
        users.push((name.to_string(), session));
    }
    let mut conversations = Vec::new();
    let mut members = Vec::new();
    for name in ["alpha", "beta"] {
        let id = app.channel(&users[0].1, name, false).await;
        for (_, session) in &users[1..] {
            app.join(session, &id).await;
        }
        conversations.push(id);
        members.push((0..users.len()).collect::<BTreeSet<usize>>());
    }
    let mut world = World {
        users,
        conversations,
        members,
        messages: Vec::new(),
    };
    let mut rng = Lcg(seed);
    for step in 0..steps {
        apply(&app, &mut world, &mut rng).await;
        if step % 4 == 3 {
            check(&app, &world, step).await;
            check_last_messages(&app, &world, step).await;
        }
    }
    check(&app, &world, steps).await;
    // The migration's backfill computes the same counters from scratch.
    use sea_orm::ConnectionTrait;
    let db = &app.state.db;
    db.execute_unprepared(
        "UPDATE channel_members SET read_top_level = 999, own_unread = 5, mention_count = 7",
    )
    .await
    .unwrap();
    db.execute_unprepared(
        "UPDATE channels SET top_level_count = 0, member_count = 3, last_top_level_seq = 1",
    )
    .await
    .unwrap();
    for statement in migration::READ_COUNTS_BACKFILL
        .iter()
        .chain(migration::SIDEBAR_BACKFILL)
    {
        db.execute_unprepared(statement).await.unwrap();
    }
    check(&app, &world, steps + 1).await;
    check_last_messages(&app, &world, steps + 1).await;
}

/// One random operation: send, reply, edit (mentions change), delete, mark read, leave or
/// join.
async fn apply(app: &TestApp, world: &mut World, rng: &mut Lcg) {
    let user = rng.below(world.users.len());
    let conversation = rng.below(world.conversations.len());
    let member = world.members[conversation].contains(&user);
    let token = world.users[user].1.access.clone();
    let id = world.conversations[conversation].clone();
    match (rng.below(10), member) {
        (_, false) => {
            app.post(&format!("/channels/{id}/join"), Some(&token), json!({}))
                .await
                .expect(200);
            world.members[conversation].insert(user);
        }
        (0..=2, true) => {
            let path = format!("/channels/{id}/messages");
            post(app, world, rng, (user, conversation), &path, true).await;
        }
        (3 | 4, true) => {
            let Some(root) = world.pick(rng, |m| {
                m.conversation == conversation && m.top_level && !m.deleted
            }) else {
                return;
            };
            let path = format!("/messages/{}/threads", world.messages[root].id);
            post(app, world, rng, (user, conversation), &path, false).await;
        }
        (5, true) => {
            let Some(at) = world.pick(rng, |m| m.author == user && !m.deleted) else {
                return;
            };
            let (text, mentions, broadcast) = world.content(rng, user);
            let path = format!("/messages/{}", world.messages[at].id);
            app.put(&path, &token, json!({ "content": text }))
                .await
                .expect(200);
            world.messages[at].mentions = mentions;
            world.messages[at].broadcast = broadcast;
        }
        (6, true) => {
            let Some(at) = world.pick(rng, |m| m.author == user && !m.deleted) else {
                return;
            };
            let path = format!("/messages/{}", world.messages[at].id);
            app.delete(&path, &token).await.expect(204);
            world.messages[at].deleted = true;
        }
        (7 | 8, true) => {
            let last = world
                .messages
                .iter()
                .filter(|m| m.conversation == conversation)
                .map(|m| m.seq)
                .max()
                .unwrap_or(0);
            let seq = if last == 0 {
                0
            } else {
                rng.below(last as usize + 1) as i64
            };
            app.post(
                &format!("/channels/{id}/read"),
                Some(&token),
                json!({ "seq": seq }),
            )
            .await
            .expect(200);
        }
        (_, true) => {
            // The owner stays, so every conversation keeps a member who can write.
            if user == 0 {
                return;
            }
            app.post(&format!("/channels/{id}/leave"), Some(&token), json!({}))
                .await
                .expect(204);
            world.members[conversation].remove(&user);
        }
    }
}

/// Post random content as `user` in `conversation` to `path` (a message or a reply) and record it.
async fn post(
    app: &TestApp,
    world: &mut World,
    rng: &mut Lcg,
    (user, conversation): (usize, usize),
    path: &str,
    top_level: bool,
) {
    let (text, mentions, broadcast) = world.content(rng, user);
    let token = world.users[user].1.access.clone();
    let sent = app
        .post(path, Some(&token), json!({ "content": text }))
        .await
        .expect(201);
    world.messages.push(Written {
        id: sent["id"].as_str().unwrap().to_string(),
        conversation,
        seq: sent["seq"].as_i64().unwrap(),
        author: user,
        top_level,
        deleted: false,
        mentions,
        broadcast,
    });
}

#[tokio::test]
async fn counts_match_a_brute_force_count_on_random_operations() {
    for seed in 1..=5 {
        run(seed, 80).await;
    }
}

/// Sends, replies, deletions and read markers racing each other (on PostgreSQL they run side by
/// side) leave the counters equal to a recount from the messages and mentions as stored.
#[tokio::test]
async fn counts_stay_exact_under_concurrent_changes() {
    let app = spawn_app().await;
    let (owner, ws) = app.setup_owner().await;
    let mut people = vec![("owner".to_string(), owner)];
    for name in ["ana", "ben", "cy"] {
        let session = app.member(&people[0].1, &ws, name).await;
        people.push((name.to_string(), session));
    }
    let ch = app.channel(&people[0].1, "race", false).await;
    for (_, session) in &people[1..] {
        app.join(session, &ch).await;
    }
    let seed = app.send(&people[0].1, &ch, "first @ana").await;
    let root = seed["id"].as_str().unwrap().to_string();
    for round in 0..6u64 {
        let requests: Vec<_> = (0..24u64)
            .map(|k| {
                let (_, session) = &people[(k % 4) as usize];
                let other = &people[((k + round + 1) % 4) as usize].0;
                let token = session.access.clone();
                let (path, body) = match (k + round) % 5 {
                    0 | 1 => (
                        format!("/channels/{ch}/messages"),
                        json!({ "content": format!("hi @{other} {k}") }),
                    ),
                    2 => (
                        format!("/messages/{root}/threads"),
                        json!({ "content": format!("reply @{other}") }),
                    ),
                    3 => (format!("/channels/{ch}/read"), json!({ "seq": 1_000_000 })),
                    _ => (
                        format!("/channels/{ch}/messages"),
                        json!({ "content": "hello @channel" }),
                    ),
                };
                (path, token, body)
            })
            .collect();
        let answers = crate::helpers::concurrently(requests.len(), |i| {
            let (path, token, body) = &requests[i];
            app.client
                .post(format!("{}/api/v1{path}", app.base))
                .bearer_auth(token)
                .json(body)
        })
        .await;
        // Delete some of what was just posted, concurrently with the next round's reads.
        let posted: Vec<(usize, String)> = answers
            .iter()
            .enumerate()
            .filter(|(_, (status, _))| *status == 201)
            .filter_map(|(i, (_, v))| v["id"].as_str().map(|id| (i, id.to_string())))
            .filter(|(i, _)| i % 3 == 0)
            .collect();
        let deletes = crate::helpers::concurrently(posted.len(), |j| {
            let (i, id) = &posted[j];
            let token = &requests[*i].1;
            app.client
                .delete(format!("{}/api/v1/messages/{id}", app.base))
                .bearer_auth(token)
        })
        .await;
        assert!(deletes.iter().all(|(s, _)| *s == 204), "{deletes:?}");
    }
    for (name, session) in &people {
        let c = app.listed("/channels?limit=200", session, &ch).await;
        let marker = c["last_read_seq"].as_i64().unwrap();
        let (unread, mentions) = recount(&app, &ch, &session.user_id, marker).await;
        assert_eq!(
            (c["unread_count"].as_i64(), c["mention_count"].as_i64()),
            (Some(unread), Some(mentions)),
            "{name} (marker {marker})"
        );
    }
}

/// The counts of `user` after `marker`, counted from the stored messages and mentions.
async fn recount(app: &TestApp, channel: &str, user: &str, marker: i64) -> (i64, i64) {
    use colink::db::entity::{mention, message};
    use sea_orm::{
        ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
        sea_query::{Expr, ExprTrait},
    };
    let channel: uuid::Uuid = channel.parse().unwrap();
    let user: uuid::Uuid = user.parse().unwrap();
    let db = &app.state.db;
    let unread = message::Entity::find()
        .filter(message::Column::ChannelId.eq(channel))
        .filter(message::Column::Seq.gt(marker))
        .filter(message::Column::ThreadRootId.is_null())
        .filter(message::Column::DeletedAt.is_null())
        .filter(message::Column::UserId.ne(user))
        .count(db)
        .await
        .unwrap();
    let mentions: Option<i64> = mention::Entity::find()
        .select_only()
        .column_as(Expr::col(mention::Column::MessageId).count_distinct(), "n")
        .filter(mention::Column::ChannelId.eq(channel))
        .filter(mention::Column::Seq.gt(marker))
        .filter(mention::Column::AuthorId.ne(user))
        .filter(
            Condition::any()
                .add(mention::Column::UserId.eq(user))
                .add(mention::Column::Kind.is_in(["channel", "here"])),
        )
        .into_tuple()
        .one(db)
        .await
        .unwrap();
    (i64::try_from(unread).unwrap(), mentions.unwrap_or(0))
}
