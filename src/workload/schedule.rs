//! Time change for a rate schedule: an arrival process runs at unit rate in
//! "operational time" `u`, and the arrival happens at the real time `t` where
//! the cumulative rate reaches it, `arrival_rate * S(t) = u` with
//! `S(t) = integral of the schedule's rate from 0 to t`.
//!
//! This is exact for every open-loop pattern (a Poisson process stays
//! Poisson with the scheduled intensity; a renewal process keeps its gap
//! distribution in operational time), and the operational times do not
//! depend on `arrival_rate`, so changing it only moves where each request
//! lands (common random numbers).

use crate::config::RateSchedule;
use std::f64::consts::TAU;

/// Maps operational (unit-rate) time to real time for one schedule.
#[derive(Debug, Clone)]
pub(crate) struct RateClock {
    shape: Shape,
    /// `arrival_rate`: multiplies the schedule.
    scale: f64,
    /// The last time returned: arrivals never go back in time, whatever the
    /// rounding of the inversion.
    last: f64,
}

#[derive(Debug, Clone)]
enum Shape {
    Piecewise {
        /// `(start_secs, end_secs, rate, S(start_secs))` of each piece.
        pieces: Vec<(f64, f64, f64, f64)>,
        /// The piece the last arrival fell in (arrivals come in time order).
        cursor: usize,
    },
    Sine {
        mean: f64,
        amplitude: f64,
        /// Angular frequency `2 pi / period_secs`.
        omega: f64,
        phase_secs: f64,
    },
}

impl RateClock {
    /// The clock of `schedule` scaled by `arrival_rate`.
    pub fn new(schedule: &RateSchedule, arrival_rate: f64) -> Self {
        let shape = match *schedule {
            RateSchedule::Piecewise { ref pieces } => {
                let mut start = 0.0;
                let mut cumulative = 0.0;
                let pieces = pieces
                    .iter()
                    .map(|p| {
                        let piece = (start, p.until_secs, p.rate, cumulative);
                        cumulative += p.rate * (p.until_secs - start);
                        start = p.until_secs;
                        piece
                    })
                    .collect();
                Shape::Piecewise { pieces, cursor: 0 }
            }
            RateSchedule::Sine {
                mean,
                amplitude,
                period_secs,
                phase_secs,
            } => Shape::Sine {
                mean,
                amplitude,
                omega: TAU / period_secs,
                phase_secs,
            },
        };
        Self {
            shape,
            scale: arrival_rate,
            last: 0.0,
        }
    }

    /// The schedule's rate at `t` (before `arrival_rate`).
    #[cfg(test)]
    pub fn rate_at(&self, t: f64) -> f64 {
        match &self.shape {
            Shape::Piecewise { pieces, .. } => pieces.iter().find(|p| t < p.1).map_or(0.0, |p| p.2),
            Shape::Sine {
                mean,
                amplitude,
                omega,
                phase_secs,
            } => mean + amplitude * libm::sin(omega * (t + phase_secs)),
        }
    }

    /// `S(t)`: the schedule's rate integrated from 0 to `t` (before `arrival_rate`).
    #[cfg(test)]
    pub fn cumulative(&self, t: f64) -> f64 {
        match &self.shape {
            Shape::Piecewise { pieces, .. } => pieces
                .iter()
                .find(|p| t < p.1)
                .or(pieces.last())
                .map_or(0.0, |&(start, end, rate, before)| {
                    before + rate * (t.min(end) - start)
                }),
            Shape::Sine {
                mean,
                amplitude,
                omega,
                phase_secs,
            } => sine_cumulative(*mean, *amplitude, *omega, *phase_secs, t),
        }
    }

    /// The real time of operational time `u` (arrivals in order of `u`), or
    /// `None` once the schedule has ended.
    pub fn time_of(&mut self, u: f64) -> Option<f64> {
        let v = u / self.scale;
        let t = match &mut self.shape {
            Shape::Piecewise { pieces, cursor } => {
                // The first piece with a positive rate whose end the
                // cumulative rate has not passed yet.
                let i = (*cursor..pieces.len()).find(|&i| {
                    pieces[i].2 > 0.0
                        && v <= pieces[i].3 + pieces[i].2 * (pieces[i].1 - pieces[i].0)
                })?;
                *cursor = i;
                let (start, end, rate, before) = pieces[i];
                (start + (v - before).max(0.0) / rate).min(end)
            }
            Shape::Sine {
                mean,
                amplitude,
                omega,
                phase_secs,
            } => invert_sine(*mean, *amplitude, *omega, *phase_secs, v, self.last),
        };
        self.last = self.last.max(t);
        Some(self.last)
    }
}

/// `S(t)` of `mean + amplitude sin(omega (t + phase))`.
fn sine_cumulative(mean: f64, amplitude: f64, omega: f64, phase: f64, t: f64) -> f64 {
    mean * t + amplitude / omega * (libm::cos(omega * phase) - libm::cos(omega * (t + phase)))
}

/// The `t >= from` with `S(t) = v`: Newton steps kept inside a shrinking
/// bracket, falling back to bisection where the rate is near 0.
fn invert_sine(mean: f64, amplitude: f64, omega: f64, phase: f64, v: f64, from: f64) -> f64 {
    // The cosine term is within +-2 amplitude / omega, which brackets t.
    let swing = 2.0 * amplitude / omega;
    let mut lo = from.max((v - swing) / mean).max(0.0);
    let mut hi = ((v + swing) / mean).max(lo);
    let mut t = (v / mean).clamp(lo, hi);
    for _ in 0..200 {
        let f = sine_cumulative(mean, amplitude, omega, phase, t) - v;
        if f == 0.0 {
            return t;
        }
        if f < 0.0 {
            lo = t;
        } else {
            hi = t;
        }
        if hi - lo <= f64::EPSILON * hi.max(1.0) {
            break;
        }
        let rate = mean + amplitude * libm::sin(omega * (t + phase));
        let newton = t - f / rate;
        t = if rate > 0.0 && newton > lo && newton < hi {
            newton
        } else {
            0.5 * (lo + hi)
        };
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RatePiece;

    fn piecewise(levels: &[(f64, f64)]) -> RateSchedule {
        RateSchedule::Piecewise {
            pieces: levels
                .iter()
                .map(|&(until_secs, rate)| RatePiece { until_secs, rate })
                .collect(),
        }
    }

    #[test]
    fn piecewise_fixed_steps_land_where_the_integral_says() {
        // 2/s for 10 s, a pause, then 4/s: unit steps at u = 0, 1, 2, ...
        let mut c = RateClock::new(&piecewise(&[(10.0, 2.0), (15.0, 0.0), (20.0, 4.0)]), 1.0);
        let t: Vec<f64> = (0..=40).map_while(|k| c.time_of(k as f64)).collect();
        assert_eq!(t.len(), 41);
        assert_eq!(&t[..3], &[0.0, 0.5, 1.0]);
        assert_eq!(t[20], 10.0);
        // After the pause: u = 21 is a quarter second into the third piece.
        assert_eq!(t[21], 15.25);
        assert_eq!(t[40], 20.0);
        assert_eq!(c.time_of(40.5), None, "the schedule ended");
    }

    #[test]
    fn arrival_rate_scales_the_schedule() {
        let s = piecewise(&[(10.0, 2.0), (20.0, 4.0)]);
        let mut c = RateClock::new(&s, 3.0);
        // 3 x 2/s: u = 6 at t = 1.
        assert_eq!(c.time_of(6.0), Some(1.0));
        assert_eq!(c.cumulative(12.5), 30.0);
    }

    #[test]
    fn a_schedule_that_starts_paused_starts_when_the_rate_does() {
        let mut c = RateClock::new(&piecewise(&[(5.0, 0.0), (10.0, 1.0)]), 1.0);
        assert_eq!(c.time_of(0.0), Some(5.0));
        assert_eq!(c.time_of(1.0), Some(6.0));
    }

    #[test]
    fn sine_inversion_is_exact() {
        let s = RateSchedule::Sine {
            mean: 3.0,
            amplitude: 3.0,
            period_secs: 100.0,
            phase_secs: 10.0,
        };
        let mut c = RateClock::new(&s, 2.0);
        let mut last = 0.0;
        for k in 0..3000 {
            let u = k as f64 * 0.37;
            let t = c.time_of(u).unwrap();
            assert!(t >= last);
            last = t;
            assert!(
                (2.0 * c.cumulative(t) - u).abs() < 1e-9 * u.max(1.0),
                "u {u}: t {t}"
            );
        }
        assert_eq!(c.rate_at(15.0), 3.0 + 3.0 * libm::sin(TAU * 0.25));
    }
}
