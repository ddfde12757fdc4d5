//! One simulated user: a closed loop of Mattermost's actions with think time between them, over
//! the HTTP API, while its WebSocket connection (see [`super::step`]) receives.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use colink_client::{
    Error, History, MessageSearch, Method, NewMessage, PageQuery, StatusCode, Uuid,
};

use super::{
    accounts::Accounts,
    actions::{self, Action, Enabled},
    generate::EMOJIS,
    rng::Rng,
    tally::Tally,
};

pub const GET_LATEST: &str = "SwitchChannel: GET latest 30";
pub const POST_READ: &str = "SwitchChannel: POST read marker";
pub const GET_BEFORE: &str = "ScrollChannel: GET 30 before";
pub const POST_MESSAGE: &str = "CreatePost: POST message";
pub const POST_REPLY: &str = "CreatePost: POST thread reply";
pub const GET_CONVERSATIONS: &str = "UnreadCheck: GET /conversations";
pub const GET_THREADS: &str = "ViewGlobalThreads: GET /threads";
pub const POST_REACTION: &str = "AddReaction: POST reaction";
pub const GET_SEARCH: &str = "SearchPosts: GET /search/messages";

/// Share of CreatePost that reply in a thread of the loaded page.
const REPLY_SHARE: f64 = 0.1;
const PAGE: u32 = 30;

/// What every simulated user of a step shares.
pub struct Shared {
    pub accounts: Arc<Accounts>,
    pub channels: Arc<Vec<Uuid>>,
    pub memberships: Arc<Vec<Vec<u32>>>,
    pub think: ThinkTime,
    pub deadline: Instant,
    /// `GET /threads` answered 404: the server has no threads view yet.
    pub no_threads: AtomicBool,
    pub tag: String,
}

/// A user's pause between two actions: uniform in [min, 2 × mean − min), so its mean is `mean`
/// (Mattermost's simulcontroller `PickIdleTimeMs`).
#[derive(Clone, Copy, Debug)]
pub struct ThinkTime {
    pub min: Duration,
    pub mean: Duration,
}

impl ThinkTime {
    /// The pause for a uniform draw `unit` in [0, 1).
    pub fn draw(self, unit: f64) -> Duration {
        let spread = self.mean.saturating_sub(self.min) * 2;
        self.min + spread.mul_f64(unit)
    }
}

/// The channel on screen.
struct View {
    channel: Uuid,
    /// Oldest `seq` loaded (the next scroll reads before it).
    oldest: i64,
    /// Ids of the loaded messages (reaction targets, thread roots).
    ids: Vec<Uuid>,
}

pub struct VUser {
    pub id: usize,
    pub account: usize,
    rng: Rng,
    view: Option<View>,
    posts: u64,
}

impl VUser {
    pub fn new(id: usize, account: usize, seed: u64) -> VUser {
        VUser {
            id,
            account,
            rng: Rng::for_item(seed, 4, id as u64),
            view: None,
            posts: 0,
        }
    }

    /// Run until the deadline: a random start within one think time, then action, think, ….
    pub async fn run(mut self, s: Arc<Shared>) -> Tally {
        let mut t = Tally::default();
        let first_pause = s.think.mean.mul_f64(self.rng.unit());
        tokio::time::sleep_until(tokio::time::Instant::from_std(
            (Instant::now() + first_pause).min(s.deadline),
        ))
        .await;
        while Instant::now() < s.deadline {
            let action = match self.view {
                None => Action::SwitchChannel,
                Some(_) => self.pick(&s, &mut t),
            };
            t.action(action);
            self.perform(&s, action, &mut t).await;
            let pause = s.think.draw(self.rng.unit());
            let wake = (Instant::now() + pause).min(s.deadline);
            tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await;
        }
        t
    }

    /// Draw from the whole mix; an action the server cannot do is counted as skipped and the
    /// draw repeated among the others.
    fn pick(&mut self, s: &Shared, t: &mut Tally) -> Action {
        let mut enabled = Enabled::ALL;
        if s.no_threads.load(Ordering::Relaxed) {
            enabled = enabled.without(Action::ViewGlobalThreads);
        }
        let drawn = actions::choose(Enabled::ALL, self.rng.unit()).unwrap_or(Action::SwitchChannel);
        if enabled.has(drawn) {
            return drawn;
        }
        t.skip(drawn);
        actions::choose(enabled, self.rng.unit()).unwrap_or(Action::SwitchChannel)
    }

    async fn perform(&mut self, s: &Shared, action: Action, t: &mut Tally) {
        match action {
            Action::SwitchChannel => self.switch_channel(s, t).await,
            Action::ScrollChannel => self.scroll(s, t).await,
            Action::CreatePost => self.create_post(s, t).await,
            Action::UnreadCheck => {
                let client = s.accounts.client(self.account);
                let page = PageQuery {
                    cursor: None,
                    limit: Some(50),
                };
                timed(t, GET_CONVERSATIONS, client.conversations(&page)).await;
            }
            Action::ViewGlobalThreads => self.threads(s, t).await,
            Action::AddReaction => self.react(s, t).await,
            Action::SearchPosts => self.search(s, t).await,
        }
    }

    /// A search as people type them: a word of middling frequency, sometimes two, sometimes
    /// narrowed to the channel in view.
    async fn search(&mut self, s: &Shared, t: &mut Tally) {
        let client = s.accounts.client(self.account);
        let mut q = super::words::word(self.rng.between(50, 2_000));
        if self.rng.unit() < 0.3 {
            q = format!("{q} {}", super::words::word(self.rng.between(20, 500)));
        }
        if let Some(view) = &self.view
            && self.rng.unit() < 0.2
            && let Some(i) = s.channels.iter().position(|c| *c == view.channel)
        {
            q = format!("{q} in:#mix-{}", i + 1);
        }
        timed(
            t,
            GET_SEARCH,
            client.search_messages(&MessageSearch::text(q)),
        )
        .await;
    }

    /// Latest 30 messages of one of the user's channels, then the read marker at the newest.
    async fn switch_channel(&mut self, s: &Shared, t: &mut Tally) {
        let mine = &s.memberships[self.account];
        let channel = s.channels[mine[self.rng.below(mine.len())] as usize];
        let client = s.accounts.client(self.account);
        let latest = History {
            limit: Some(PAGE),
            ..History::default()
        };
        let Some(page) = timed(t, GET_LATEST, client.messages(channel, &latest)).await else {
            return;
        };
        let newest = page.items.first().map_or(0, |m| m.seq);
        self.view = Some(View {
            channel,
            oldest: page.items.last().map_or(0, |m| m.seq),
            ids: page.items.iter().map(|m| m.id).collect(),
        });
        if newest > 0 {
            timed(t, POST_READ, client.mark_read(channel, newest)).await;
        }
    }

    /// The page before the oldest loaded one (from the newest again once at the start).
    async fn scroll(&mut self, s: &Shared, t: &mut Tally) {
        let Some(view) = &self.view else { return };
        let client = s.accounts.client(self.account);
        let history = History {
            before: (view.oldest > 1).then_some(view.oldest),
            limit: Some(PAGE),
            ..History::default()
        };
        let channel = view.channel;
        if let Some(page) = timed(t, GET_BEFORE, client.messages(channel, &history)).await
            && let Some(view) = &mut self.view
        {
            view.oldest = page.items.last().map_or(0, |m| m.seq);
            view.ids = page.items.iter().map(|m| m.id).collect();
        }
    }

    async fn create_post(&mut self, s: &Shared, t: &mut Tally) {
        let Some(view) = &self.view else { return };
        let client = s.accounts.client(self.account);
        self.posts += 1;
        let client_id = format!("{}-v{}-{}", s.tag, self.id, self.posts);
        let content = format!(
            "mix post {} of simulated user {}: hello everyone, how is it going?",
            self.posts, self.id
        );
        let root = (self.rng.unit() < REPLY_SHARE && !view.ids.is_empty())
            .then(|| view.ids[self.rng.below(view.ids.len())]);
        if let Some(root) = root {
            timed(
                t,
                POST_REPLY,
                client.reply(root, &content, Some(&client_id)),
            )
            .await;
            return;
        }
        let msg = NewMessage {
            content: &content,
            client_id: Some(&client_id),
            thread_root_id: None,
            file_ids: &[],
        };
        let url = client.messages_url(view.channel);
        timed(t, POST_MESSAGE, client.post_message(&url, &msg)).await;
    }

    /// `GET /threads`; a 404 means the server has no such route yet: skipped from then on.
    async fn threads(&mut self, s: &Shared, t: &mut Tally) {
        let client = s.accounts.client(self.account);
        let started = Instant::now();
        let answer = client.raw(Method::GET, "/threads?limit=25", None).await;
        let micros = elapsed_us(started);
        match answer {
            Ok(r) if r.status.is_success() => t.ok(GET_THREADS, micros),
            Ok(r) if r.status == StatusCode::NOT_FOUND => {
                s.no_threads.store(true, Ordering::Relaxed);
                t.skip(Action::ViewGlobalThreads);
            }
            Ok(r) => {
                let e = Error::Api(Box::new(colink_client::ApiError::new(
                    Method::GET,
                    "/api/v1/threads".into(),
                    r.status,
                    &r.headers,
                    &r.body,
                )));
                t.error(GET_THREADS, &e);
            }
            Err(e) => t.error(GET_THREADS, &e),
        }
    }

    /// A reaction on a loaded message; 409 (already reacted with that emoji) is no error.
    async fn react(&mut self, s: &Shared, t: &mut Tally) {
        let Some(view) = &self.view else { return };
        if view.ids.is_empty() {
            t.skip(Action::AddReaction);
            return;
        }
        let message = view.ids[self.rng.below(view.ids.len())];
        let emoji = EMOJIS[self.rng.below(EMOJIS.len())];
        let client = s.accounts.client(self.account);
        let started = Instant::now();
        match client.react(message, emoji).await {
            Ok(_) => t.ok(POST_REACTION, elapsed_us(started)),
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => {
                t.conflict(POST_REACTION, elapsed_us(started));
            }
            Err(e) => t.error(POST_REACTION, &e),
        }
    }
}

fn elapsed_us(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Time one request: its latency when it succeeded, its error otherwise.
async fn timed<T>(
    t: &mut Tally,
    label: &'static str,
    request: impl Future<Output = Result<T, Error>>,
) -> Option<T> {
    let started = Instant::now();
    let answer = request.await;
    let micros = elapsed_us(started);
    match answer {
        Ok(v) => {
            t.ok(label, micros);
            Some(v)
        }
        Err(e) => {
            t.error(label, &e);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn think_time_spans_min_to_twice_the_mean_less_min() {
        let t = ThinkTime {
            min: Duration::from_millis(1000),
            mean: Duration::from_millis(5000),
        };
        assert_eq!(t.draw(0.0), Duration::from_millis(1000));
        assert_eq!(t.draw(0.5), Duration::from_millis(5000));
        assert_eq!(t.draw(0.999_999).as_millis(), 8999);
        let fixed = ThinkTime {
            min: Duration::from_millis(700),
            mean: Duration::from_millis(700),
        };
        assert_eq!(fixed.draw(0.9), Duration::from_millis(700));
    }
}
