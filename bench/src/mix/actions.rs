//! Mattermost's action mix (its load-test "simulcontroller" weights) and the weighted choice.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Action {
    SwitchChannel,
    ScrollChannel,
    CreatePost,
    UnreadCheck,
    ViewGlobalThreads,
    AddReaction,
    SearchPosts,
}

/// Every action with its weight, in report order.
pub const WEIGHTS: [(Action, f64); 7] = [
    (Action::SwitchChannel, 6.52),
    (Action::ScrollChannel, 1.99),
    (Action::CreatePost, 1.0),
    (Action::UnreadCheck, 1.0),
    (Action::ViewGlobalThreads, 0.6),
    (Action::AddReaction, 0.13),
    (Action::SearchPosts, 0.02),
];

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::SwitchChannel => "SwitchChannel",
            Action::ScrollChannel => "ScrollChannel",
            Action::CreatePost => "CreatePost",
            Action::UnreadCheck => "UnreadCheck",
            Action::ViewGlobalThreads => "ViewGlobalThreads",
            Action::AddReaction => "AddReaction",
            Action::SearchPosts => "SearchPosts",
        }
    }

    fn index(self) -> usize {
        WEIGHTS.iter().position(|(a, _)| *a == self).unwrap_or(0)
    }
}

/// Which actions are enabled: one bit per action of [`WEIGHTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enabled(u8);

impl Enabled {
    pub const ALL: Enabled = Enabled((1 << WEIGHTS.len()) - 1);

    pub fn without(self, action: Action) -> Enabled {
        Enabled(self.0 & !(1 << action.index()))
    }

    pub fn has(self, action: Action) -> bool {
        self.0 & (1 << action.index()) != 0
    }
}

/// The action that `u` (uniform in [0, 1)) picks among the enabled ones, by weight; `None` when
/// none is enabled.
pub fn choose(enabled: Enabled, u: f64) -> Option<Action> {
    let total: f64 = WEIGHTS
        .iter()
        .filter(|(a, _)| enabled.has(*a))
        .map(|(_, w)| w)
        .sum();
    let mut left = u * total;
    let mut last = None;
    for &(action, weight) in WEIGHTS.iter().filter(|(a, _)| enabled.has(*a)) {
        if left < weight {
            return Some(action);
        }
        left -= weight;
        last = Some(action);
    }
    // Rounding at u → 1.
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mix::rng::Rng;

    fn shares(enabled: Enabled, n: usize) -> Vec<(Action, f64)> {
        let mut rng = Rng::new(42);
        let mut counts = [0usize; WEIGHTS.len()];
        for _ in 0..n {
            if let Some(a) = choose(enabled, rng.unit()) {
                counts[a.index()] += 1;
            }
        }
        WEIGHTS
            .iter()
            .zip(counts)
            .map(|((a, _), c)| (*a, c as f64 / n as f64))
            .collect()
    }

    #[test]
    fn actions_are_chosen_in_proportion_to_their_weights() {
        let total: f64 = WEIGHTS.iter().map(|(_, w)| w).sum();
        for (action, share) in shares(Enabled::ALL, 1_000_000) {
            let want = WEIGHTS[action.index()].1 / total;
            assert!(
                (share - want).abs() < 0.003 + want * 0.05,
                "{action:?}: {share} vs {want}"
            );
        }
    }

    #[test]
    fn disabled_actions_are_never_chosen_and_the_rest_renormalise() {
        let enabled = Enabled::ALL
            .without(Action::SearchPosts)
            .without(Action::ViewGlobalThreads);
        let got = shares(enabled, 200_000);
        let total = 6.52 + 1.99 + 1.0 + 1.0 + 0.13;
        for (action, share) in got {
            if matches!(action, Action::SearchPosts | Action::ViewGlobalThreads) {
                assert_eq!(share, 0.0);
            } else {
                let want = WEIGHTS[action.index()].1 / total;
                assert!((share - want).abs() < 0.005 + want * 0.05, "{action:?}");
            }
        }
    }

    #[test]
    fn the_edges_of_the_unit_interval_pick_the_first_and_last_enabled_action() {
        assert_eq!(choose(Enabled::ALL, 0.0), Some(Action::SwitchChannel));
        assert_eq!(
            choose(Enabled::ALL, 0.999_999_999),
            Some(Action::SearchPosts)
        );
        let none = WEIGHTS.iter().fold(Enabled::ALL, |e, (a, _)| e.without(*a));
        assert_eq!(choose(none, 0.5), None);
    }
}
