//! The simulator's one source of randomness: a pinned algorithm and per-entity streams.
//!
//! [`Prng`] is xoshiro256++ (Blackman and Vigna, 2019), `rand_xoshiro`'s `Xoshiro256PlusPlus`,
//! pinned to one exact version in `Cargo.toml`; the known-answer tests below fail if a version
//! ever draws differently. Each entity draws from its own stream, [`Prng::stream`]`(seed, id)`,
//! seeded by mixing the run's seed with the entity's id through SplitMix64 (our own derivation,
//! not the crate's `seed_from_u64`): adding a merchant does not change another merchant's draws,
//! and a run is a pure function of (scenario, seed, commit). `Prng` is a `rand_core` generator,
//! so `rand_distr`'s distributions draw from it.
//!
//! Floating point appears only here and in distributions, to shape delays; every draw that leaves
//! this module as time is an integer number of nanoseconds.

/// SplitMix64's step: the standard way to expand one 64-bit seed into a xoshiro state.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

use rand_distr::{Distribution, Exp1, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng, TryRng};

/// xoshiro256++: 256 bits of state, period 2^256 − 1, passes BigCrush.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prng {
    inner: Xoshiro256PlusPlus,
}

impl Prng {
    /// The stream for entity `id` in a run seeded with `seed`.
    pub fn stream(seed: u64, id: u64) -> Prng {
        let mut mix = seed;
        let a = splitmix64(&mut mix);
        let mut mix = id ^ a.rotate_left(17);
        let mut state = splitmix64(&mut mix) ^ a;
        let s = [
            splitmix64(&mut state),
            splitmix64(&mut state),
            splitmix64(&mut state),
            splitmix64(&mut state),
        ];
        assert!(s != [0; 4], "xoshiro's state is never all zero");
        Prng::from_state(s)
    }

    /// The generator in exactly this state (the words little-endian, as the crate reads them).
    fn from_state(s: [u64; 4]) -> Prng {
        let mut seed = [0u8; 32];
        for (chunk, word) in seed.chunks_exact_mut(8).zip(s) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        Prng { inner: Xoshiro256PlusPlus::from_seed(seed) }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// A uniform draw in `[0, 1)` with 53 bits of precision.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `0..n` (Lemire's multiply-shift, without bias).
    ///
    /// # Panics
    /// If `n` is zero.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0) has no value");
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            let low = m as u64;
            if low >= n.wrapping_neg() % n {
                return (m >> 64) as u64;
            }
        }
    }

    /// True with probability `ppm / 1 000 000` (parts per million). A rate of zero draws
    /// nothing, so classes a scenario leaves at 0 do not move the stream.
    pub fn chance_ppm(&mut self, ppm: u32) -> bool {
        ppm > 0 && self.below(1_000_000) < u64::from(ppm)
    }

    /// An exponential delay with mean `mean_ns` nanoseconds, rounded to whole nanoseconds
    /// (`rand_distr`'s Ziggurat `Exp1`, scaled).
    pub fn exponential_ns(&mut self, mean_ns: f64) -> u64 {
        let draw: f64 = Exp1.sample(self);
        (draw * mean_ns).round() as u64
    }

    /// A standard normal draw (`rand_distr`'s Ziggurat `StandardNormal`).
    pub fn standard_normal(&mut self) -> f64 {
        StandardNormal.sample(self)
    }
}

/// `Prng` as a `rand_core` generator: what `rand_distr`'s distributions draw from.
impl TryRng for Prng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.inner.try_next_u32()
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.inner.try_next_u64()
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.inner.try_fill_bytes(dst)
    }
}

#[cfg(test)]
mod tests {
    //! Goal: the generator is the published xoshiro256++, streams are independent and stable,
    //! and the helpers draw what they say. Method: a known-answer test, and moment checks.

    use super::*;

    #[test]
    fn xoshiro256pp_known_answer() {
        // State [1, 2, 3, 4]: the first outputs of the reference C implementation.
        let mut p = Prng::from_state([1, 2, 3, 4]);
        let first: Vec<u64> = (0..4).map(|_| p.next_u64()).collect();
        assert_eq!(
            first,
            vec![41_943_041, 58_720_359, 3_588_806_011_781_223, 3_591_011_842_654_386]
        );
    }

    #[test]
    fn streams_are_stable_and_distinct() {
        let draws = |seed, id| {
            let mut p = Prng::stream(seed, id);
            (0..4).map(|_| p.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draws(42, 7), draws(42, 7), "a stream is a pure function of (seed, id)");
        assert_ne!(draws(42, 7), draws(42, 8));
        assert_ne!(draws(42, 7), draws(43, 7));
        assert_ne!(draws(0, 0), draws(0, 1));
        // Pinned (computed independently in Python from the same definitions): these values
        // change only if the algorithm or the stream seeding changes, which changes every run.
        let mut p = Prng::stream(42, 0);
        assert_eq!(
            [p.next_u64(), p.next_u64()],
            [8_080_656_060_738_818_566, 15_712_854_000_370_566_546]
        );
        assert_eq!(Prng::stream(42, 7).next_u64(), 7_014_706_374_846_832_643);
    }

    #[test]
    fn rand_distr_draws_are_frozen() {
        // Pinned: rand_distr's Ziggurat normal and exponential and its Zipf, drawn from one
        // stream in this order. A version of rand_distr (or rand, or rand_xoshiro) that draws
        // differently changes every run; this test fails first, and the upgrade is then a
        // deliberate commit with re-blessed goldens.
        let mut p = Prng::stream(42, 0);
        let normal: Vec<f64> = (0..4).map(|_| p.standard_normal()).collect();
        let expected = [
            13_823_925_677_424_652_143,
            4_607_139_204_924_250_722,
            4_604_511_462_299_825_882,
            4_610_833_302_391_590_849,
        ]
        .map(f64::from_bits);
        assert_eq!(normal, expected);
        let exp: Vec<u64> = (0..4).map(|_| p.exponential_ns(1e6)).collect();
        assert_eq!(exp, [3_384_450, 731_756, 597_659, 469_257]);
        let zipf = rand_distr::Zipf::new(1000.0, 1.0).expect("valid");
        let ranks: Vec<u64> = (0..6).map(|_| zipf.sample(&mut p) as u64).collect();
        assert_eq!(ranks, [119, 17, 2, 7, 1, 2]);
    }

    #[test]
    fn helpers_draw_what_they_say() {
        let mut p = Prng::stream(1, 1);
        let n = 200_000;
        let mean = (0..n).map(|_| p.exponential_ns(1_000_000.0) as f64).sum::<f64>() / n as f64;
        assert!((mean / 1_000_000.0 - 1.0).abs() < 0.01, "exponential mean {mean}");
        let mut counts = [0u32; 7];
        for _ in 0..70_000 {
            counts[p.below(7) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (9_500..10_500).contains(&c)), "{counts:?}");
        let z: Vec<f64> = (0..n).map(|_| p.standard_normal()).collect();
        let z_mean = z.iter().sum::<f64>() / n as f64;
        let z_var = z.iter().map(|x| (x - z_mean).powi(2)).sum::<f64>() / n as f64;
        assert!(z_mean.abs() < 0.01 && (z_var - 1.0).abs() < 0.01, "normal {z_mean} {z_var}");
        let hits = (0..100_000).filter(|_| p.chance_ppm(25_000)).count();
        assert!((2_300..2_700).contains(&hits), "2.5 % of 100 000: {hits}");
        assert!((0..1000).all(|_| (0.0..1.0).contains(&p.unit())));
    }
}
