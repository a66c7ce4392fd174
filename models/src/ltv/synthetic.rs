//! Customers drawn from known BG/NBD and Gamma-Gamma parameters with a seeded PRNG, as the
//! models assume them: a Poisson purchase rate λ ~ Gamma(r, α), a drop-out probability
//! p ~ Beta(a, b) tried after each repeat purchase, and purchase values Gamma(p, ν) with
//! ν ~ Gamma(q, γ). For parameter-recovery tests and benches.

use crate::datadriven::rng::Xoshiro256StarStar;

use super::{BgNbdParams, Customer, GammaGammaParams};

/// `count` customers with ages uniform in `[min_age, max_age]`.
pub fn customers(
    bgnbd: &BgNbdParams,
    spend: Option<&GammaGammaParams>,
    count: usize,
    (min_age, max_age): (f64, f64),
    seed: u64,
) -> Vec<Customer> {
    let mut rng = Xoshiro256StarStar::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let age = min_age + (max_age - min_age) * rng.next_f64();
            let rate = gamma(&mut rng, bgnbd.r) / bgnbd.alpha;
            let x_a = gamma(&mut rng, bgnbd.a);
            let x_b = gamma(&mut rng, bgnbd.b);
            let dropout = if x_a + x_b > 0.0 {
                x_a / (x_a + x_b)
            } else {
                0.5
            };
            let (mut frequency, mut recency, mut t) = (0u32, 0.0, 0.0);
            if rate > 0.0 {
                loop {
                    t += -(1.0 - rng.next_f64()).ln() / rate;
                    if t > age {
                        break;
                    }
                    frequency += 1;
                    recency = t;
                    if rng.next_f64() < dropout {
                        break;
                    }
                }
            }
            let monetary_value = spend.map(|gg| {
                if frequency == 0 {
                    return 0.0;
                }
                let nu = gamma(&mut rng, gg.q) / gg.v;
                let x = f64::from(frequency);
                // The sum of x Gamma(p, ν) values is Gamma(px, ν).
                (gamma(&mut rng, gg.p * x) / nu / x).max(f64::MIN_POSITIVE)
            });
            Customer {
                frequency,
                recency,
                age,
                monetary_value,
            }
        })
        .collect()
}

fn standard_normal(rng: &mut Xoshiro256StarStar) -> f64 {
    let u1 = 1.0 - rng.next_f64();
    let u2 = rng.next_f64();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Gamma(shape, 1) by Marsaglia & Tsang (2000), boosted for shape < 1.
fn gamma(rng: &mut Xoshiro256StarStar, shape: f64) -> f64 {
    if shape < 1.0 {
        let u = 1.0 - rng.next_f64();
        return gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let z = standard_normal(rng);
        let v = (1.0 + c * z).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = 1.0 - rng.next_f64();
        if u.ln() < 0.5 * z * z + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}
