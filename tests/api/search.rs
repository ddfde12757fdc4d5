//! Search: words, phrases, stems, folded accents, CJK; every filter; permissions; edits and
//! deletes; pagination; hostile queries; rebuilding the index.
//!
//! Tests wait for the indexer's watermark to pass the time just before their last change
//! (`indexed`), never for a fixed time.

use std::{collections::BTreeSet, time::Duration};

use colink_client::{Client, MessageSearch, NewMessage, StatusCode};
use time::OffsetDateTime;

use crate::{
    files::{png, upload},
    helpers::{Session, TestApp, spawn_app, start, uuid_of},
};

fn now() -> OffsetDateTime {
    colink::domain::clock::now()
}

/// Wait until every event that occurred before `t` is searchable.
pub(crate) async fn indexed(app: &TestApp, t: OffsetDateTime) {
    tokio::time::timeout(Duration::from_secs(15), app.state.search.caught_up(t))
        .await
        .expect("the indexer reaches the watermark within 15 s");
}

/// The contents of the hits for `q`, as `who` sees them (every page).
pub(crate) async fn found(api: &Client, q: &str) -> Vec<String> {
    let mut search = MessageSearch::text(q);
    let mut out = Vec::new();
    loop {
        let page = api
            .search_messages(&search)
            .await
            .unwrap_or_else(|e| panic!("search {q:?}: {e}"));
        out.extend(page.items.into_iter().map(|h| h.message.content));
        match page.next_cursor {
            Some(c) => search.cursor = Some(c),
            None => return out,
        }
    }
}

pub(crate) fn sorted(v: Vec<String>) -> Vec<String> {
    let mut v = v;
    v.sort();
    v
}

/// Alice and Bob in #dev; Alice posts `texts` there. Returns when they are searchable.
pub(crate) async fn posted(app: &TestApp, texts: &[&str]) -> (Session, Session, Session, String) {
    let (owner, _, alice, bob) = app.team().await;
    let dev = app.channel(&alice, "dev", false).await;
    app.join(&bob, &dev).await;
    let mut t = now();
    for text in texts {
        t = now();
        app.send(&alice, &dev, text).await;
    }
    indexed(app, t).await;
    (owner, alice, bob, dev)
}

#[tokio::test]
async fn finds_words_phrases_stems_folded_accents_and_cjk() {
    let app = spawn_app().await;
    let (_, alice, bob, _) = posted(
        &app,
        &[
            "Deploying the release to production tonight",
            "the production release notes are ready",
            "Meet me at the Café Noir",
            "東京タワーに行きました",
            "<script>alert('x')</script> deploy",
        ],
    )
    .await;
    let b = app.api_as(&bob);
    assert_eq!(
        sorted(found(&b, "deployed").await),
        [
            "<script>alert('x')</script> deploy",
            "Deploying the release to production tonight"
        ],
        "stems"
    );
    assert_eq!(
        found(&b, "\"release to production\"").await,
        ["Deploying the release to production tonight"],
        "a phrase matches in order only"
    );
    assert_eq!(found(&b, "cafe").await, ["Meet me at the Café Noir"]);
    assert_eq!(found(&b, "CAFÉ noir").await, ["Meet me at the Café Noir"]);
    assert_eq!(
        found(&b, "タワー").await,
        ["東京タワーに行きました"],
        "CJK substring"
    );
    assert_eq!(found(&b, "京タ").await, ["東京タワーに行きました"]);
    assert!(found(&b, "大阪").await.is_empty());
    // All words must match.
    assert!(found(&b, "release banana").await.is_empty());

    // The exact phrase ranks first; highlights mark matches and escape the rest.
    let page = b
        .search_messages(&MessageSearch::text("production release"))
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(
        page.items[0].message.content,
        "the production release notes are ready"
    );
    assert_eq!(
        page.items[0].highlights,
        ["the <mark>production</mark> <mark>release</mark> notes are ready"]
    );
    let page = b
        .search_messages(&MessageSearch::text("deploy alert"))
        .await
        .unwrap();
    assert_eq!(
        page.items[0].highlights,
        ["&lt;script&gt;<mark>alert</mark>(&#39;x&#39;)&lt;/script&gt; <mark>deploy</mark>"]
    );
    assert_eq!(page.items[0].channel.name.as_deref(), Some("dev"));
    assert_eq!(page.items[0].user.username, "alice");
    assert_eq!(page.items[0].user.id, uuid_of(&alice.user_id));
}

#[tokio::test]
async fn every_filter_alone_and_combined() {
    let app = spawn_app().await;
    let (owner, alice, bob, dev) = posted(&app, &["alpha from alice in dev"]).await;
    let ops = app.channel(&bob, "ops", false).await;
    app.join(&alice, &ops).await;
    app.send(&bob, &ops, "alpha from bob in ops").await;
    app.send(&bob, &dev, "alpha from bob in dev").await;
    // A reply, with a file.
    let a = app.api_as(&alice);
    let bytes = png(4, 4);
    let file = a
        .upload(&upload("chart.png", "image/png", &bytes), bytes.clone())
        .await
        .unwrap();
    let root = app.send(&alice, &ops, "root of a thread").await;
    let root_id = uuid_of(root["id"].as_str().unwrap());
    let t = now();
    a.send_message(
        uuid_of(&ops),
        &NewMessage {
            file_ids: &[file.id],
            thread_root_id: Some(root_id),
            ..NewMessage::new("alpha reply with a chart from alice")
        },
    )
    .await
    .unwrap();
    indexed(&app, t).await;

    let o = app.api_as(&owner);
    assert_eq!(found(&o, "alpha").await.len(), 4);
    assert_eq!(
        sorted(found(&o, "alpha from:@alice").await),
        [
            "alpha from alice in dev",
            "alpha reply with a chart from alice"
        ]
    );
    assert_eq!(
        sorted(found(&o, "alpha in:#ops").await),
        [
            "alpha from bob in ops",
            "alpha reply with a chart from alice"
        ]
    );
    assert_eq!(
        found(&o, "alpha in:#ops from:bob").await,
        ["alpha from bob in ops"]
    );
    assert_eq!(
        found(&o, "has:file").await,
        ["alpha reply with a chart from alice"],
        "operators alone are a search"
    );
    let hit = o
        .search_messages(&MessageSearch::text("chart has:file"))
        .await
        .unwrap();
    assert_eq!(
        hit.items[0].message.thread_root_id,
        Some(root_id),
        "a reply links to its root"
    );
    let today = OffsetDateTime::now_utc().date();
    let day = |d: time::Date| d.to_string();
    assert_eq!(
        found(&o, &format!("alpha before:{}", day(today)))
            .await
            .len(),
        0
    );
    assert_eq!(
        found(
            &o,
            &format!("alpha before:{}", day(today.next_day().unwrap()))
        )
        .await
        .len(),
        4
    );
    assert_eq!(
        found(
            &o,
            &format!("alpha after:{}", day(today.previous_day().unwrap()))
        )
        .await
        .len(),
        4
    );
    assert_eq!(
        found(&o, &format!("alpha after:{}", day(today)))
            .await
            .len(),
        0
    );
    // The same filters as parameters.
    let by_params = o
        .search_messages(&MessageSearch {
            channel_id: Some(uuid_of(&dev)),
            user_id: Some(uuid_of(&bob.user_id)),
            from: Some(day(today)),
            to: Some(day(today)),
            ..MessageSearch::text("alpha")
        })
        .await
        .unwrap();
    assert_eq!(by_params.total, 1);
    assert_eq!(by_params.items[0].message.content, "alpha from bob in dev");
    let with_files = o
        .search_messages(&MessageSearch {
            has_file: true,
            ..MessageSearch::text("alpha")
        })
        .await
        .unwrap();
    assert_eq!(with_files.total, 1);
    // Unknown people and channels match nothing (not everything).
    assert!(found(&o, "alpha from:@nobody").await.is_empty());
    assert!(found(&o, "alpha in:#nowhere").await.is_empty());

    // A message whose file was deleted no longer has one.
    let t = now();
    a.delete_file(file.id).await.unwrap();
    indexed(&app, t).await;
    assert!(found(&o, "has:file").await.is_empty());
    assert_eq!(found(&o, "chart").await.len(), 1, "its text is still found");
}

#[tokio::test]
async fn private_channels_and_dms_never_reach_non_members() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let secret = app.channel(&alice, "secret", true).await;
    app.send(&alice, &secret, "kiwi in the private channel")
        .await;
    let dm = app
        .api_as(&alice)
        .open_dm(&[uuid_of(&owner.user_id)])
        .await
        .unwrap();
    let open = app.channel(&alice, "open", false).await;
    app.send(&alice, &open, "kiwi in a public channel alice is in")
        .await;
    let t = now();
    app.send(&alice, &dm.id.to_string(), "kiwi in a DM").await;
    indexed(&app, t).await;

    assert_eq!(found(&app.api_as(&alice), "kiwi").await.len(), 3);
    assert_eq!(
        sorted(found(&app.api_as(&owner), "kiwi").await),
        ["kiwi in a DM", "kiwi in a public channel alice is in"],
        "the owner reads the DM and the public channel, not the private one"
    );
    let b = app.api_as(&bob);
    assert_eq!(
        found(&b, "kiwi").await,
        ["kiwi in a public channel alice is in"],
        "public channels of one's workspace are searchable without joining"
    );
    assert!(found(&b, "kiwi in:#secret").await.is_empty());
    let refused = b
        .search_messages(&MessageSearch {
            channel_id: Some(uuid_of(&secret)),
            ..MessageSearch::text("kiwi")
        })
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(StatusCode::FORBIDDEN));

    // Bob is added to the private channel, finds it, is removed, and stops finding it.
    let a = app.api_as(&alice);
    a.add_member(uuid_of(&secret), uuid_of(&bob.user_id))
        .await
        .unwrap();
    assert_eq!(found(&b, "kiwi").await.len(), 2);
    a.remove_member(uuid_of(&secret), uuid_of(&bob.user_id))
        .await
        .unwrap();
    assert_eq!(found(&b, "kiwi").await.len(), 1);
}

#[tokio::test]
async fn edits_and_deletes_are_reflected() {
    let app = spawn_app().await;
    let (_, alice, bob, dev) = posted(&app, &["the mango is ripe"]).await;
    let other = app.send(&alice, &dev, "another mango").await;
    let b = app.api_as(&bob);
    let a = app.api_as(&alice);
    let first = b
        .search_messages(&MessageSearch::text("ripe"))
        .await
        .unwrap()
        .items[0]
        .message
        .id;
    let t = now();
    a.edit_message(first, "the papaya is ripe").await.unwrap();
    indexed(&app, t).await;
    assert_eq!(found(&b, "papaya").await, ["the papaya is ripe"]);
    assert_eq!(
        found(&b, "mango").await,
        ["another mango"],
        "found by its new text only"
    );

    let t = now();
    a.delete_message(uuid_of(other["id"].as_str().unwrap()))
        .await
        .unwrap();
    indexed(&app, t).await;
    assert!(found(&b, "mango").await.is_empty());
    let page = b
        .search_messages(&MessageSearch::text("mango"))
        .await
        .unwrap();
    assert_eq!(page.total, 0, "deleted messages are not counted either");
}

#[tokio::test]
async fn pages_return_every_hit_exactly_once() {
    let app = spawn_app().await;
    let texts: Vec<String> = (0..45).map(|i| format!("lemon number {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (_, _, bob, _) = posted(&app, &refs).await;
    let b = app.api_as(&bob);
    let mut search = MessageSearch::text("lemon");
    let mut seen = BTreeSet::new();
    let mut pages = 0;
    loop {
        let page = b.search_messages(&search).await.unwrap();
        assert_eq!(page.total, 45);
        pages += 1;
        for hit in page.items {
            assert!(seen.insert(hit.message.id), "{} twice", hit.message.content);
        }
        match page.next_cursor {
            Some(c) => search.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (45, 3));
    // Newest first among equals.
    let first = b
        .search_messages(&MessageSearch::text("lemon"))
        .await
        .unwrap();
    assert_eq!(first.items[0].message.content, "lemon number 44");
}

#[tokio::test]
async fn hostile_queries_answer_results_or_400() {
    let app = spawn_app().await;
    let (_, _, bob, _) = posted(&app, &["a (parenthesised) [bracketed] *starred* note"]).await;
    let b = app.api_as(&bob);
    for q in [
        "\"unbalanced",
        "unbalanced\"",
        "\"\"",
        ".*",
        "[a-z]+ (x|y) ^$ \\d{3}",
        "from: in: before: has:",
        "in:#",
        "AND OR NOT -x +y ~z field:value",
        "'; DROP TABLE messages; --",
        "%_%",
        "\u{0}\u{7}",
    ] {
        let r = b.search_messages(&MessageSearch::text(q)).await;
        match r {
            Ok(_) => {}
            Err(e) => assert_eq!(e.status(), Some(StatusCode::BAD_REQUEST), "{q:?} → {e}"),
        }
    }
    assert_eq!(
        found(&b, "\"(parenthesised) [bracketed\"").await.len(),
        1,
        "punctuation in a phrase is a separator"
    );
    let e = b
        .search_messages(&MessageSearch::text("x ".repeat(5_000)))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::BAD_REQUEST), "10 kB");
    // Every query within 512 characters is answered: an empty one finds nothing, a date that
    // does not read is text, words past the 16th are ignored.
    for q in ["", "before:tomorrow", &"note ".repeat(40)] {
        let page = b.search_messages(&MessageSearch::text(q)).await.unwrap();
        assert!(page.total <= 1, "{q:.20}");
    }
    assert_eq!(found(&b, &"note ".repeat(40)).await.len(), 1);
    let e = b
        .search_messages(&MessageSearch {
            cursor: Some("not-a-cursor".into()),
            ..MessageSearch::text("note")
        })
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::BAD_REQUEST));
}

#[tokio::test]
async fn a_deleted_index_is_rebuilt_on_start_with_the_same_results() {
    if crate::helpers::postgres_search() {
        // No index directory: `search_postgres` checks that backend's backfill on start.
        return;
    }
    let app = spawn_app().await;
    let (_, _, bob, _) = posted(
        &app,
        &["grape one", "grape two", "a grape and a melon", "melon"],
    )
    .await;
    let before = found(&app.api_as(&bob), "grape").await;
    assert_eq!(before.len(), 3);
    let bob_login = bob.user_id.clone();
    let (config, dir) = app.stop().await;
    std::fs::remove_dir_all(config.search.index_dir(&config.data_dir)).unwrap();

    let app = start(config, dir).await;
    tokio::time::timeout(
        Duration::from_secs(15),
        app.state.search.caught_up(OffsetDateTime::UNIX_EPOCH),
    )
    .await
    .expect("rebuilt within 15 s");
    let bob = app.login("bob", crate::helpers::PASSWORD).await;
    assert_eq!(bob.user_id, bob_login);
    assert_eq!(found(&app.api_as(&bob), "grape").await, before);
    assert_eq!(app.state.search.documents(), Some(4));
}

#[tokio::test]
async fn files_are_found_by_part_of_their_name_and_uploader_where_visible() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let secret = app.channel(&alice, "secret", true).await;
    let dev = app.channel(&alice, "dev", false).await;
    let a = app.api_as(&alice);
    let bytes = png(4, 4);
    let mut ids = Vec::new();
    for name in ["Quarterly-Report.png", "roadmap.png", "report_secret.png"] {
        ids.push(
            a.upload(&upload(name, "image/png", &bytes), bytes.clone())
                .await
                .unwrap()
                .id,
        );
    }
    for (channel, id) in [(&dev, ids[0]), (&dev, ids[1]), (&secret, ids[2])] {
        a.send_message(
            uuid_of(channel),
            &NewMessage {
                file_ids: &[id],
                ..NewMessage::new("here")
            },
        )
        .await
        .unwrap();
    }
    let names = |r: colink_client::FileResults| -> Vec<String> {
        let mut v: Vec<String> = r.items.into_iter().map(|h| h.file.filename).collect();
        v.sort();
        v
    };
    assert_eq!(
        names(a.search_files("report", None).await.unwrap()),
        ["Quarterly-Report.png", "report_secret.png"]
    );
    let b = app.api_as(&bob);
    assert_eq!(
        names(b.search_files("PORT", None).await.unwrap()),
        ["Quarterly-Report.png"],
        "parts of words; the private channel's file stays hidden"
    );
    let hit = b.search_files("quarter", None).await.unwrap();
    assert_eq!(hit.items[0].highlight, "<mark>Quarter</mark>ly-Report.png");
    assert_eq!(hit.items[0].uploader.username, "alice");
    assert_eq!(
        names(b.search_files("from:@alice", None).await.unwrap()),
        ["Quarterly-Report.png", "roadmap.png"]
    );
    assert!(
        b.search_files("from:@bob", None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        app.api_as(&owner)
            .search_files("secret", None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(b.search_files("100%", None).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn search_needs_a_token() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(format!("{}/api/v1/search/messages?q=x", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn with_many_readable_channels_private_ones_stay_hidden() {
    // Past a handful of channels the filter is checked per document (fast fields), not by
    // posting lists: the same rule must hold.
    let app = spawn_app().await;
    let (_, _, alice, bob) = app.team().await;
    for i in 0..12 {
        let c = app.channel(&alice, &format!("open-{i}"), false).await;
        app.send(&alice, &c, &format!("quince in open {i}")).await;
    }
    let secret = app.channel(&alice, "secret", true).await;
    let t = now();
    app.send(&alice, &secret, "quince in the secret").await;
    indexed(&app, t).await;
    let b = app.api_as(&bob);
    let hits = found(&b, "quince").await;
    assert_eq!(hits.len(), 12, "{hits:?}");
    assert!(hits.iter().all(|h| h.starts_with("quince in open")));
    assert_eq!(found(&app.api_as(&alice), "quince").await.len(), 13);
    assert_eq!(found(&b, "in:#open-3 quince").await, ["quince in open 3"]);
}
