//! Driving the server in bulk: requests sent all at once, and seeded random sequences of
//! operations that replay the same on every run.

use serde_json::Value;

/// Send `n` requests at the same time; the status and JSON body (Null when none) of each, in
/// request order.
pub async fn concurrently(
    n: usize,
    request: impl Fn(usize) -> reqwest::RequestBuilder,
) -> Vec<(u16, Value)> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let req = request(i);
            tokio::spawn(async move {
                let r = req.send().await.expect("request");
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                (status, serde_json::from_str(&text).unwrap_or(Value::Null))
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.expect("request task"));
    }
    out
}

/// A small deterministic generator (the test must replay the same sequence on every run).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
