//! Search administration: `colink admin reindex`, and search turned off.

use crate::{
    helpers::{spawn_app, start},
    search::{found, posted},
};

#[tokio::test]
async fn admin_reindex_refuses_a_running_server_then_rebuilds_the_same_results() {
    use crate::cli::{colink, text};
    let app = spawn_app().await;
    let (_, _, bob, _) = posted(&app, &["pear tart", "pear jam", "plum"]).await;
    let before = found(&app.api_as(&bob), "pear").await;
    let dir = app.config.data_dir.to_str().unwrap().to_string();
    let db_url = app.config.database_url();
    let env = [
        ("COLINK_DATA_DIR", dir.as_str()),
        ("COLINK_DATABASE__URL", db_url.as_str()),
    ];
    if crate::helpers::postgres_search() {
        // PostgreSQL's terms are made again beside the running server.
        let env = [env[0], env[1], ("COLINK_SEARCH__BACKEND", "postgres")];
        let out = colink(&["admin", "reindex"], &env, None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("search terms made again: 3 messages"),
            "{}",
            text(&out.stdout)
        );
        assert!(text(&out.stderr).contains("100%  3/3 messages"));
        assert_eq!(found(&app.api_as(&bob), "pear").await, before);
        return;
    }
    let out = colink(&["admin", "reindex"], &env, None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("in use by a running server"),
        "{}",
        text(&out.stderr)
    );

    let (config, data) = app.stop().await;
    let out = colink(&["admin", "reindex"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("rebuilt: 3 messages"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("100%  3/3 messages"),
        "{}",
        text(&out.stderr)
    );

    let app = start(config, data).await;
    let bob = app.login("bob", crate::helpers::PASSWORD).await;
    assert_eq!(found(&app.api_as(&bob), "pear").await, before);
}

#[tokio::test]
async fn search_turned_off_answers_503_and_keeps_no_index() {
    let app = crate::helpers::spawn_with(|c| c.search.enabled = false).await;
    let (_, _, alice, bob) = app.team().await;
    let dev = app.channel(&alice, "dev", false).await;
    app.join(&bob, &dev).await;
    app.send(&bob, &dev, "nothing is indexed").await;
    let r = app
        .get("/search/messages?q=indexed", &bob.access)
        .await
        .problem(503, "search_unavailable");
    assert!(
        r["detail"]
            .as_str()
            .unwrap()
            .contains("search.enabled = false"),
        "{r}"
    );
    assert!(!app.config.search.index_dir(&app.config.data_dir).exists());
    let ready = app
        .client
        .get(format!("{}/ready", app.base))
        .send()
        .await
        .unwrap();
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["checks"]["search"]["status"], "off", "{ready}");
}
