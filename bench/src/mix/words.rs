//! The dataset's words: a synthetic vocabulary whose word frequencies follow Zipf's law (as in
//! natural language: the word of rank r is used about 1/r^1.07 as often as the most common), so
//! search sees realistic posting-list lengths, from words in most messages to words in a few.

use super::rng::Rng;

/// Distinct words.
pub const VOCABULARY: usize = 8_000;
const ZIPF_EXPONENT: f64 = 1.07;
const SYLLABLES: [&str; 24] = [
    "ka", "lo", "mi", "nu", "re", "sa", "to", "vi", "ze", "po", "da", "fu", "gi", "ho", "ja", "ku",
    "le", "mo", "ni", "pa", "ri", "so", "ta", "wu",
];

/// The word of rank `r` (0 is the most common): two or three syllables, unique per rank.
pub fn word(r: usize) -> String {
    let n = SYLLABLES.len();
    let mut out = String::new();
    let (mut rest, syllables) = if r < n * n { (r, 2) } else { (r - n * n, 3) };
    for _ in 0..syllables {
        out.push_str(SYLLABLES[rest % n]);
        rest /= n;
    }
    // Ranks past the three-syllable space get a distinguishing suffix.
    if rest > 0 {
        out.push_str(&rest.to_string());
    }
    out
}

/// Samples ranks by Zipf's law.
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Default for Zipf {
    fn default() -> Self {
        let mut total = 0.0;
        let cumulative = (1..=VOCABULARY)
            .map(|r| {
                total += 1.0 / (r as f64).powf(ZIPF_EXPONENT);
                total
            })
            .collect();
        Self { cumulative }
    }
}

impl Zipf {
    pub fn rank(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let u = rng.unit() * total;
        self.cumulative
            .partition_point(|&c| c < u)
            .min(VOCABULARY - 1)
    }

    /// A message of 4–20 words.
    pub fn sentence(&self, rng: &mut Rng) -> String {
        let n = rng.between(4, 20);
        (0..n)
            .map(|_| word(self.rank(rng)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_distinct_and_common_ones_dominate() {
        let all: std::collections::BTreeSet<String> = (0..VOCABULARY).map(word).collect();
        assert_eq!(all.len(), VOCABULARY);
        let zipf = Zipf::default();
        let mut rng = Rng::new(7);
        let top = (0..10_000).filter(|_| zipf.rank(&mut rng) < 10).count();
        assert!(
            (2_500..4_500).contains(&top),
            "{top} of 10,000 in the top 10 ranks"
        );
    }
}
