//! Search at volume: counting stops at 1,000 matches and says so (`total_capped`).

use colink_client::{MessageSearch, NewMessage};
use time::OffsetDateTime;

use crate::{
    helpers::{spawn_app, uuid_of},
    search::{indexed, posted},
};

#[tokio::test]
async fn counts_stop_at_a_thousand_and_say_there_are_more() {
    use futures_util::{StreamExt, stream};
    let app = spawn_app().await;
    let (_, alice, bob, dev) = posted(&app, &["a fig to start"]).await;
    let a = app.api_as(&alice);
    let channel = uuid_of(&dev);
    let newest = stream::iter(0..1_000)
        .map(|i| {
            let a = a.clone();
            async move {
                a.send_message(channel, &NewMessage::new(&format!("fig number {i}")))
                    .await
                    .unwrap()
                    .created_at
            }
        })
        .buffer_unordered(16)
        .fold(OffsetDateTime::UNIX_EPOCH, |newest, t| async move {
            newest.max(t)
        })
        .await;
    indexed(&app, newest).await;
    let b = app.api_as(&bob);
    let many = b
        .search_messages(&MessageSearch::text("fig"))
        .await
        .unwrap();
    assert_eq!((many.total, many.total_capped), (1_000, true));
    assert_eq!(many.items.len(), 20);
    let one = b
        .search_messages(&MessageSearch::text("fig start"))
        .await
        .unwrap();
    assert_eq!((one.total, one.total_capped), (1, false));
}
