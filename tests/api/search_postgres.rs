//! The PostgreSQL search backend's own behaviour (the shared search tests run on it too, with
//! `COLINK_TEST_SEARCH=postgres`): terms filled in on start for messages stored under another
//! backend, and made again when the analyzer changed. Needs PostgreSQL; on SQLite these tests
//! check only that the configuration is refused.

use std::time::Duration;

use colink::config::SearchBackend;
use sea_orm::ConnectionTrait;
use time::OffsetDateTime;

use crate::{
    helpers::{PASSWORD, TestApp, spawn_with, start},
    search::found,
};

fn postgres(config: &mut colink::config::Config) {
    config.search.backend = SearchBackend::Postgres;
}

async fn searchable(app: &TestApp) {
    tokio::time::timeout(
        Duration::from_secs(30),
        app.state.search.caught_up(OffsetDateTime::UNIX_EPOCH),
    )
    .await
    .expect("search is available within 30 s");
}

/// Stop `app` and start it again with `search.backend = "postgres"`.
async fn restart_with_postgres_search(app: TestApp) -> TestApp {
    let (mut config, dir) = app.stop().await;
    postgres(&mut config);
    let app = start(config, dir).await;
    searchable(&app).await;
    app
}

#[tokio::test]
async fn postgres_search_on_sqlite_is_a_configuration_error_naming_the_key() {
    let mut config = crate::helpers::test_config(std::path::Path::new("/tmp/unused"));
    postgres(&mut config);
    let error = config.validate().unwrap_err().to_string();
    assert!(error.contains("search.backend"), "{error}");
}

#[tokio::test]
async fn messages_stored_under_another_backend_are_found_once_postgres_takes_over() {
    if std::env::var("COLINK_TEST_DATABASE_URL").is_err() {
        return;
    }
    let app = spawn_with(|c| c.search.backend = SearchBackend::Tantivy).await;
    let (_, alice, bob, dev) = crate::search::posted(&app, &["kiwi pie", "kiwi jam"]).await;
    let fig = app.send(&alice, &dev, "a fig").await;
    let id = crate::helpers::uuid_of(fig["id"].as_str().unwrap());
    let t = colink::domain::clock::now();
    app.api_as(&alice)
        .edit_message(id, "a kiwi fig")
        .await
        .unwrap();
    app.state.search.caught_up(t).await;
    let tantivy = crate::search::sorted(found(&app.api_as(&bob), "kiwi").await);
    assert_eq!(tantivy.len(), 3);

    let app = restart_with_postgres_search(app).await;
    let bob = app.login("bob", PASSWORD).await;
    let bob = app.api_as(&bob);
    assert_eq!(crate::search::sorted(found(&bob, "kiwi").await), tantivy);
    assert!(found(&bob, "fig").await.len() == 1);

    // And back: an edit made under tantivy clears the terms, so they are never stale.
    let (mut config, dir) = app.stop().await;
    config.search.backend = SearchBackend::Tantivy;
    let app = start(config, dir).await;
    let alice = app.login("alice", PASSWORD).await;
    app.api_as(&alice)
        .edit_message(id, "a plain fig")
        .await
        .unwrap();
    let app = restart_with_postgres_search(app).await;
    let bob = app.login("bob", PASSWORD).await;
    assert_eq!(found(&app.api_as(&bob), "kiwi").await.len(), 2);
    assert_eq!(found(&app.api_as(&bob), "plain").await, ["a plain fig"]);
}

#[tokio::test]
async fn terms_of_another_analyzer_version_are_made_again_on_start() {
    if std::env::var("COLINK_TEST_DATABASE_URL").is_err() {
        return;
    }
    let app = spawn_with(postgres).await;
    let (_, _, bob, _) = crate::search::posted(&app, &["lemon curd", "lemon tart"]).await;
    let before = found(&app.api_as(&bob), "lemon").await;
    assert_eq!(before.len(), 2);
    // Terms as an older analyzer might have made them.
    for statement in [
        "UPDATE messages SET search_terms = '''stale'':1'",
        "UPDATE search_state SET version = 0",
    ] {
        app.state.db.execute_unprepared(statement).await.unwrap();
    }
    assert!(found(&app.api_as(&bob), "lemon").await.is_empty());

    let app = restart_with_postgres_search(app).await;
    let bob = app.login("bob", PASSWORD).await;
    assert_eq!(found(&app.api_as(&bob), "lemon").await, before);
    assert!(found(&app.api_as(&bob), "stale").await.is_empty());
}

#[tokio::test]
async fn terms_stored_without_pairs_are_made_again_and_phrases_are_found_by_their_pairs() {
    if std::env::var("COLINK_TEST_DATABASE_URL").is_err() {
        return;
    }
    let app = spawn_with(postgres).await;
    let texts = ["the release notes are out", "notes on the release"];
    let (_, _, bob, _) = crate::search::posted(&app, &texts).await;
    assert_eq!(
        found(&app.api_as(&bob), "\"release notes\"").await,
        [texts[0]]
    );
    // The terms as the first format stored them (version 1): positions, no pairs. A phrase is
    // asked for by its pairs, so it finds nothing until they are made again.
    for statement in [
        "UPDATE messages SET search_terms = (SELECT string_agg(quote_literal(lexeme) || ':' || \
         array_to_string(positions, ','), ' ') FROM unnest(search_vector) \
         WHERE positions IS NOT NULL)",
        "UPDATE search_state SET version = 1",
    ] {
        app.state.db.execute_unprepared(statement).await.unwrap();
    }
    assert!(
        found(&app.api_as(&bob), "\"release notes\"")
            .await
            .is_empty()
    );
    assert_eq!(found(&app.api_as(&bob), "release").await.len(), 2);

    let app = restart_with_postgres_search(app).await;
    let bob = app.login("bob", PASSWORD).await;
    assert_eq!(
        found(&app.api_as(&bob), "\"release notes\"").await,
        [texts[0]]
    );
    assert_eq!(
        found(&app.api_as(&bob), "\"notes on the release\"").await,
        [texts[1]]
    );
}

#[tokio::test]
async fn terms_are_kept_once_as_the_vector_and_an_edit_replaces_them() {
    if std::env::var("COLINK_TEST_DATABASE_URL").is_err() {
        return;
    }
    let app = spawn_with(postgres).await;
    let (_, alice, bob, dev) = crate::search::posted(&app, &["plum pie"]).await;
    let jam = app.send(&alice, &dev, "plum jam").await;
    let jam = crate::helpers::uuid_of(jam["id"].as_str().unwrap());
    // (live messages with their text still stored, live messages without a vector)
    let stored = || async {
        let row = app
            .state
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT count(*) FILTER (WHERE search_terms IS NOT NULL) AS text, \
                 count(*) FILTER (WHERE search_vector IS NULL) AS missing \
                 FROM messages WHERE deleted_at IS NULL",
            ))
            .await
            .unwrap()
            .unwrap();
        (
            row.try_get::<i64>("", "text").unwrap(),
            row.try_get::<i64>("", "missing").unwrap(),
        )
    };
    assert_eq!(stored().await, (0, 0));

    app.api_as(&alice)
        .edit_message(jam, "fig jam")
        .await
        .unwrap();
    assert_eq!(stored().await, (0, 0));
    assert_eq!(found(&app.api_as(&bob), "plum").await, ["plum pie"]);
    assert_eq!(found(&app.api_as(&bob), "fig").await, ["fig jam"]);
}

/// Run `sql` on the test's database.
async fn sql(app: &TestApp, sql: String) {
    app.state
        .db
        .execute_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            sql.clone(),
        ))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The first page for `q` as `who` sees it: contents, total, whether the total is capped.
async fn first_page(api: &colink_client::Client, q: &str) -> (Vec<String>, u64, bool) {
    let page = api
        .search_messages(&colink_client::MessageSearch::text(q))
        .await
        .unwrap_or_else(|e| panic!("search {q:?}: {e}"));
    let items = page.items.into_iter().map(|h| h.message.content).collect();
    (items, page.total, page.total_capped)
}

#[tokio::test]
async fn a_common_word_is_searched_in_a_time_window_and_everywhere_when_it_falls_short() {
    if std::env::var("COLINK_TEST_DATABASE_URL").is_err() {
        return;
    }
    let app = spawn_with(postgres).await;
    let (_, alice, bob, dev) = crate::search::posted(&app, &["kiwi first"]).await;
    // 3,000 older messages holding "kiwi", one a second (stored as the write path stores
    // them: the terms, which the trigger turns into the vector), then the statistics the
    // window is computed from: "kiwi" is in every message.
    sql(
        &app,
        format!(
            "INSERT INTO messages (id, channel_id, seq, user_id, content, created_at, search_terms) \
             SELECT gen_random_uuid(), '{dev}', \
             (SELECT last_seq FROM channels WHERE id = '{dev}') + i, '{alice}', 'kiwi ' || i, \
             now() - interval '1 day' + i * interval '1 second', \
             format('''kiwi'':1 ''%s'':2 ''kiwi %s''', i, i) \
             FROM generate_series(1, 3000) AS i",
            alice = alice.user_id
        ),
    )
    .await;
    sql(
        &app,
        format!("UPDATE channels SET last_seq = last_seq + 3000 WHERE id = '{dev}'"),
    )
    .await;
    sql(&app, "ANALYZE messages".into()).await;
    // The newest message is long: its vector is too large for the window's index of vectors
    // (migration 000018) and is found through the other part of the window.
    let long = std::iter::once("kiwi".to_string())
        .chain((0..300).map(|i| format!("word{i}")))
        .collect::<Vec<_>>()
        .join(" ");
    app.send(&alice, &dev, &long).await;
    let b = app.api_as(&bob);
    let newest: Vec<String> = [long.clone(), "kiwi first".to_string()]
        .into_iter()
        .chain((2981..=3000).rev().map(|i| format!("kiwi {i}")))
        .take(20)
        .collect();
    // The window (the newest two thirds) holds enough matches: it answers.
    assert_eq!(first_page(&b, "kiwi").await, (newest, 1000, true));

    // The newest half deleted: the statistics (kept for minutes) still call the word common,
    // but the window now holds ~500 live matches. The newest 1,001 matches lie partly
    // before it, so the search runs again without it: the count stays honest.
    sql(
        &app,
        format!(
            "UPDATE messages SET deleted_at = now() WHERE channel_id = '{dev}' \
             AND content ~ '^kiwi [0-9]+$' AND CAST(split_part(content, ' ', 2) AS int) > 1500"
        ),
    )
    .await;
    let newest: Vec<String> = [long, "kiwi first".to_string()]
        .into_iter()
        .chain((1481..=1500).rev().map(|i| format!("kiwi {i}")))
        .take(20)
        .collect();
    assert_eq!(first_page(&b, "kiwi").await, (newest, 1000, true));
    // Every page of the candidates, each message once.
    let all = crate::search::found(&b, "kiwi").await;
    assert_eq!(all.len(), 1000);
    let distinct: std::collections::HashSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), 1000);
}
