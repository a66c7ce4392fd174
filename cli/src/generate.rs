//! Seeded synthetic journey data in ChannelAttribution format, for the
//! comparison tests and the benchmark (no real data set may be fetched here).
//!
//! Journeys walk over channels with Zipf-like popularity and a 25% chance of
//! repeating the current channel (so repeats and `a > b > a` loops occur, as
//! in real click streams); lengths are geometric with a cap. Each distinct
//! path gets a journey count, a conversion probability driven by per-channel
//! effects, integer conversions and nulls (ChannelAttribution needs integer
//! counts) and a value from per-channel basket sizes.

use std::collections::HashSet;
use std::fmt::Write as _;

use attrib_models::datadriven::rng::Xoshiro256StarStar;

#[derive(Debug, Clone)]
pub struct GenerateSpec {
    pub distinct_paths: usize,
    pub channels: usize,
    pub max_length: usize,
    pub seed: u64,
}

/// Channel names `c01`, `c02`, ...: fixed width so they sort naturally.
fn channel_name(index: usize) -> String {
    format!("c{:02}", index + 1)
}

struct Profile {
    popularity_cdf: Vec<f64>,
    conversion_effect: Vec<f64>,
    basket_size: Vec<f64>,
}

impl Profile {
    fn new(channels: usize, rng: &mut Xoshiro256StarStar) -> Self {
        let weights: Vec<f64> = (0..channels)
            .map(|i| (0.5 + rng.next_f64()) / (i as f64 + 1.0).powf(0.8))
            .collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let popularity_cdf = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        Self {
            popularity_cdf,
            conversion_effect: (0..channels).map(|_| rng.next_f64() * 1.6 - 0.6).collect(),
            basket_size: (0..channels)
                .map(|_| 20.0 + rng.next_f64() * 180.0)
                .collect(),
        }
    }

    fn pick(&self, rng: &mut Xoshiro256StarStar) -> usize {
        let u = rng.next_f64();
        self.popularity_cdf
            .iter()
            .position(|&c| u < c)
            .unwrap_or(self.popularity_cdf.len() - 1)
    }
}

/// Writes the CSV text for `spec`. Returns the text and the number of
/// distinct paths actually produced (fewer than asked only when the channel
/// count and length cap cannot yield that many).
pub fn generate_csv(spec: &GenerateSpec) -> (String, usize) {
    let channels = spec.channels.max(1);
    let max_length = spec.max_length.max(1);
    let mut rng = Xoshiro256StarStar::seed_from_u64(spec.seed);
    let profile = Profile::new(channels, &mut rng);
    let names: Vec<String> = (0..channels).map(channel_name).collect();
    let mut seen: HashSet<Vec<u8>> = HashSet::with_capacity(spec.distinct_paths);
    let mut out = String::with_capacity(spec.distinct_paths * 48);
    out.push_str("path,total_conversions,total_null,total_conversion_value\n");
    let max_attempts = spec.distinct_paths.saturating_mul(60).max(1000);
    let mut path: Vec<u8> = Vec::with_capacity(max_length);
    for _ in 0..max_attempts {
        if seen.len() >= spec.distinct_paths {
            break;
        }
        path.clear();
        let mut current = profile.pick(&mut rng);
        path.push(current as u8);
        while path.len() < max_length && rng.next_f64() < 0.72 {
            if rng.next_f64() >= 0.25 {
                current = profile.pick(&mut rng);
            }
            path.push(current as u8);
        }
        if !seen.insert(path.clone()) {
            continue;
        }
        write_row(&mut out, &path, &names, &profile, &mut rng);
    }
    (out, seen.len())
}

fn write_row(
    out: &mut String,
    path: &[u8],
    names: &[String],
    profile: &Profile,
    rng: &mut Xoshiro256StarStar,
) {
    let journeys = 1 + (-(1.0 - rng.next_f64()).ln() * 3.0) as u64;
    let mut distinct: Vec<u8> = path.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let logit: f64 = -2.2
        + distinct
            .iter()
            .map(|&c| profile.conversion_effect[c as usize])
            .sum::<f64>();
    let p = 1.0 / (1.0 + (-logit).exp());
    let conversions = (0..journeys).filter(|_| rng.next_f64() < p).count() as u64;
    let nulls = journeys - conversions;
    let basket = profile.basket_size[*path.last().unwrap_or(&0) as usize];
    let value = conversions as f64 * basket * (0.5 + rng.next_f64());
    for (i, &c) in path.iter().enumerate() {
        if i > 0 {
            out.push_str(" > ");
        }
        out.push_str(&names[c as usize]);
    }
    let _ = writeln!(out, ",{conversions},{nulls},{value:.2}");
}
